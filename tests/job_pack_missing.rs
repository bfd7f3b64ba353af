#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! job-pack on projects as they are found: raw data that is not there (dangling links), active
//! jobs, earlier exports, exports whose data or job document is incomplete, workspaces, and
//! imports that keep one copy of their data.

mod common;

use common::{arg, json_lines, project_tree, refused, run, sh, stderr, stdout, tree_snapshot};
use std::path::Path;

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
