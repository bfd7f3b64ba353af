#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! proj-import end to end on fixture tree A: check, import (folder and archives), refusals that
//! change nothing, concurrency, list and detach.

mod common;

use common::{arg, json_lines, project_tree, run, sh, stderr, stdout, tar_entry, tree_snapshot};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Everything under a folder but the instance (which an import makes):
/// paths, contents and link targets.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    tree_snapshot(dir)
        .into_iter()
        .filter(|(k, _)| k != "instance" && !k.starts_with("instance/"))
        .collect()
}

fn import(instance: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--instance", instance.to_str().unwrap()];
    all.extend_from_slice(args);
    run("proj-import", &all, None)
}

fn mark_finished(project: &Path, job: &str) {
    let p = project.join(job).join("job.json");
    let mut doc = read(&p);
    doc["status"] = Value::from("completed");
    std::fs::write(&p, cs_format::project::job::to_json_text(&doc)).unwrap();
}

#[test]
fn check_lists_problems_and_warnings() {
    let (_keep, project) = project_tree();
    let o = run("proj-import", &["check", &arg(&project)], None);
    assert_eq!(o.status.code(), Some(1));
    let problems = json_lines(&o);
    let find = |kind: &str| problems.iter().find(|p| p["problem"] == kind).cloned();
    let active = find("active_job").unwrap();
    assert_eq!(active["path"], "J10");
    assert_eq!(active["blocking"], true);
    let dangling = find("dangling_link").unwrap();
    assert_eq!(
        dangling["blocking"], false,
        "raw data left behind is a warning"
    );
    assert!(dangling["path"]
        .as_str()
        .unwrap()
        .starts_with("J1/imported/"));
    assert_eq!(find("foreign_lock").unwrap()["blocking"], true);
}

