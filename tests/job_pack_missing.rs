#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! job-pack on projects as they are found: raw data that is not there (dangling links), active
//! jobs, earlier exports, exports whose data or job document is incomplete, workspaces, and
//! imports that keep one copy of their data.

mod common;

use common::{arg, json_lines, project_tree, refused, run, sh, stderr, stdout, tree_snapshot};
use std::path::{Path, PathBuf};

/// The fixture's one dangling link: a movie of J1 whose file in raw/ is gone.
const GONE_MOVIE: &str =
    "J1/imported/009412124076831753401_14sep05c_00024sq_00006hl_00003es.frames.tif";
const GONE_TARGET: &str = "../../../raw/movies/14sep05c_00024sq_00006hl_00003es.frames.tif";

/// Names of the entries of a folder, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `tar -tvf` lines of an archive (GNU tar's own listing).
fn tar_lines(archive: &Path) -> Vec<String> {
    let o = sh(&format!("tar -tvf {}", arg(archive)));
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).lines().map(str::to_string).collect()
}

#[test]
fn export_of_a_job_with_a_dangling_link_warns_with_the_path_and_exports_the_rest() {
    let (_keep, project) = project_tree();
    let o = run("job-pack", &["export", &arg(&project.join("J1"))], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e = stderr(&o);
    let gone = arg(&project.canonicalize().unwrap().join(GONE_MOVIE));
    assert_eq!(
        e,
        format!(
            "job-pack: warning: {gone} -> {GONE_TARGET}: the link's target is missing; not exported\n"
        )
    );
    // The other five movies (and the gain reference) are linked, the gone one is not, and its
    // path is kept as it was.
    let export = project.join("exports/jobs/P3_J1_import_movies/P3_J1_imported_movies");
    let movies: Vec<String> = names(&export.join("J1/imported"))
        .into_iter()
        .filter(|m| m.ends_with(".frames.tif"))
        .collect();
    assert_eq!(movies.len(), 5, "{movies:?}");
    assert!(!movies.iter().any(|m| GONE_MOVIE.ends_with(m.as_str())));
    let o = run(
        "cs-cat",
        &[
            "-f",
            "movie_blob/path",
            &arg(&export.join("P3_J1_imported_movies_exported.cs")),
        ],
        None,
    );
    let paths: Vec<String> = json_lines(&o)
        .iter()
        .map(|v| v["movie_blob/path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(paths.len(), 6);
    assert_eq!(paths.iter().filter(|p| p.starts_with('>')).count(), 5);
    assert!(paths.contains(&GONE_MOVIE.to_string()), "{paths:?}");
}

#[test]
fn export_of_a_job_whose_imported_folder_is_a_dangling_link_names_that_link() {
    let (_keep, project) = project_tree();
    let imported = project.join("J1/imported");
    std::fs::remove_dir_all(&imported).unwrap();
    std::os::unix::fs::symlink("/nonexistent/csutils-gone-disk", &imported).unwrap();
    let o = run("job-pack", &["export", &arg(&project.join("J1"))], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e = stderr(&o);
    let link = arg(&project.canonicalize().unwrap().join("J1/imported"));
    // One line per data file (six movies and the gain reference), each naming the gone link.
    assert_eq!(e.lines().count(), 7, "{e}");
    for l in e.lines() {
        assert!(
            l.starts_with("job-pack: warning: ")
                && l.ends_with(&format!(
                    ": missing: {link} -> /nonexistent/csutils-gone-disk: the link's target is missing; not exported"
                )),
            "{l}"
        );
    }
    let group = project.join("exports/jobs/P3_J1_import_movies/P3_J1_imported_movies");
    assert!(group.join("P3_J1_imported_movies_exported.cs").is_file());
    assert!(!group.join("J1").exists(), "nothing to link");
}

#[test]
fn export_of_a_dangling_link_in_gridfs_data_warns_and_leaves_it_out() {
    let (_keep, project) = project_tree();
    let gridfs = project.join("J8/gridfs_data");
    std::fs::create_dir_all(&gridfs).unwrap();
    std::os::unix::fs::symlink("/nonexistent/csutils-gone.png", gridfs.join("plot.png")).unwrap();
    let o = run(
        "job-pack",
        &["export", "--force", &arg(&project.join("J8"))],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "plot.png -> /nonexistent/csutils-gone.png: the link's target is missing; not exported"
        ),
        "{}",
        stderr(&o)
    );
    let exported = project.join("exports/jobs/P3_J8_homo_refine_new/gridfs_data/plot.png");
    assert!(std::fs::symlink_metadata(exported).is_err());
}

#[test]
fn export_of_an_active_job_warns_that_it_may_not_be_up_to_date() {
    let (_keep, project) = project_tree();
    // J10 is running in the fixture.
    let o = run("job-pack", &["export", &arg(&project.join("J10"))], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.starts_with("job-pack: warning: ")
            && e.contains("J10 is running")
            && e.contains("not be up to date"),
        "{e}"
    );
    // A completed job exports without a word.
    let o = run("job-pack", &["export", &arg(&project.join("J9"))], None);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o), "");
}

#[test]
fn exporting_over_an_earlier_export_needs_force() {
    let (_keep, project) = project_tree();
    let p = project.canonicalize().unwrap();
    for (args, existing) in [
        (vec!["export", "J8"], "exports/jobs/P3_J8_homo_refine_new"),
        (
            vec!["export", "--group", "particles_selected", "J7"],
            "exports/groups/P3_J7_particles_selected",
        ),
    ] {
        let before = tree_snapshot(&project);
        let o = sh(&format!(
            "cd {} && job-pack {}",
            arg(&project),
            args.join(" ")
        ));
        let folder = arg(&p.join(existing));
        refused(&o, "job-pack", &folder, &["earlier export", "--force"]);
        assert_eq!(tree_snapshot(&project), before, "{args:?}: nothing changed");
        let o = sh(&format!(
            "cd {} && job-pack {} --force",
            arg(&project),
            args.join(" ")
        ));
        assert!(o.status.success(), "{}", stderr(&o));
    }
}

#[test]
fn tar_stores_a_dangling_link_as_a_link_warns_and_exits_0() {
    let (keep, project) = project_tree();
    for (mode, out) in [(None, "deref.tar"), (Some("--no-dereference"), "plain.tar")] {
        let out = keep.path().join(out);
        let mut args = vec!["tar".to_string(), arg(&project.join("J1"))];
        args.extend(mode.map(String::from));
        args.extend(["-o".to_string(), arg(&out)]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run("job-pack", &args, None);
        assert_eq!(o.status.code(), Some(0), "{mode:?}: {}", stderr(&o));
        let warning = format!(
            "job-pack: warning: {} -> {GONE_TARGET}: the link's target is missing; stored as a link",
            arg(&project.join(GONE_MOVIE))
        );
        let e = stderr(&o);
        assert_eq!(e.lines().filter(|l| **l == *warning).count(), 1, "{e}");
        // GNU tar lists it as the link it was.
        let gone = GONE_MOVIE.trim_start_matches("J1/");
        let line = tar_lines(&out)
            .into_iter()
            .find(|l| l.contains(gone))
            .unwrap();
        assert!(line.starts_with('l'), "{line}");
        assert!(line.ends_with(&format!("-> {GONE_TARGET}")), "{line}");
    }
}

#[test]
fn tar_strict_refuses_a_dangling_link_before_writing_anything() {
    let (keep, project) = project_tree();
    let out_dir = keep.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    for mode in [None, Some("--no-dereference")] {
        let out = out_dir.join("j1.tar");
        let mut args = vec![
            "tar".to_string(),
            "--strict".into(),
            arg(&project.join("J1")),
        ];
        args.extend(mode.map(String::from));
        args.extend(["-o".to_string(), arg(&out)]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let before = tree_snapshot(keep.path());
        let o = run("job-pack", &args, None);
        refused(
            &o,
            "job-pack",
            &arg(&project.join(GONE_MOVIE)),
            &[GONE_TARGET, "missing", "--strict"],
        );
        assert_eq!(
            names(&out_dir),
            Vec::<String>::new(),
            "{mode:?}: no output, no temp file"
        );
        assert_eq!(tree_snapshot(keep.path()), before);
        // To standard output: not a byte.
        let o = sh(&format!(
            "job-pack tar --strict {} {} | wc -c",
            arg(&project.join("J1")),
            mode.unwrap_or("")
        ));
        assert_eq!(stdout(&o).trim(), "0");
    }
    // A job without dangling links archives as usual under --strict.
    let out = out_dir.join("j8.tar");
    let o = run(
        "job-pack",
        &[
            "tar",
            "--strict",
            &arg(&project.join("J8")),
            "-o",
            &arg(&out),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!tar_lines(&out).is_empty());
}

/// A copy of the fixture's own J8 export beside the project, links followed (`cp -rL`), as a
/// user copies an export folder.
fn j8_export_copy(keep: &Path, project: &Path) -> PathBuf {
    let export = keep.join("P3_J8_homo_refine_new");
    let o = sh(&format!(
        "cp -rL {} {}",
        arg(&project.join("exports/jobs/P3_J8_homo_refine_new")),
        arg(&export)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    export
}

/// `tar -chf NAME.tar -C FOLDER'S-PARENT NAME` (the seed's way to archive an export).
fn gnu_tar(folder: &Path) -> PathBuf {
    let name = folder.file_name().unwrap().to_string_lossy().into_owned();
    let archive = folder.with_file_name(format!("{name}.tar"));
    let o = sh(&format!(
        "tar -chf {} -C {} {name}",
        arg(&archive),
        arg(folder.parent().unwrap())
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    archive
}

/// Change the exported `job.json` (written back with four-space indent, as cryoSPARC does).
fn edit_job_json(export: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let jj = export.join("job.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&jj).unwrap()).unwrap();
    edit(&mut doc);
    std::fs::write(&jj, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
}

/// `job-pack import ARGS… --into PROJECT`.
fn import(project: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["import"];
    all.extend_from_slice(args);
    let p = arg(project);
    all.extend(["--into", &p]);
    run("job-pack", &all, None)
}

const GONE_PARTICLES: &str = "J5/extract/014973558660366780158_14sep05c_c_00003gr_00014sq_00004hl_00004es.frames_patch_aligned_doseweighted_particles.mrc";

#[test]
fn import_of_an_export_whose_data_file_is_missing_names_it_and_changes_nothing() {
    let (keep, project) = project_tree();
    let export = j8_export_copy(keep.path(), &project);
    let gone_in_export = export.join("P3_J8_particles").join(GONE_PARTICLES);
    assert!(gone_in_export.is_file(), "the fixture names this file");
    std::fs::remove_file(&gone_in_export).unwrap();
    let archive = gnu_tar(&export);
    let cs = "P3_J8_homo_refine_new/P3_J8_particles/P3_J8_particles_exported.cs";
    let before = tree_snapshot(&project);
    for (src, file) in [
        (arg(&archive), format!("{}: entry {cs}", arg(&archive))),
        (
            arg(&export),
            arg(&export.join("P3_J8_particles/P3_J8_particles_exported.cs")),
        ),
    ] {
        let o = import(&project, &[&src]);
        let line = refused(
            &o,
            "job-pack",
            &file,
            &[
                "field blob/path",
                &format!("data file >{GONE_PARTICLES} is missing"),
                "--allow-missing",
            ],
        );
        assert!(line.contains(": row "), "{line}");
        assert_eq!(
            tree_snapshot(&project),
            before,
            "{src}: the project is unchanged"
        );
    }
    // The row it names holds that path (cs-cat's own reading of the exported file).
    let o = run(
        "cs-cat",
        &[
            "-f",
            "blob/path",
            &arg(&export.join("P3_J8_particles/P3_J8_particles_exported.cs")),
        ],
        None,
    );
    let rows = json_lines(&o);
    let o = import(&project, &[&arg(&export)]);
    let e = stderr(&o);
    let row: usize = e
        .split(": row ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(rows[row]["blob/path"], format!(">{GONE_PARTICLES}"));
}

#[test]
fn allow_missing_imports_anyway_points_the_missing_path_into_the_new_job_and_counts_it() {
    let (keep, project) = project_tree();
    let export = j8_export_copy(keep.path(), &project);
    std::fs::remove_file(export.join("P3_J8_particles").join(GONE_PARTICLES)).unwrap();
    let archive = gnu_tar(&export);
    let o = import(&project, &[&arg(&archive), "--allow-missing"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "one warning: {e}");
    let now = format!("J12/imported/{GONE_PARTICLES}");
    assert!(
        e.starts_with("job-pack: warning: 1 data file(s) named in the metadata are missing")
            && e.contains("1 kept as J12/imported/<path>, where nothing is: put the files there")
            && e.contains(&format!(", field blob/path: >{GONE_PARTICLES} -> {now}")),
        "{e}"
    );
    let rec = &json_lines(&o)[0];
    assert_eq!(rec["missing_data_files"], 1);
    assert_eq!(rec["missing_into_job"], 1);
    assert_eq!(rec["missing_absolute_kept"], 0);
    assert_eq!(rec["job"], "J12");
    // The missing path now names its place in the new job, where nothing is; the others
    // point into the new job too, at their files.
    let o = run(
        "cs-cat",
        &[
            "-f",
            "blob/path",
            &arg(&project.join("J12/J12_imported_particles.cs")),
        ],
        None,
    );
    let paths: Vec<String> = json_lines(&o)
        .iter()
        .map(|v| v["blob/path"].as_str().unwrap().to_string())
        .collect();
    assert!(paths.contains(&now), "{paths:?}");
    assert!(std::fs::symlink_metadata(project.join(&now)).is_err());
    for p in paths.iter().filter(|p| **p != now) {
        assert!(p.starts_with("J12/imported/"), "{p}");
        assert!(project.join(p).is_file(), "{p}");
    }
}

#[test]
fn import_group_refuses_a_missing_data_file_unless_allow_missing() {
    let (keep, project) = project_tree();
    let group = keep.path().join("group");
    let o = sh(&format!(
        "cp -rL {} {}",
        arg(&project.join("exports/groups/P3_J7_particles_selected")),
        arg(&group)
    ));
    assert!(o.status.success());
    let gone = sh(&format!(
        "cd {} && find J5 -type f | sort | head -1",
        arg(&group)
    ));
    let gone = stdout(&gone).trim().to_string();
    std::fs::remove_file(group.join(&gone)).unwrap();
    let csg = group.join("P3_J7_particles_selected_exported.csg");
    let before = tree_snapshot(&project);
    let o = run(
        "job-pack",
        &["import-group", &arg(&csg), "--into", &arg(&project)],
        None,
    );
    refused(
        &o,
        "job-pack",
        &arg(&group.join("P3_J7_particles_selected_exported.cs")),
        &[&format!("data file >{gone} is missing"), "field "],
    );
    assert_eq!(tree_snapshot(&project), before);
    let o = run(
        "job-pack",
        &[
            "import-group",
            &arg(&csg),
            "--into",
            &arg(&project),
            "--allow-missing",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rec = &json_lines(&o)[0];
    assert_eq!(rec["missing_data_files"], 1);
    let now = format!("{}/imported/{gone}", rec["job"].as_str().unwrap());
    assert!(
        stderr(&o).contains(&format!(">{gone} -> {now}")),
        "{}",
        stderr(&o)
    );
    let cs = project.join(rec["groups"][0]["metafile"].as_str().unwrap());
    let o = run("cs-cat", &["-f", "blob/path", &arg(&cs)], None);
    assert!(json_lines(&o)
        .iter()
        .any(|v| v["blob/path"] == now.as_str()));
    assert!(std::fs::symlink_metadata(project.join(&now)).is_err());
}

/// Every regular file under `dir`: its path relative to `dir` -> (device, inode, links, size).
fn inodes(dir: &Path) -> std::collections::BTreeMap<String, (u64, u64, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let o = sh(&format!(
        "cd {} && find . -type f -printf '%P\\n'",
        arg(dir)
    ));
    stdout(&o)
        .lines()
        .map(|rel| {
            let md = std::fs::metadata(dir.join(rel)).unwrap();
            (rel.to_string(), (md.dev(), md.ino(), md.nlink(), md.len()))
        })
        .collect()
}

/// `du -sb` of a folder, hard links counted once (`count_links`: as often as they appear).
fn du_bytes(dir: &Path, count_links: bool) -> u64 {
    let flag = if count_links { "-sbl" } else { "-sb" };
    let o = sh(&format!("du {flag} {}", arg(dir)));
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn import_from_an_archive_keeps_one_copy_of_the_data() {
    let (keep, project) = project_tree();
    let export = j8_export_copy(keep.path(), &project);
    let archive = gnu_tar(&export);
    let (_keep2, target) = project_tree();
    let linked_before = du_bytes(&target, true) - du_bytes(&target, false);
    let o = import(&target, &[&arg(&archive)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rec = &json_lines(&o)[0];
    let data = inodes(&target.join("J12/imported"));
    assert!(data.len() >= 10, "{data:?}");
    assert_eq!(rec["hard_linked"], data.len());
    assert_eq!(rec["bytes_copied"], 0);
    // Each data file of the new job is the unpacked archive's file under a second name.
    let unpacked = inodes(&target.join("imports/jobs/P3_J8_homo_refine_new"));
    let data_bytes: u64 = data.values().map(|d| d.3).sum();
    for (rel, (dev, ino, links, _)) in &data {
        assert_eq!(*links, 2, "{rel}");
        assert!(
            unpacked.values().any(|u| (u.0, u.1) == (*dev, *ino)),
            "{rel} is a file of the unpacked archive"
        );
    }
    // GNU du: the data take their bytes once (counted twice only when asked to count links).
    assert_eq!(
        du_bytes(&target, true) - du_bytes(&target, false) - linked_before,
        data_bytes
    );

    // From a folder, the user's files are copied, never linked or moved.
    let (_keep3, target) = project_tree();
    let before = inodes(&export);
    let o = import(&target, &[&arg(&export)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rec = &json_lines(&o)[0];
    let data = inodes(&target.join("J12/imported"));
    assert_eq!(rec["hard_linked"], 0);
    assert_eq!(rec["bytes_copied"], data.values().map(|d| d.3).sum::<u64>());
    assert!(data.values().all(|d| d.2 == 1));
    assert_eq!(inodes(&export), before, "the export folder is as it was");

    // --link from an archive points into the unpacked folder, which stays.
    let (_keep4, target) = project_tree();
    let o = import(&target, &[&arg(&archive), "--link"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let kept = target
        .canonicalize()
        .unwrap()
        .join("imports/jobs/P3_J8_homo_refine_new");
    let o = sh(&format!(
        "find {} -type l",
        arg(&target.join("J12/imported"))
    ));
    let listing = stdout(&o);
    assert!(listing.lines().count() >= 10, "{listing}");
    for l in listing.lines() {
        let to = std::fs::read_link(l).unwrap();
        assert!(to.starts_with(&kept), "{to:?}");
        assert!(Path::new(l).is_file(), "{l} resolves");
    }
}

#[test]
fn import_checks_the_workspace_against_workspaces_json() {
    let (keep, project) = project_tree();
    let export = j8_export_copy(keep.path(), &project);
    let ws = project.join("workspaces.json");
    let ws_name = arg(&ws);
    // Listed: W2 joins; W9 is refused naming workspaces.json and what it lists.
    let before = tree_snapshot(&project);
    let o = import(&project, &[&arg(&export), "--workspace", "W9"]);
    refused(&o, "job-pack", &ws_name, &["has no workspace W9", "W1, W2"]);
    assert_eq!(tree_snapshot(&project), before);
    // Without workspaces.json, or with an empty list: W1 only.
    for content in [None, Some("[]")] {
        let (_k, project) = project_tree();
        match content {
            None => std::fs::remove_file(project.join("workspaces.json")).unwrap(),
            Some(c) => std::fs::write(project.join("workspaces.json"), c).unwrap(),
        }
        let before = tree_snapshot(&project);
        let o = import(&project, &[&arg(&export), "--workspace", "W2"]);
        refused(
            &o,
            "job-pack",
            &arg(&project.join("workspaces.json")),
            &["has no workspace W2", "only W1"],
        );
        assert_eq!(tree_snapshot(&project), before, "{content:?}");
        let o = import(&project, &[&arg(&export)]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(json_lines(&o)[0]["workspace"], "W1");
    }
    // An unreadable workspaces.json is named, with or without --workspace.
    for (content, needle) in [("{\"uid\": ", "not JSON"), ("{}", "not a list")] {
        let (_k, project) = project_tree();
        std::fs::write(project.join("workspaces.json"), content).unwrap();
        let before = tree_snapshot(&project);
        for extra in [&[][..], &["--workspace", "W1"][..]] {
            let mut args = vec![arg(&export)];
            args.extend(extra.iter().map(|s| s.to_string()));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = import(&project, &args);
            refused(
                &o,
                "job-pack",
                &arg(&project.join("workspaces.json")),
                &[needle],
            );
            assert_eq!(tree_snapshot(&project), before);
        }
    }
}

#[test]
fn an_export_whose_job_json_is_not_a_job_document_is_refused_naming_the_key() {
    let (keep, project) = project_tree();
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit, Option<&str>, &str); 5] = [
        (
            "a list",
            |d| *d = serde_json::json!([d.clone()]),
            None,
            "not a JSON object",
        ),
        (
            "no uid",
            |d| drop(d.as_object_mut().unwrap().remove("uid")),
            Some("uid"),
            "missing",
        ),
        (
            "no type nor job_type",
            |d| {
                let obj = d.as_object_mut().unwrap();
                obj.remove("type");
                obj.remove("job_type");
            },
            Some("type"),
            "nor job_type",
        ),
        (
            "a number type",
            |d| d["type"] = 7.into(),
            Some("type"),
            "not a string",
        ),
        (
            "no status",
            |d| drop(d.as_object_mut().unwrap().remove("status")),
            Some("status"),
            "missing",
        ),
    ];
    for (i, (what, edit, key, needle)) in cases.into_iter().enumerate() {
        let dir = keep.path().join(format!("case{i}"));
        std::fs::create_dir(&dir).unwrap();
        let export = j8_export_copy(&dir, &project);
        edit_job_json(&export, edit);
        let archive = gnu_tar(&export);
        let before = tree_snapshot(&project);
        let file = format!("{}: entry P3_J8_homo_refine_new/job.json", arg(&archive));
        let mut needles = vec![needle, "a job document has a uid, a type and a status"];
        let key_text = key.map(|k| format!("key {k}:"));
        if let Some(k) = &key_text {
            needles.push(k);
        }
        let o = import(&project, &[&arg(&archive)]);
        refused(&o, "job-pack", &file, &needles);
        assert_eq!(tree_snapshot(&project), before, "{what}");
    }
}

#[test]
fn an_export_whose_job_json_is_not_json_is_refused_naming_the_entry() {
    let (keep, project) = project_tree();
    let export = j8_export_copy(keep.path(), &project);
    std::fs::write(export.join("job.json"), "{\"uid\": ").unwrap();
    let archive = gnu_tar(&export);
    let before = tree_snapshot(&project);
    let o = import(&project, &[&arg(&archive)]);
    let file = format!("{}: entry P3_J8_homo_refine_new/job.json", arg(&archive));
    refused(&o, "job-pack", &file, &["line 1", "not JSON"]);
    assert_eq!(tree_snapshot(&project), before);
}

#[test]
fn job_type_is_an_alias_of_type_and_unknown_keys_are_kept() {
    let (keep, project) = project_tree();
    let export = j8_export_copy(keep.path(), &project);
    edit_job_json(&export, |d| {
        let obj = d.as_object_mut().unwrap();
        let ty = obj.remove("type").unwrap();
        obj.insert("job_type".into(), ty);
        obj.insert("lab_notebook".into(), serde_json::json!({"page": 12}));
    });
    let o = import(&project, &[&arg(&gnu_tar(&export))]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json_lines(&o)[0]["type"], "homo_refine_new");
    let text = std::fs::read_to_string(project.join("J12/job.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["job_type"], "homo_refine_new");
    assert!(
        doc.get("type").is_none(),
        "the export's own vocabulary is kept"
    );
    assert_eq!(doc["lab_notebook"]["page"], 12);
    assert_eq!(doc["uid"], "J12");
}

#[test]
fn a_v5_export_names_its_type_in_spec() {
    let (keep, project) = project_tree();
    let export = j8_export_copy(keep.path(), &project);
    edit_job_json(&export, |d| {
        let obj = d.as_object_mut().unwrap();
        obj.remove("type");
        obj.remove("job_type");
        obj.insert(
            "spec".into(),
            serde_json::json!({"type": "homo_refine_new", "params": {"refine_symmetry": "D7"}}),
        );
    });
    let o = import(&project, &[&arg(&export)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json_lines(&o)[0]["type"], "homo_refine_new");
    let text = std::fs::read_to_string(project.join("J12/job.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["spec"]["type"], "homo_refine_new");
    assert_eq!(doc["spec"]["params"]["refine_symmetry"], "D7");
    assert!(doc.get("type").is_none() && doc.get("job_type").is_none());
    assert!(doc["spec"]["outputs"]["particles"].is_object());
}

/// Rewrite every `blob/path` of an exported `.cs` with jq (through cs-cat and csv-to-cs, as a
/// user edits metadata).
fn rewrite_blob_paths(cs: &Path, jq_expr: &str) {
    let o = sh(&format!(
        "cs-cat --int64-as-string {c} | jq -c '.[\"blob/path\"] |= ({jq_expr})' \
         | csv-to-cs --like {c} -o {c}.new && mv {c}.new {c}",
        c = arg(cs)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn an_archive_import_never_takes_data_from_outside_the_archive() {
    let (keep, project) = project_tree();
    // The target project has the data file the archive lacks; this machine has the other.
    assert!(project.join(GONE_PARTICLES).is_file());
    let secret = keep.path().join("secret.mrc");
    std::fs::write(&secret, "not for the archive").unwrap();
    let cases = [
        (
            "relative",
            "ltrimstr(\">\")".to_string(),
            "J5/extract/".to_string(),
        ),
        ("absolute", format!("\"{}\"", arg(&secret)), arg(&secret)),
    ];
    for (case, expr, named) in cases {
        let folder = keep.path().join(case);
        std::fs::create_dir(&folder).unwrap();
        let export = j8_export_copy(&folder, &project);
        std::fs::remove_dir_all(export.join("P3_J8_particles/J5")).unwrap();
        rewrite_blob_paths(
            &export.join("P3_J8_particles/P3_J8_particles_exported.cs"),
            &expr,
        );
        let archive = gnu_tar(&export);
        let before = tree_snapshot(&project);
        let o = import(&project, &[&arg(&archive)]);
        refused(
            &o,
            "job-pack",
            &arg(&archive),
            &[&format!("data file {named}"), "is missing"],
        );
        assert_eq!(tree_snapshot(&project), before, "{case}: nothing imported");
    }
}

/// `cs-cat -f FIELD FILE`: the field's values, as cs-cat reads them.
fn cs_values(cs: &Path, field: &str) -> Vec<String> {
    let o = run("cs-cat", &["-f", field, &arg(cs)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    json_lines(&o)
        .iter()
        .map(|v| v[field].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn allow_missing_never_lets_a_kept_path_name_a_file_of_the_target_project() {
    // The reviewer's reproduction: J1's export, whose movie is on a disk that is gone (so the
    // export keeps its project path, J1/imported/…), archived as the seed does.
    let (_keep, source) = project_tree();
    let o = run("job-pack", &["export", &arg(&source.join("J1"))], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let archive = gnu_tar(&source.join("exports/jobs/P3_J1_import_movies"));
    // The target project has a different file of its own at that very path.
    let (_keep2, target) = project_tree();
    let theirs = target.join(GONE_MOVIE);
    std::fs::remove_file(&theirs).unwrap();
    std::fs::write(&theirs, "the target's own J1 movie").unwrap();
    let before = tree_snapshot(&target);
    let o = import(&target, &[&arg(&archive), "--allow-missing"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rec = &json_lines(&o)[0];
    assert_eq!(rec["job"], "J12");
    assert_eq!(rec["missing_data_files"], 1);
    assert_eq!(rec["missing_into_job"], 1);
    let now = format!("J12/imported/{GONE_MOVIE}");
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains("put the files there to complete the job")
            && e.contains(&format!(": {GONE_MOVIE} -> {now}")),
        "{e}"
    );
    let paths = cs_values(
        &target.join("J12/J12_imported_imported_movies.cs"),
        "movie_blob/path",
    );
    assert_eq!(paths.len(), 6);
    assert!(paths.contains(&now), "{paths:?}");
    assert!(!paths.contains(&GONE_MOVIE.to_string()), "{paths:?}");
    // Where it points nothing is: it dangles visibly, the target's own file is not named.
    assert!(std::fs::symlink_metadata(target.join(&now)).is_err());
    for p in paths.iter().filter(|p| **p != now) {
        assert!(target.join(p).is_file(), "{p}");
    }
    assert_eq!(
        std::fs::read_to_string(&theirs).unwrap(),
        "the target's own J1 movie"
    );
    // Nothing the target had was changed or removed (the import only adds).
    let after = tree_snapshot(&target);
    for (path, what) in &before {
        assert_eq!(after.get(path), Some(what), "{path}");
    }
}

#[test]
fn allow_missing_keeps_an_absolute_path_and_refuses_a_relative_path_with_dotdot() {
    let (keep, project) = project_tree();
    let cs = "P3_J8_particles/P3_J8_particles_exported.cs";
    // Absolute paths (this machine's storage, gone): kept as they were, counted.
    let folder = keep.path().join("absolute");
    std::fs::create_dir(&folder).unwrap();
    let export = j8_export_copy(&folder, &project);
    rewrite_blob_paths(
        &export.join(cs),
        "\"/nonexistent/csutils-gone/\" + ltrimstr(\">\")",
    );
    let expected = cs_values(&export.join(cs), "blob/path");
    let o = import(&project, &[&arg(&gnu_tar(&export)), "--allow-missing"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rec = &json_lines(&o)[0];
    let distinct: std::collections::BTreeSet<&String> = expected.iter().collect();
    assert_eq!(rec["missing_data_files"], distinct.len());
    assert_eq!(rec["missing_absolute_kept"], distinct.len());
    assert_eq!(rec["missing_into_job"], 0);
    assert!(
        stderr(&o).contains(&format!(
            "{} absolute path(s) kept as they were",
            distinct.len()
        )),
        "{}",
        stderr(&o)
    );
    let got = cs_values(&project.join("J12/J12_imported_particles.cs"), "blob/path");
    assert_eq!(got, expected);

    // A relative path with '..' has no place in the new job: refused even so, nothing changed.
    let folder = keep.path().join("dotdot");
    std::fs::create_dir(&folder).unwrap();
    let export = j8_export_copy(&folder, &project);
    rewrite_blob_paths(&export.join(cs), "\"../\" + ltrimstr(\">\")");
    let archive = gnu_tar(&export);
    let before = tree_snapshot(&project);
    let o = import(&project, &[&arg(&archive), "--allow-missing"]);
    refused(
        &o,
        "job-pack",
        &format!("{}: entry P3_J8_homo_refine_new/{cs}", arg(&archive)),
        &[
            "field blob/path",
            "data file ../J5/",
            "has no place in the new job",
        ],
    );
    assert_eq!(tree_snapshot(&project), before);
}

#[test]
fn a_group_export_given_to_import_is_refused_naming_the_archive_and_import_group() {
    let (keep, source) = project_tree();
    let o = run(
        "job-pack",
        &["export", "--group", "particles", &arg(&source.join("J8"))],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let group = source.join("exports/groups/P3_J8_particles");
    let archive = keep.path().join("grp.tar");
    let o = sh(&format!(
        "tar -chf {} -C {} P3_J8_particles",
        arg(&archive),
        arg(group.parent().unwrap())
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let (_k, target) = project_tree();
    let before = tree_snapshot(&target);
    let o = import(&target, &[&arg(&archive)]);
    let line = refused(
        &o,
        "job-pack",
        &arg(&archive),
        &[
            "is not a job export (it has no job.json); a group export?",
            "(entry P3_J8_particles/P3_J8_particles_exported.csg) with job-pack import-group",
        ],
    );
    assert!(!line.contains("imports/jobs"), "{line}");
    assert_eq!(tree_snapshot(&target), before);
    // The folder itself: named, with the .csg to give import-group, which then imports it.
    let csg = group.join("P3_J8_particles_exported.csg");
    let o = import(&target, &[&arg(&group)]);
    refused(
        &o,
        "job-pack",
        &arg(&group),
        &[&format!("with job-pack import-group {}", arg(&csg))],
    );
    assert_eq!(tree_snapshot(&target), before);
    let o = run(
        "job-pack",
        &["import-group", &arg(&csg), "--into", &arg(&target)],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json_lines(&o)[0]["groups"][0]["rows"], 100);
}

#[test]
fn a_bad_csg_in_an_archive_is_named_by_its_entry_not_by_the_removed_unpacked_folder() {
    let (keep, project) = project_tree();
    let csg = "P3_J8_particles/P3_J8_particles_exported.csg";
    let cases = [
        ("not yaml", "results: [\n", ""),
        (
            "a metafile that climbs out",
            "group: {name: particles, type: particle}\nresults:\n  blob: {metafile: '>../../J8/x.cs', num_items: 1, type: particle.blob}\n",
            "climbs out",
        ),
        (
            "a metafile outside the archive",
            "group: {name: particles, type: particle}\nresults:\n  blob: {metafile: '../../../../J8/J8_004_particles.cs', num_items: 1, type: particle.blob}\n",
            "key results.blob.metafile: '../../../../J8/J8_004_particles.cs' is not a plain relative path",
        ),
    ];
    for (i, (case, text, needle)) in cases.into_iter().enumerate() {
        let dir = keep.path().join(format!("case{i}"));
        std::fs::create_dir(&dir).unwrap();
        let export = j8_export_copy(&dir, &project);
        std::fs::write(export.join(csg), text).unwrap();
        let archive = gnu_tar(&export);
        let before = tree_snapshot(&project);
        let o = import(&project, &[&arg(&archive)]);
        let file = format!("{}: entry P3_J8_homo_refine_new/{csg}", arg(&archive));
        let line = refused(&o, "job-pack", &file, &[needle]);
        assert!(!line.contains("imports/jobs"), "{case}: {line}");
        assert_eq!(tree_snapshot(&project), before, "{case}");
    }
}

#[test]
fn a_project_whose_import_is_not_finished_is_refused_by_import_and_export() {
    let (keep, project) = project_tree();
    let export = j8_export_copy(keep.path(), &project);
    let archive = gnu_tar(&export);
    let csg = project
        .join("exports/groups/P3_J7_particles_selected/P3_J7_particles_selected_exported.csg");
    std::fs::write(project.join(".csutils-import-journal.json"), "{}").unwrap();
    let p = arg(&project);
    let canonical = arg(&project.canonicalize().unwrap());
    let runs: [(Vec<String>, &str); 5] = [
        (
            vec!["import".into(), arg(&archive), "--into".into(), p.clone()],
            &p,
        ),
        (
            vec!["import".into(), arg(&export), "--into".into(), p.clone()],
            &p,
        ),
        (
            vec!["import-group".into(), arg(&csg), "--into".into(), p.clone()],
            &p,
        ),
        (vec!["export".into(), arg(&project.join("J9"))], &canonical),
        (
            vec![
                "export".into(),
                "--group".into(),
                "particles".into(),
                arg(&project.join("J8")),
                "--force".into(),
            ],
            &canonical,
        ),
    ];
    let before = tree_snapshot(&project);
    for (args, named) in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run("job-pack", &args, None);
        refused(
            &o,
            "job-pack",
            named,
            &[
                "its import is not finished (.csutils-import-journal.json is there)",
                "proj-import rollback",
            ],
        );
        assert_eq!(tree_snapshot(&project), before, "{args:?}");
    }
}
