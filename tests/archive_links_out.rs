#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! Archives holding a link that leads outside them (raw data that did not travel): our own
//! `job-pack tar` of a project with a dangling absolute link, and a cryoSPARC export tarred by
//! GNU tar without `-h`. Refused by default, one line naming the entry and `--allow-missing`,
//! nothing changed; imported with `--allow-missing`, the link left out and counted; listed by
//! `proj-import check` as a `link_out_of_archive` problem. A hostile archive never gets a file
//! written through a link it was allowed to leave out.

mod common;

use common::{
    arg, json_lines, project_tree, refused, run, sh, stderr, stdout, tree_snapshot, uids,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The link added to the fixture project: a movie on a disk that is gone.
const GONE: &str = "J1/imported/gone.frames.tif";
/// The J8 export the fixture project holds.
const EXPORT: &str = "P3_J8_homo_refine_new";

/// Run a shell script; it must succeed.
fn make(script: &str) {
    let o = sh(script);
    assert!(o.status.success(), "{script}: {}", stderr(&o));
}

/// The fixture project with [`GONE`] linked by absolute path to a disk that is not there,
/// archived by `job-pack tar` (which stores that link as the link it is). Returns the guard,
/// the project, the archive and the link's target.
fn project_archive() -> (tempfile::TempDir, PathBuf, PathBuf, String) {
    let (keep, project) = project_tree();
    let target = arg(&keep.path().join("gone-disk/raw/gone.frames.tif"));
    std::os::unix::fs::symlink(&target, project.join(GONE)).unwrap();
    let archive = keep.path().join("project.tar");
    let o = run(
        "job-pack",
        &["tar", &arg(&project), "-o", &arg(&archive)],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let listed = stdout(&sh(&format!("tar -tvf {}", arg(&archive))));
    let line = listed.lines().find(|l| l.contains(GONE)).unwrap();
    assert!(line.starts_with('l') && line.ends_with(&target), "{line}");
    (keep, project, archive, target)
}

fn proj_import(instance: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--instance", instance.to_str().unwrap()];
    all.extend_from_slice(args);
    run("proj-import", &all, None)
}

type Snapshot = std::collections::BTreeMap<String, String>;

/// Everything under `root` but the instance folder (a refused import may leave its lock file
/// and an empty `imports/`; nothing registered is asserted apart).
fn snapshot_but_instance(root: &Path) -> Snapshot {
    let mut s = tree_snapshot(root);
    s.retain(|k, _| k != "instance" && !k.starts_with("instance/"));
    s
}

/// The instance folder holds no registry and nothing unpacked.
fn nothing_in(instance: &Path) {
    assert!(
        !instance.join("instance.json").exists(),
        "nothing registered"
    );
    if instance.join("imports").exists() {
        assert_eq!(
            tree_snapshot(&instance.join("imports")).len(),
            0,
            "nothing unpacked"
        );
    }
}

/// The names whose entries differ between two snapshots (none when nothing changed).
fn changed(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect()
}

/// The records of `problem` in JSON-lines output.
fn problems(o: &Output, problem: &str) -> Vec<Value> {
    json_lines(o)
        .into_iter()
        .filter(|p| p["problem"] == problem)
        .collect()
}

#[test]
fn a_project_archive_with_a_link_out_is_refused_unless_allow_missing_then_imported_without_it() {
    let (keep, _project, archive, target) = project_archive();
    let instance = keep.path().join("instance");
    let a = arg(&archive);
    let before = snapshot_but_instance(keep.path());
    let o = proj_import(&instance, &["--force", "--steal-lock", &a]);
    refused(
        &o,
        "proj-import",
        &a,
        &[
            &format!(
                "entry CS-t20s-demo/{GONE}: refused: a link to {target} leads outside the archive"
            ),
            "give --allow-missing to import without it",
        ],
    );
    let now = snapshot_but_instance(keep.path());
    assert_eq!(changed(&before, &now), Vec::<String>::new());
    nothing_in(&instance);

    let o = proj_import(
        &instance,
        &["--allow-missing", "--force", "--steal-lock", &a],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rec = &json_lines(&o)[0];
    let left: Vec<&Value> = rec["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["problem"] == "link_out_of_archive")
        .collect();
    assert_eq!(left.len(), 1, "{rec}");
    assert_eq!(left[0]["path"], GONE);
    assert_eq!(left[0]["blocking"], false);
    assert!(
        left[0]["detail"].as_str().unwrap().contains(&target),
        "{rec}"
    );
    let dir = PathBuf::from(rec["dir"].as_str().unwrap());
    assert!(
        std::fs::symlink_metadata(dir.join(GONE)).is_err(),
        "left out"
    );
    // The other movies of J1 came along (followed by job-pack tar: files now).
    let movies = std::fs::read_dir(dir.join("J1/imported")).unwrap().count();
    assert!(movies >= 5, "{movies}");
}

#[test]
fn check_of_an_archive_with_a_link_out_lists_it_as_a_problem() {
    let (keep, _project, archive, target) = project_archive();
    let instance = keep.path().join("instance");
    let before = tree_snapshot(keep.path());
    for (allow, blocking) in [(false, true), (true, false)] {
        let mut args = vec!["check", archive.to_str().unwrap()];
        if allow {
            args.push("--allow-missing");
        }
        let o = proj_import(&instance, &args);
        // J10 is running and the lock is another instance's: exit 1 in both cases.
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert_eq!(stderr(&o), "");
        let found = problems(&o, "link_out_of_archive");
        assert_eq!(found.len(), 1, "{}", stdout(&o));
        assert_eq!(found[0]["path"], GONE);
        assert_eq!(found[0]["blocking"], blocking);
        let detail = found[0]["detail"].as_str().unwrap();
        assert!(detail.contains(&target), "{detail}");
        assert!(detail.contains("--allow-missing"), "{detail}");
    }
    let now = tree_snapshot(keep.path());
    assert_eq!(
        changed(&before, &now),
        Vec::<String>::new(),
        "check writes nothing"
    );
}

#[test]
fn an_import_with_allow_missing_stopped_dead_is_finished_without_it() {
    let (keep, _project, archive, _target) = project_archive();
    let instance = keep.path().join("instance");
    let o = sh(&format!(
        "CSUTILS_FAIL_AT=registered proj-import --instance {} --allow-missing --force \
         --steal-lock {}",
        arg(&instance),
        arg(&archive)
    ));
    assert_eq!(o.status.code(), Some(137), "{}", stderr(&o));
    // Run again without --allow-missing: nothing is unpacked again, the journal finishes it.
    let o = proj_import(&instance, &["--force", "--steal-lock", &arg(&archive)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rec = &json_lines(&o)[0];
    assert_eq!(rec["project"], "P1");
    let warned = rec["warnings"].as_array().unwrap();
    assert!(
        warned
            .iter()
            .any(|w| w["problem"] == "link_out_of_archive" && w["path"] == GONE),
        "{rec}"
    );
    let imports = instance.join("imports");
    assert_eq!(std::fs::read_dir(&imports).unwrap().count(), 1, "one copy");
}

#[test]
fn an_export_tarred_without_dereferencing_imports_only_with_allow_missing() {
    let (keep, project) = project_tree();
    let archive = keep.path().join("x.tar");
    // As a user archives cryoSPARC's export: its links point into the project.
    make(&format!(
        "tar -cf {} -C {} {EXPORT}",
        arg(&archive),
        arg(&project.join("exports/jobs"))
    ));
    let links = stdout(&sh(&format!("tar -tvf {}", arg(&archive))))
        .lines()
        .filter(|l| l.starts_with('l'))
        .count();
    assert!(links > 1, "{links}");
    let (_k, target) = project_tree();
    let a = arg(&archive);
    let import = |extra: &[&str]| {
        let mut args = vec!["import", a.as_str(), "--into", target.to_str().unwrap()];
        args.extend_from_slice(extra);
        run("job-pack", &args, None)
    };
    let before = tree_snapshot(&target);
    let o = import(&[]);
    refused(
        &o,
        "job-pack",
        &a,
        &[
            &format!("entry {EXPORT}/"),
            "refused: a link to ../../../",
            "leads outside the archive (data that did not travel? give --allow-missing",
        ],
    );
    let now = tree_snapshot(&target);
    assert_eq!(changed(&before, &now), Vec::<String>::new());

    let o = import(&["--allow-missing"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e = stderr(&o);
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 2, "{e}");
    assert!(
        lines[0].starts_with(&format!(
            "job-pack: warning: {a}: {links} links lead outside the archive; not unpacked \
             (--allow-missing); the first: entry {EXPORT}/"
        )),
        "{e}"
    );
    assert!(
        lines[1].starts_with("job-pack: warning: ")
            && lines[1].contains("data file(s) named in the metadata are missing"),
        "{e}"
    );
    let rec = &json_lines(&o)[0];
    assert_eq!(rec["links_left_out"], links);
    assert_eq!(rec["job"], "J12");
    assert_eq!(rec["data_files"], 0);
    assert!(rec["missing_data_files"].as_u64().unwrap() > 0, "{rec}");
    // The job is there with J8's rows; the unpacked export is kept, without the links.
    let (_s, source) = project_tree();
    assert_eq!(
        uids(&target.join("J12/J12_imported_particles.cs")),
        uids(&source.join("J8/J8_004_particles.cs"))
    );
    let kept = target.join("imports/jobs").join(EXPORT);
    assert!(kept.join("job.json").is_file());
    let kept_links = tree_snapshot(&kept)
        .values()
        .filter(|v| v.starts_with("link"))
        .count();
    assert_eq!(kept_links, 0);
}

/// `a -> CANARY` (a folder of the test's) then a file `a/passwd`: raw entries, as a hostile
/// archive would hold them.
fn hostile_archive(dir: &Path, canary: &Path) -> PathBuf {
    let mut bytes = common::tar_entry("E/job.json", b'0', "", b"{}", None);
    bytes.extend(common::tar_entry("E/a", b'2', &arg(canary), b"", None));
    bytes.extend(common::tar_entry(
        "E/a/passwd",
        b'0',
        "",
        b"root::0:0\n",
        None,
    ));
    bytes.extend_from_slice(&[0u8; 1024]);
    let archive = dir.join("hostile.tar");
    std::fs::write(&archive, bytes).unwrap();
    archive
}

#[test]
fn a_file_behind_a_link_left_out_is_never_written_through_it() {
    let (keep, project) = project_tree();
    let canary = keep.path().join("canary");
    std::fs::create_dir(&canary).unwrap();
    let archive = hostile_archive(keep.path(), &canary);
    let a = arg(&archive);
    let instance = keep.path().join("instance");
    let before = snapshot_but_instance(keep.path());
    let runs = [
        (
            "job-pack",
            vec![
                "import",
                &a,
                "--allow-missing",
                "--into",
                project.to_str().unwrap(),
            ],
        ),
        (
            "proj-import",
            vec![
                "--instance",
                instance.to_str().unwrap(),
                "--allow-missing",
                &a,
            ],
        ),
        (
            "proj-import",
            vec![
                "--instance",
                instance.to_str().unwrap(),
                "check",
                "--allow-missing",
                &a,
            ],
        ),
    ];
    for (tool, args) in runs {
        let o = run(tool, &args, None);
        refused(
            &o,
            tool,
            &a,
            &["entry E/a/passwd: refused: it would be written through the link E/a"],
        );
        assert_eq!(std::fs::read_dir(&canary).unwrap().count(), 0, "{args:?}");
        let now = snapshot_but_instance(keep.path());
        assert_eq!(changed(&before, &now), Vec::<String>::new(), "{args:?}");
        nothing_in(&instance);
    }
}
