#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! job-pack end to end on fixture tree A: export (against the fixture's own exports/), tar,
//! import, import-group, events, and hostile archives.

mod common;

use common::{
    arg, expected_projects, json_lines, project_tree, run, sh, stderr, stdout, tar_entry as entry,
    tree_snapshot, uids,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Every entry under a folder: path -> "file SIZE" or "link TARGET" (links not followed).
fn layout(dir: &Path) -> BTreeMap<String, String> {
    let o = sh(&format!(
        "cd {} && find . -mindepth 1 \\( -type l -printf '%P link %l\\n' \\) -o \\( -type f -printf '%P file %s\\n' \\)",
        arg(dir)
    ));
    stdout(&o)
        .lines()
        .map(|l| {
            let (p, rest) = l.split_once(' ').unwrap();
            (p.to_string(), rest.to_string())
        })
        .collect()
}

fn without_created(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("created:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Move the fixture's own export aside and export again; compare with it.
fn export_matches_fixture(args: &[&str], rel: &str) {
    let (keep, project) = project_tree();
    let original = keep.path().join("original");
    std::fs::rename(project.join(rel), &original).unwrap();
    let mut full: Vec<String> = vec!["export".into()];
    full.extend(args.iter().map(|a| a.to_string()));
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    let o = sh(&format!(
        "cd {} && job-pack {}",
        arg(&project),
        full.join(" ")
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let records = json_lines(&o);
    assert_eq!(records.last().unwrap()["kind"], "export");
    assert_eq!(records.last().unwrap()["path"], rel);
    let new_dir = project.join(rel);
    let (want, got) = (layout(&original), layout(&new_dir));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (path, what) in &want {
        if path.ends_with(".csg") {
            let a = std::fs::read_to_string(original.join(path)).unwrap();
            let b = std::fs::read_to_string(new_dir.join(path)).unwrap();
            assert_eq!(without_created(&a), without_created(&b), "{path}");
        } else {
            assert_eq!(&got[path], what, "{path}");
            if what.starts_with("file") {
                let a = std::fs::read(original.join(path)).unwrap();
                let b = std::fs::read(new_dir.join(path)).unwrap();
                assert!(a == b, "{path} differs from the fixture's export");
            }
        }
    }
    // Every record names a written entry.
    for r in records
        .iter()
        .filter(|r| r["kind"] == "file" || r["kind"] == "link")
    {
        let p = project.join(r["path"].as_str().unwrap());
        assert!(std::fs::symlink_metadata(&p).is_ok(), "{p:?}");
    }
}

#[test]
fn export_of_j8_matches_the_fixture_export() {
    export_matches_fixture(&["J8"], "exports/jobs/P3_J8_homo_refine_new");
    let exp = expected_projects();
    let e = &exp["exports"]["exports/jobs/P3_J8_homo_refine_new"];
    let (_keep, project) = project_tree();
    let o = run(
        "job-pack",
        &["export", "--force", &arg(&project.join("J8"))],
        None,
    );
    assert!(o.status.success());
    let text = std::fs::read_to_string(project.join("exports/jobs/P3_J8_homo_refine_new/job.json"))
        .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    for k in e["job_json_keys_absent"].as_array().unwrap() {
        assert!(
            doc.get(k.as_str().unwrap()).is_none(),
            "{k} must be stripped"
        );
    }
    for entry in e["entries"].as_array().unwrap() {
        let p = project
            .join("exports/jobs/P3_J8_homo_refine_new")
            .join(entry["path"].as_str().unwrap());
        if let Some(t) = entry["symlink_to"].as_str() {
            assert_eq!(std::fs::read_link(&p).unwrap().to_str().unwrap(), t);
            assert!(p.exists(), "{p:?} resolves");
        } else {
            // (A .csg's `created` is now, not the fixture's time: other digits, same length.)
            let bytes = std::fs::metadata(&p).unwrap().len();
            assert_eq!(bytes, entry["bytes"].as_u64().unwrap(), "{p:?}");
        }
    }
}

#[test]
fn export_of_one_group_matches_the_fixture_group_export() {
    export_matches_fixture(
        &["--group", "particles_selected", "J7"],
        "exports/groups/P3_J7_particles_selected",
    );
}

#[test]
fn re_export_replaces_the_old_export_and_leaves_nothing_behind() {
    let (_keep, project) = project_tree();
    let j8 = arg(&project.join("J8"));
    std::fs::write(
        project.join("exports/jobs/P3_J8_homo_refine_new/stale.txt"),
        "old",
    )
    .unwrap();
    for _ in 0..2 {
        let o = run("job-pack", &["export", "--force", &j8], None);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let names: Vec<String> = std::fs::read_dir(project.join("exports/jobs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["P3_J8_homo_refine_new".to_string()]);
    assert!(!project
        .join("exports/jobs/P3_J8_homo_refine_new/stale.txt")
        .exists());
}

#[test]
fn export_tar_import_gives_a_new_job_with_j8s_rows_and_uids() {
    let (keep, source) = project_tree();
    let tarball = keep.path().join("J8.tar.zst");
    let o = sh(&format!(
        "job-pack export --force {j} > /dev/null && job-pack tar {e} -o {t}",
        j = arg(&source.join("J8")),
        e = arg(&source.join("exports/jobs/P3_J8_homo_refine_new")),
        t = arg(&tarball)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    // The archive is self-contained: every data link became a file.
    let listing = stdout(&sh(&format!("tar --zstd -tvf {}", arg(&tarball))));
    assert!(listing.contains("P3_J8_homo_refine_new/P3_J8_volume/J8/J8_004_volume_map.mrc"));
    assert!(!listing.lines().any(|l| l.starts_with('l')), "{listing}");

    let (_keep2, target) = project_tree();
    let o = run(
        "job-pack",
        &[
            "import",
            &arg(&tarball),
            "--into",
            &arg(&target),
            "--workspace",
            "W2",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rec = &json_lines(&o)[0];
    assert_eq!(rec["job"], "J12");
    let j12 = target.join("J12");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(j12.join("job.json")).unwrap()).unwrap();
    assert_eq!(doc["uid"], "J12");
    assert_eq!(doc["project_uid"], "P3");
    assert_eq!(doc["status"], "completed");
    assert_eq!(doc["parents"], serde_json::json!([]));
    assert_eq!(doc["workspace_uids"], serde_json::json!(["W2"]));
    assert_eq!(doc["csutils_imported_from"]["job"], "J8");
    // Outputs: the same rows and uids as J8's final outputs.
    for (group, original) in [
        ("particles", "J8/J8_004_particles.cs"),
        ("volume", "J8/J8_004_volume.cs"),
        ("mask", "J8/J8_004_mask.cs"),
    ] {
        let new = j12.join(format!("J12_imported_{group}.cs"));
        assert_eq!(uids(&new), uids(&source.join(original)), "{group}");
        let o = run(
            "csg-edit",
            &["check", &arg(&j12.join(format!("J12_{group}.csg")))],
            None,
        );
        assert!(o.status.success(), "{group}: {}", stdout(&o));
    }
    // Registered outputs resolve, and every data path points into the new job.
    for r in doc["output_results"].as_array().unwrap() {
        let m = r["metafiles"][0].as_str().unwrap();
        assert!(target.join(m).is_file(), "{m}");
    }
    let o = run(
        "cs-cat",
        &[
            "-f",
            "blob/path",
            &arg(&j12.join("J12_imported_particles.cs")),
        ],
        None,
    );
    for v in json_lines(&o) {
        let p = v["blob/path"].as_str().unwrap();
        assert!(p.starts_with("J12/imported/J5/extract/"), "{p}");
        assert!(target.join(p).is_file(), "{p}");
    }
    // The unpacked export is kept under imports/jobs/, and events travel with the job.
    assert!(target
        .join("imports/jobs/P3_J8_homo_refine_new/job.json")
        .is_file());
    let o = run("job-pack", &["events", &arg(&j12)], None);
    assert!(o.status.success());
    assert!(!json_lines(&o).is_empty());
    // proj-du sees the new job.
    let o = run("proj-du", &[&arg(&target)], None);
    assert!(json_lines(&o).iter().any(|r| r["job"] == "J12"));
}

#[test]
fn import_group_of_the_exported_j7_group() {
    let (_keep, project) = project_tree();
    let csg = project
        .join("exports/groups/P3_J7_particles_selected/P3_J7_particles_selected_exported.csg");
    let o = run(
        "job-pack",
        &[
            "import-group",
            &arg(&csg),
            "--into",
            &arg(&project),
            "--link",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rec = &json_lines(&o)[0];
    assert_eq!(rec["job"], "J12");
    assert_eq!(rec["type"], "import_result_group");
    let j12 = project.join("J12");
    let cs = j12.join("J12_imported_particles_selected.cs");
    assert_eq!(
        uids(&cs),
        uids(
            &project.join(
                "exports/groups/P3_J7_particles_selected/P3_J7_particles_selected_exported.cs"
            )
        )
    );
    let o = run(
        "csg-edit",
        &["check", &arg(&j12.join("J12_particles_selected.csg"))],
        None,
    );
    assert!(o.status.success(), "{}", stdout(&o));
    // --link: the data are links that resolve.
    let data = j12.join("imported/J5/extract");
    for e in std::fs::read_dir(&data).unwrap() {
        let p = e.unwrap().path();
        assert!(std::fs::symlink_metadata(&p)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(p.is_file());
    }
}

#[test]
fn events_reads_every_event_of_every_fixture_job() {
    let (_keep, project) = project_tree();
    for n in 1..=11 {
        let job = format!("J{n}");
        let o = run("job-pack", &["events", &arg(&project.join(&job))], None);
        assert!(o.status.success(), "{job}: {}", stderr(&o));
        let events = json_lines(&o);
        assert!(!events.is_empty(), "{job}");
        for e in &events {
            assert_eq!(e["job_uid"], job.as_str());
            assert!(e["_id"]["$oid"].is_string());
        }
    }
    let o = run("job-pack", &["events", &arg(&project.join("J11"))], None);
    assert!(json_lines(&o).iter().any(|e| e["type"] == "error"));
    // A truncated log names the byte offset of the bad document.
    let log = std::fs::read(project.join("J8/events.bson")).unwrap();
    std::fs::write(project.join("J8/events.bson"), &log[..log.len() - 5]).unwrap();
    let o = run("job-pack", &["events", &arg(&project.join("J8"))], None);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("events.bson: byte ") && e.contains("truncated"),
        "{e}"
    );
}

#[test]
fn tar_without_dereference_lists_links_left_behind() {
    let (keep, project) = project_tree();
    let out = keep.path().join("g.tar.gz");
    let o = run(
        "job-pack",
        &[
            "tar",
            "--no-dereference",
            &arg(&project.join("exports/groups/P3_J7_particles_selected")),
            "-o",
            &arg(&out),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).lines().count(),
        6,
        "six links point out of the export"
    );
    let listing = stdout(&sh(&format!("tar -tzvf {}", arg(&out))));
    assert_eq!(listing.lines().filter(|l| l.starts_with('l')).count(), 6);
    // An existing output needs --force.
    let o = run(
        "job-pack",
        &["tar", &arg(&project.join("J1")), "-o", &arg(&out)],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("exists"));
}

#[test]
fn hostile_archives_are_refused_and_nothing_is_written() {
    let ok_dir = entry("P3_J8_x/", b'5', "", b"", None);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "parent",
            [
                ok_dir.clone(),
                entry("P3_J8_x/../../evil.txt", b'0', "", b"x", None),
            ]
            .concat(),
        ),
        (
            "absolute",
            entry("/tmp/csutils-evil-abs.txt", b'0', "", b"x", None),
        ),
        (
            "symlink out",
            entry("P3_J8_x/out", b'2', "../../../../outside", b"", None),
        ),
        (
            "absolute symlink",
            entry("P3_J8_x/abs", b'2', "/etc", b"", None),
        ),
        (
            "hard link out",
            entry("P3_J8_x/h", b'1', "../outside.txt", b"", None),
        ),
        (
            "through a link",
            [
                ok_dir.clone(),
                entry("P3_J8_x/sub", b'2', ".", b"", None),
                entry("P3_J8_x/sub/file.txt", b'0', "", b"x", None),
            ]
            .concat(),
        ),
        ("device", entry("P3_J8_x/dev", b'3', "", b"", None)),
        ("fifo", entry("P3_J8_x/fifo", b'6', "", b"", None)),
        (
            "short data",
            entry("P3_J8_x/short.bin", b'0', "", b"abc", Some(4000)),
        ),
    ];
    for (what, bytes) in cases {
        let (keep, project) = project_tree();
        let tarball = keep.path().join("hostile.tar");
        std::fs::write(&tarball, &bytes).unwrap();
        let before = layout(keep.path());
        let o = run(
            "job-pack",
            &["import", &arg(&tarball), "--into", &arg(&project)],
            None,
        );
        assert_eq!(o.status.code(), Some(1), "{what}: {}", stderr(&o));
        let e = stderr(&o);
        assert_eq!(e.lines().count(), 1, "{what}: {e}");
        assert!(e.contains("hostile.tar"), "{what}: {e}");
        assert_eq!(layout(keep.path()), before, "{what}: the tree is unchanged");
        assert!(!Path::new("/tmp/csutils-evil-abs.txt").exists());
    }
}

#[test]
fn a_failed_import_leaves_the_project_as_it_was() {
    let (keep, project) = project_tree();
    // An export whose particle data are missing.
    let o = run(
        "job-pack",
        &["export", "--force", &arg(&project.join("J8"))],
        None,
    );
    assert!(o.status.success());
    let export = keep.path().join("copy");
    sh(&format!(
        "cp -rL {} {}",
        arg(&project.join("exports/jobs/P3_J8_homo_refine_new")),
        arg(&export)
    ));
    sh(&format!(
        "rm -r {}",
        arg(&export.join("P3_J8_particles/J5"))
    ));
    let before = layout(&project);
    let o = run(
        "job-pack",
        &["import", &arg(&export), "--into", &arg(&project)],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("missing"), "{}", stderr(&o));
    assert_eq!(layout(&project), before);
    // An unknown workspace is named.
    let o = run(
        "job-pack",
        &[
            "import",
            &arg(&export),
            "--into",
            &arg(&project),
            "--workspace",
            "W9",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("has no workspace W9"), "{}", stderr(&o));
}

#[test]
fn tar_piped_into_import_from_stdin() {
    let (_keep, source) = project_tree();
    let (_keep2, target) = project_tree();
    let o = sh(&format!(
        "job-pack tar --gzip {e} | job-pack import - --into {t}",
        e = arg(&source.join("exports/groups/P3_J7_particles_selected")),
        t = arg(&target)
    ));
    // A group export has no job.json: refused, and the target is untouched.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not a job export"), "{}", stderr(&o));
    assert!(!target.join("imports").exists());
    assert!(!target.join("J12").exists());

    let o = sh(&format!(
        "job-pack export --force {j} > /dev/null && job-pack tar --zstd {e} | job-pack import - --into {t} --link",
        j = arg(&source.join("J8")),
        e = arg(&source.join("exports/jobs/P3_J8_homo_refine_new")),
        t = arg(&target)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let rec = &json_lines(&o)[0];
    assert_eq!(rec["job"], "J12");
    assert_eq!(rec["linked"], true);
    // Linked data point into the kept unpacked export.
    let map = target.join("J12/imported/J8/J8_004_volume_map.mrc");
    let dest = std::fs::read_link(&map).unwrap();
    assert!(
        dest.starts_with(target.canonicalize().unwrap().join("imports/jobs")),
        "{dest:?}"
    );
    assert!(map.is_file());
}

/// `tar -tvf` of an archive: each entry's type, size and name.
fn tar_listing(archive: &Path) -> Vec<String> {
    let o = sh(&format!(
        "tar -tvf {} | awk '{{print substr($1, 1, 1), $3, $6}}'",
        arg(archive)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let mut names: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    names.sort();
    names
}

#[test]
fn tar_does_not_follow_links_to_the_root_or_to_a_folder_that_holds_the_archived_one() {
    let (keep, project) = project_tree();
    let export = project.join("exports/jobs/P3_J8_homo_refine_new");
    let plain = keep.path().join("plain.tar");
    let o = run(
        "job-pack",
        &["tar", &arg(&export), "-o", &arg(&plain)],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let above = keep.path().canonicalize().unwrap();
    std::os::unix::fs::symlink("/", export.join("root")).unwrap();
    std::os::unix::fs::symlink(&above, export.join("P3_J8_volume/tree")).unwrap();
    std::os::unix::fs::symlink("..", export.join("P3_J8_mask/up")).unwrap();
    let out = keep.path().join("links.tar");
    let o = sh(&format!(
        "ulimit -f 102400; timeout 20 job-pack tar {} -o {}",
        arg(&export),
        arg(&out)
    ));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(tar_listing(&out), tar_listing(&plain), "the same entries");
    let e = stderr(&o);
    let export_real = export.canonicalize().unwrap();
    for (link, target) in [
        ("root", "/".to_string()),
        ("P3_J8_volume/tree", arg(&above)),
        ("P3_J8_mask/up", arg(&export_real)),
    ] {
        let line = format!("warning: {} -> {target}: ", arg(&export.join(link)));
        assert!(e.contains(&line), "{line} in {e}");
    }
    assert_eq!(e.lines().count(), 3, "{e}");
}

#[test]
fn an_archive_written_inside_the_folder_it_archives_leaves_itself_out() {
    let (keep, project) = project_tree();
    // The fixture's one dangling link would make every run exit 1.
    sh(&format!("find {} -xtype l -delete", arg(&project)));
    let reference = keep.path().join("reference.tar");
    let o = run(
        "job-pack",
        &["tar", &arg(&project), "-o", &arg(&reference)],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let expected = tar_listing(&reference);
    // exports/ comes after the jobs (2.3 MB), so the temporary file has grown by the time the
    // walk reaches it; a 100 MB cap and a timeout stop a run that archives itself.
    let inside = project.join("exports/x.tar");
    let (p, x) = (arg(&project), arg(&inside));
    for run_it in [
        format!("job-pack tar {p} -o {x}"),
        format!("job-pack tar {p} -o {x} --force"),
        format!("rm {x}; job-pack tar {p} > {x}"),
    ] {
        let o = sh(&format!("ulimit -f 102400; timeout 20 bash -c '{run_it}'"));
        assert_eq!(o.status.code(), Some(0), "{run_it}: {}", stderr(&o));
        assert_eq!(tar_listing(&inside), expected, "{run_it}");
        assert!(
            stderr(&o).contains("the archive being written; not stored"),
            "{run_it}: {}",
            stderr(&o)
        );
        let temps = sh(&format!("ls -A {}", arg(&project.join("exports"))));
        assert_eq!(
            stdout(&temps),
            "groups\njobs\nx.tar\n",
            "{run_it}: nothing left over"
        );
    }
}

#[test]
fn export_and_import_never_write_through_a_folder_that_links_out_of_the_project() {
    let (keep, project) = project_tree();
    let archive = keep.path().join("j8.tar");
    let export = project.join("exports/jobs/P3_J8_homo_refine_new");
    let o = run(
        "job-pack",
        &["tar", &arg(&export), "-o", &arg(&archive)],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // exports/ and imports/ lead to folders beside the project.
    let elsewhere = keep.path().join("elsewhere");
    std::fs::create_dir_all(elsewhere.join("imports")).unwrap();
    std::fs::rename(project.join("exports"), elsewhere.join("exports")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("exports"), project.join("exports")).unwrap();
    std::os::unix::fs::symlink("../elsewhere/imports", project.join("imports")).unwrap();
    let before = tree_snapshot(keep.path());
    let p = arg(&project);
    for (args, link) in [
        (vec!["export", &arg(&project.join("J8"))], "exports"),
        (
            vec!["export", "--group", "particles", &arg(&project.join("J8"))],
            "exports",
        ),
        (vec!["import", &arg(&archive), "--into", &p], "imports"),
    ] {
        let o = run("job-pack", &args, None);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let e = stderr(&o);
        assert_eq!(e.lines().count(), 1, "{e}");
        let target = arg(&elsewhere.join(link).canonicalize().unwrap());
        let said = format!("{p}: {link} is a link to {target}, outside the project: ");
        assert!(e.starts_with(&format!("job-pack: {said}")), "{e}");
        assert_eq!(
            tree_snapshot(keep.path()),
            before,
            "{args:?}: nothing changed"
        );
    }
}

#[test]
fn export_of_a_job_folder_that_is_a_link_is_written_in_the_project_holding_the_link() {
    let (keep, project) = project_tree();
    let other = keep.path().join("other");
    std::fs::create_dir(&other).unwrap();
    sh(&format!("cp -a {} {}", arg(&project), arg(&other)));
    let other = other.join("CS-t20s-demo");
    std::fs::remove_dir_all(project.join("J8")).unwrap();
    std::fs::remove_dir_all(project.join("exports/jobs")).unwrap();
    std::os::unix::fs::symlink(other.join("J8"), project.join("J8")).unwrap();
    let other_before = tree_snapshot(&other);
    let o = run("job-pack", &["export", &arg(&project.join("J8"))], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        tree_snapshot(&other),
        other_before,
        "the other project untouched"
    );
    let job_json = project.join("exports/jobs/P3_J8_homo_refine_new/job.json");
    assert!(job_json.is_file());
}