#[test]
fn import_gives_a_new_uid_title_lock_and_registry_entry() {
    let (keep, project) = project_tree();
    let instance = keep.path().join("instance");
    let o = import(&instance, &["--force", "--steal-lock", &arg(&project)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rec = &json_lines(&o)[0];
    assert_eq!(rec["project"], "P1");
    assert_eq!(rec["title"], "Imported: T20S demo");
    assert_eq!(rec["source_uid"], "P3");
    assert_eq!(rec["jobs"], 11);
    assert_eq!(rec["killed"], serde_json::json!(["J10"]));
    let pj = read(&project.join("project.json"));
    assert_eq!(pj["uid"], "P1");
    assert_eq!(pj["title"], "Imported: T20S demo");
    assert_ne!(pj["created_at"], "2024-06-03T08:50:00.000Z");
    assert_eq!(pj["project_dir"], arg(&project.canonicalize().unwrap()));
    for n in 1..=11 {
        let jd = read(&project.join(format!("J{n}/job.json")));
        assert_eq!(jd["project_uid"], "P1", "J{n}");
    }
    assert_eq!(read(&project.join("J10/job.json"))["status"], "killed");
    for w in read(&project.join("workspaces.json")).as_array().unwrap() {
        assert_eq!(w["project_uid"], "P1");
    }
    let inst = read(&instance.join("instance.json"));
    let lock = read(&project.join("cs.lock"));
    assert_eq!(lock["instance_id"], inst["instance_id"]);
    assert_eq!(inst["projects"][0]["uid"], "P1");
    assert_eq!(inst["next_project_number"], 2);
    let o = import(&instance, &["list"]);
    let listed = json_lines(&o);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["exists"], true);
    // The imported project checks clean now (only the dangling-link warning remains).
    let o = import(&instance, &["check", &arg(&project)]);
    assert!(o.status.success(), "{}", stdout(&o));

    // Detach: unregistered, our lock removed, every project file kept.
    let before = std::fs::read_dir(&project).unwrap().count();
    let o = import(&instance, &["detach", "P1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!project.join("cs.lock").exists());
    assert!(project.join("project.json").exists());
    assert_eq!(
        std::fs::read_dir(&project).unwrap().count(),
        before - 1,
        "only cs.lock goes"
    );
    assert!(json_lines(&import(&instance, &["list"])).is_empty());
}

#[test]
fn a_finished_project_with_its_lock_stolen_imports_without_force() {
    let (keep, project) = project_tree();
    mark_finished(&project, "J10");
    let instance = keep.path().join("instance");
    let o = import(&instance, &["--steal-lock", &arg(&project)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json_lines(&o)[0]["killed"], serde_json::json!([]));
    assert_eq!(read(&project.join("J10/job.json"))["status"], "completed");
}

/// proj-du's job records and project record of a project.
fn du(project: &Path) -> (BTreeMap<String, Value>, Value) {
    let all = json_lines(&run("proj-du", &[&arg(project)], None));
    let jobs = all
        .iter()
        .filter(|r| r["kind"] == "job")
        .map(|r| (r["job"].as_str().unwrap().to_string(), r["bytes"].clone()))
        .collect();
    (jobs, all.last().unwrap().clone())
}

/// Rows of every registered final metafile.
fn metafile_rows(project: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for n in 1..=11 {
        let jd = read(&project.join(format!("J{n}/job.json")));
        for r in jd["output_results"].as_array().unwrap() {
            if let Some(m) = r["metafiles"].as_array().unwrap().last() {
                let m = m.as_str().unwrap();
                let o = run("cs-cat", &["--count", &arg(&project.join(m))], None);
                assert!(o.status.success(), "{m}");
                out.insert(m.to_string(), stdout(&o));
            }
        }
    }
    out
}

#[test]
fn archives_with_and_without_dereferencing_import_with_the_same_figures() {
    let (keep, project) = project_tree();
    mark_finished(&project, "J10");
    // `job-pack tar` stores the fixture's one dangling link as a link leading out of the archive,
    // which an import refuses (tests/job_pack.rs covers tar and dangling links): remove it.
    sh(&format!("find {} -xtype l -delete", arg(&project)));
    let (jobs_before, project_before) = du(&project);
    let rows_before = metafile_rows(&project);

    // Links followed: the project alone, self-contained.
    let deref = keep.path().join("deref.tar.zst");
    let o = run(
        "job-pack",
        &["tar", &arg(&project), "-o", &arg(&deref)],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(deref.exists());
    // Links kept: the project with the raw data beside it.
    let kept = keep.path().join("kept.tar");
    let o = sh(&format!(
        "cd {} && tar -cf {} CS-t20s-demo raw",
        arg(keep.path()),
        arg(&kept)
    ));
    assert!(o.status.success());
    let nd = keep.path().join("nd.tar.gz");
    let o = sh(&format!(
        "mkdir {d}/both && cd {d}/both && tar -xf {k} && job-pack tar --no-dereference {d}/both -o {nd}",
        d = arg(keep.path()),
        k = arg(&kept),
        nd = arg(&nd)
    ));
    assert!(o.status.success(), "{}", stderr(&o));

    for archive in [&deref, &nd] {
        let instance = keep.path().join(format!(
            "inst-{}",
            archive.file_name().unwrap().to_string_lossy()
        ));
        let o = import(&instance, &["--steal-lock", &arg(archive)]);
        assert!(o.status.success(), "{archive:?}: {}", stderr(&o));
        let rec = &json_lines(&o)[0];
        let dir = Path::new(rec["dir"].as_str().unwrap());
        assert!(dir.starts_with(instance.canonicalize().unwrap().join("imports")));
        let (jobs, p) = du(dir);
        assert_eq!(jobs, jobs_before, "{archive:?}: per-job bytes");
        assert_eq!(p["bytes"], project_before["bytes"], "{archive:?}");
        assert_eq!(metafile_rows(dir), rows_before, "{archive:?}");
    }
}

/// Refusals change nothing: not the project, not the instance.
fn refused(prepare: impl Fn(&Path), args: &[&str], message: &str) {
    let (keep, project) = project_tree();
    prepare(&project);
    let instance = keep.path().join("instance");
    let before = snapshot(keep.path());
    let mut all: Vec<&str> = args.to_vec();
    let p = arg(&project);
    all.push(&p);
    let o = import(&instance, &all);
    assert_eq!(o.status.code(), Some(1), "{message}: {}", stderr(&o));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains(message), "expected {message:?} in {e}");
    assert_eq!(snapshot(keep.path()), before, "{message}: nothing changed");
    assert!(!instance.join("instance.json").exists());
}

#[test]
fn active_jobs_are_refused() {
    refused(|_| {}, &["--steal-lock"], "J10: status running");
}

#[test]
fn a_foreign_lock_is_refused() {
    refused(
        |p| mark_finished(p, "J10"),
        &[],
        "cs.lock: held by instance 5f0c3a6e9b1d4c2e8a7f6b5c4d3e2f10",
    );
}

#[test]
fn a_missing_metafile_is_refused() {
    refused(
        |p| std::fs::remove_file(p.join("J8/J8_004_particles.cs")).unwrap(),
        &["--force", "--steal-lock"],
        "J8/J8_004_particles.cs: J8 particles/alignments3D names it, but it is missing",
    );
}

#[test]
fn a_truncated_cs_is_refused() {
    refused(
        |p| {
            let f = p.join("J6/J6_005_particles.cs");
            let len = std::fs::metadata(&f).unwrap().len();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&f)
                .unwrap()
                .set_len(len - 100)
                .unwrap();
        },
        &["--force", "--steal-lock"],
        "J6/J6_005_particles.cs:",
    );
}

#[test]
fn an_unparsable_job_json_is_refused() {
    refused(
        |p| std::fs::write(p.join("J4/job.json"), "{\"uid\": \"J4\",").unwrap(),
        &["--force", "--steal-lock"],
        "J4/job.json: ",
    );
}

#[test]
fn an_already_registered_folder_is_refused() {
    let (keep, project) = project_tree();
    let instance = keep.path().join("instance");
    let o = import(&instance, &["--force", "--steal-lock", &arg(&project)]);
    assert!(o.status.success());
    let registry = std::fs::read(instance.join("instance.json")).unwrap();
    let o = import(&instance, &["--steal-lock", &arg(&project)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is already imported as P1 at "),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read(instance.join("instance.json")).unwrap(),
        registry
    );
}

#[test]
fn two_imports_of_one_folder_at_once_one_wins() {
    let (keep, project) = project_tree();
    let instance = keep.path().join("instance");
    // No --force (which would import the folder again once the first import is done).
    mark_finished(&project, "J10");
    let o = sh(&format!(
        "for i in 1 2; do proj-import --instance {i} --steal-lock {p} > {k}/out$i 2> {k}/err$i & done; wait; cat {k}/out1 {k}/out2; cat {k}/err1 {k}/err2",
        i = arg(&instance),
        p = arg(&project),
        k = arg(keep.path())
    ));
    let text = stdout(&o);
    assert_eq!(text.matches("\"project\":\"P1\"").count(), 1, "{text}");
    assert_eq!(
        text.matches("is already imported as P1").count(),
        1,
        "{text}"
    );
    assert_eq!(
        read(&instance.join("instance.json"))["projects"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_hostile_archive_is_rejected_with_nothing_written() {
    let (keep, _project) = project_tree();
    let instance = keep.path().join("instance");
    let tarball = keep.path().join("evil.tar");
    let bytes = [
        tar_entry("P/", b'5', "", b"", None),
        tar_entry("P/project.json", b'0', "", b"{}", None),
        tar_entry("P/../../escaped.json", b'0', "", b"{}", None),
    ]
    .concat();
    std::fs::write(&tarball, bytes).unwrap();
    let o = import(&instance, &[&arg(&tarball)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("refused"), "{}", stderr(&o));
    assert!(!keep.path().join("escaped.json").exists());
    // Nothing is left: the imports folder made for the archive goes again, and the instance
    // folder this first import made with it.
    assert!(!instance.exists());
}

/// A second copy of the project beside the first (`other/CS-t20s-demo`), for links into it.
fn other_project(keep: &Path) -> std::path::PathBuf {
    let other = keep.join("other");
    std::fs::create_dir(&other).unwrap();
    let o = sh(&format!(
        "cp -a {} {}",
        arg(&keep.join("CS-t20s-demo")),
        arg(&other)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    other.join("CS-t20s-demo")
}

/// J8 becomes a link to the other project's J8.
fn link_j8_into_another_project(project: &Path) {
    let keep = project.parent().unwrap();
    let other = other_project(keep);
    std::fs::remove_dir_all(project.join("J8")).unwrap();
    std::os::unix::fs::symlink(other.join("J8"), project.join("J8")).unwrap();
}

/// J4's job.json becomes a link to a copy of it outside the project.
fn link_j4_job_json_out(project: &Path) {
    let outside = project.parent().unwrap().join("J4-job.json");
    std::fs::rename(project.join("J4/job.json"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, project.join("J4/job.json")).unwrap();
}

#[test]
fn a_job_folder_linked_into_another_project_is_refused_and_neither_tree_changes() {
    refused(
        link_j8_into_another_project,
        &["--force", "--steal-lock"],
        "J8: a link to ",
    );
    refused(
        link_j8_into_another_project,
        &["--force", "--steal-lock"],
        "outside the project: importing would rewrite J8/job.json there",
    );
}

#[test]
fn a_job_json_that_is_a_link_out_of_the_project_is_refused() {
    refused(
        link_j4_job_json_out,
        &["--force", "--steal-lock"],
        "J4/job.json: a link to ",
    );
}

#[test]
fn check_reports_every_link_out_of_the_project_as_blocking() {
    let (keep, project) = project_tree();
    link_j8_into_another_project(&project);
    link_j4_job_json_out(&project);
    let outside = keep.path().join("lock-elsewhere");
    std::fs::rename(project.join("cs.lock"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, project.join("cs.lock")).unwrap();
    let before = tree_snapshot(keep.path());
    let o = run("proj-import", &["check", &arg(&project)], None);
    assert_eq!(o.status.code(), Some(1));
    let found: Vec<(String, bool)> = json_lines(&o)
        .iter()
        .filter(|p| p["problem"] == "link_out_of_project")
        .map(|p| {
            (
                p["path"].as_str().unwrap().to_string(),
                p["blocking"] == true,
            )
        })
        .collect();
    let expected = [("cs.lock", true), ("J4/job.json", true), ("J8", true)];
    assert_eq!(found, expected.map(|(p, b)| (p.to_string(), b)));
    assert_eq!(tree_snapshot(keep.path()), before);
}

#[test]
fn check_reports_a_link_to_the_root_without_walking_it() {
    let (_keep, project) = project_tree();
    std::os::unix::fs::symlink("/", project.join("J2/root")).unwrap();
    let o = sh(&format!("timeout 20 proj-import check {}", arg(&project)));
    assert_eq!(
        o.status.code(),
        Some(1),
        "blocked by J10 and the lock, not by the link"
    );
    let link = json_lines(&o)
        .into_iter()
        .find(|p| p["problem"] == "link_not_followed")
        .unwrap();
    assert_eq!(link["path"], "J2/root");
    assert_eq!(link["blocking"], false);
    assert!(link["detail"].as_str().unwrap().starts_with("a link to /,"));
}

#[test]
fn a_folder_whose_project_json_is_not_a_project_document_is_refused_before_anything() {
    for (text, why) in [
        ("[]", "it is a JSON list"),
        ("\"P3\"", "it is a JSON string"),
        ("{\"title\": \"T20S demo\"}", "it has no \"uid\""),
    ] {
        let (keep, project) = project_tree();
        std::fs::write(project.join("project.json"), text).unwrap();
        // A link to / would take a walk a long time: nothing may be walked.
        std::os::unix::fs::symlink("/", project.join("J2/root")).unwrap();
        let before = snapshot(keep.path());
        let o = sh(&format!("timeout 20 proj-import check {}", arg(&project)));
        assert_eq!(o.status.code(), Some(1), "{text}");
        let problems = json_lines(&o);
        assert_eq!(problems.len(), 1, "{text}: {problems:?}");
        assert_eq!(problems[0]["problem"], "bad_project_json");
        let detail = problems[0]["detail"].as_str().unwrap();
        let named = format!(
            "{}: is not a project document",
            arg(&project.join("project.json"))
        );
        assert!(detail.starts_with(&named), "{detail}");
        assert!(detail.ends_with(why), "{detail}");
        let o = import(
            &keep.path().join("instance"),
            &["--force", "--steal-lock", &arg(&project)],
        );
        assert_eq!(o.status.code(), Some(1), "{text}");
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
        assert!(stderr(&o).contains(why), "{}", stderr(&o));
        assert_eq!(snapshot(keep.path()), before, "{text}: nothing changed");
    }
}
