#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! proj-import under faults: stopped dead at every step (a fail point the debug build reads from
//! `CSUTILS_FAIL_AT`, exiting as `kill -9` would), real `kill -9` at random moments, SIGTERM and
//! SIGINT mid-way, two instances at once. After each, the tree is either the original byte for
//! byte or a complete import — after re-running the command, or `proj-import rollback`.

mod common;

use common::{arg, bin, project_tree, sh, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Steps an import can be stopped at, in order.
const STEPS: &[&str] = &["journal", "registered", "file-1", "file-5", "written"];

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every file (md5), link (target) and folder under `dir`, one line each, sorted.
fn snapshot(dir: &Path) -> String {
    let o = sh(&format!(
        "cd {} && find . -mindepth 1 \\( -type l -printf '%P link %l\\n' \\) -o \\( -type d -printf '%P/\\n' \\) -o \\( -type f -exec md5sum {{}} + \\) | sort",
        arg(dir)
    ));
    stdout(&o)
}

fn import_cmd(instance: &Path, source: &Path, fail_at: Option<&str>) -> Command {
    let mut cmd = Command::new(bin("proj-import"));
    cmd.args(["--instance", &arg(instance), "--force", "--steal-lock"])
        .arg(source)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(step) = fail_at {
        cmd.env("CSUTILS_FAIL_AT", step);
    }
    cmd
}

fn import(instance: &Path, source: &Path, fail_at: Option<&str>) -> Output {
    import_cmd(instance, source, fail_at).output().unwrap()
}

fn registry(instance: &Path) -> Vec<Value> {
    match std::fs::read_to_string(instance.join("instance.json")) {
        Ok(t) => serde_json::from_str::<Value>(&t).unwrap()["projects"]
            .as_array()
            .unwrap()
            .clone(),
        Err(_) => Vec::new(),
    }
}

/// Every csutils leftover under `dir` (journals, temporary files).
fn leftovers(dir: &Path) -> String {
    stdout(&sh(&format!(
        "find {} -name '.csutils-*' -printf '%P\\n'",
        arg(dir)
    )))
}

/// A complete import of the fixture project as `P{n}`: every job and workspace carries the new
/// uid, the title is imported once, our lock, one registry entry, no leftovers.
fn assert_complete(project: &Path, instance: &Path, n: u64) {
    let uid = format!("P{n}");
    let doc = read(&project.join("project.json"));
    assert_eq!(doc["uid"], uid.as_str());
    assert_eq!(doc["title"], "Imported: T20S demo");
    for entry in std::fs::read_dir(project).unwrap() {
        let job = entry.unwrap().path().join("job.json");
        if job.is_file() {
            assert_eq!(read(&job)["project_uid"], uid.as_str(), "{job:?}");
        }
    }
    for w in read(&project.join("workspaces.json")).as_array().unwrap() {
        assert_eq!(w["project_uid"], uid.as_str());
    }
    let id = read(&instance.join("instance.json"))["instance_id"].clone();
    assert_eq!(read(&project.join("cs.lock"))["instance_id"], id);
    let projects = registry(instance);
    assert_eq!(projects.len(), 1, "{projects:?}");
    assert_eq!(projects[0]["uid"], uid.as_str());
    assert_eq!(leftovers(project), "", "leftovers");
}

#[test]
fn an_import_stopped_dead_at_any_step_is_finished_by_running_it_again() {
    for step in STEPS {
        let (keep, project) = project_tree();
        let instance = keep.path().join("instance");
        let o = import(&instance, &project, Some(step));
        assert_eq!(o.status.code(), Some(137), "{step}: {}", stderr(&o));
        assert!(
            project.join(".csutils-import-journal.json").is_file(),
            "{step}"
        );
        if *step != "journal" {
            // Registered already: list says the import is not finished.
            let o = Command::new(bin("proj-import"))
                .args(["--instance", &arg(&instance), "list"])
                .output()
                .unwrap();
            let listed = stdout(&o);
            assert!(listed.contains("\"import_finished\":false"), "{listed}");
        }
        let o = import(&instance, &project, None);
        assert!(o.status.success(), "{step}: {}", stderr(&o));
        let record: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        assert_eq!(record["project"], "P1", "{step}");
        assert_eq!(record["killed"], serde_json::json!(["J10"]), "{step}");
        assert_complete(&project, &instance, 1);
    }
}

#[test]
fn an_import_stopped_dead_at_any_step_is_undone_by_rollback_byte_for_byte() {
    for step in STEPS {
        let (keep, project) = project_tree();
        let instance = keep.path().join("instance");
        let before = snapshot(keep.path());
        let o = import(&instance, &project, Some(step));
        assert_eq!(o.status.code(), Some(137), "{step}");
        let o = Command::new(bin("proj-import"))
            .args(["check", &arg(&project)])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        let listed = stdout(&o);
        assert!(
            listed.lines().count() == 1 && listed.contains("\"interrupted_import\""),
            "{step}: the one problem to act on: {listed}"
        );
        let o = Command::new(bin("proj-import"))
            .args(["rollback", &arg(&project)])
            .output()
            .unwrap();
        assert!(o.status.success(), "{step}: {}", stderr(&o));
        assert!(
            stdout(&o).contains("\"rolled_back\":\"P1\""),
            "{}",
            stdout(&o)
        );
        assert!(registry(&instance).is_empty(), "{step}");
        // The instance folder is new; the project tree is as it was, byte for byte.
        std::fs::remove_dir_all(&instance).unwrap();
        assert_eq!(snapshot(keep.path()), before, "{step}");
    }
}

#[test]
fn rollback_without_an_interrupted_import_is_refused() {
    let (_keep, project) = project_tree();
    let o = Command::new(bin("proj-import"))
        .args(["rollback", &arg(&project)])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no interrupted import"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn sigterm_sigint_and_sighup_mid_import_put_every_file_back() {
    for (signal, code) in [("-TERM", 143), ("-INT", 130), ("-HUP", 129)] {
        let (keep, project) = project_tree();
        let instance = keep.path().join("instance");
        let before = snapshot(&project);
        let child = import_cmd(&instance, &project, Some("pause:file-3"))
            .spawn()
            .unwrap();
        // Wait until the first files carry the new uid, then signal.
        let start = Instant::now();
        while read(&project.join("project.json"))["uid"] != "P1" {
            assert!(start.elapsed() < Duration::from_secs(30));
            std::thread::sleep(Duration::from_millis(10));
        }
        let ok = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(code), "{signal}: {}", stderr(&o));
        assert_eq!(snapshot(&project), before, "{signal}: not put back");
        assert!(registry(&instance).is_empty(), "{signal}");
    }
}

#[test]
fn kill_9_at_random_moments_then_running_again_gives_a_complete_import() {
    for round in 0..6u64 {
        let (keep, project) = project_tree();
        let instance = keep.path().join("instance");
        let mut child = import_cmd(&instance, &project, None).spawn().unwrap();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
        std::thread::sleep(Duration::from_millis((nanos + round * 7) % 60));
        let _ = child.kill();
        let _ = child.wait();
        let o = import(&instance, &project, None);
        assert!(o.status.success(), "round {round}: {}", stderr(&o));
        assert_complete(&project, &instance, 1);
    }
}

/// The fixture tree and a plain tar of its project made by GNU tar (`P3.tar` beside it).
fn fixture_tarball() -> (tempfile::TempDir, PathBuf) {
    let (keep, _project) = project_tree();
    let tarball = keep.path().join("P3.tar");
    let o = sh(&format!(
        "tar -C {} -cf {} CS-t20s-demo",
        arg(keep.path()),
        arg(&tarball)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    (keep, tarball)
}

/// The fixture project with no lock and no active job: importable without flags.
fn unlocked_project() -> (tempfile::TempDir, PathBuf) {
    let (keep, project) = project_tree();
    std::fs::remove_file(project.join("cs.lock")).unwrap();
    let job = project.join("J10/job.json");
    let mut doc = read(&job);
    doc["status"] = Value::from("completed");
    std::fs::write(&job, cs_format::project::job::to_json_text(&doc)).unwrap();
    (keep, project)
}

#[test]
fn two_instances_importing_one_unlocked_project_at_once_exactly_one_wins() {
    for round in 0..5 {
        let (keep, project) = unlocked_project();
        let a = keep.path().join("instance-a");
        let b = keep.path().join("instance-b");
        let spawn = |inst: &Path| {
            Command::new(bin("proj-import"))
                .args(["--instance", &arg(inst), &arg(&project)])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (ca, cb) = (spawn(&a), spawn(&b));
        let (oa, ob) = (
            ca.wait_with_output().unwrap(),
            cb.wait_with_output().unwrap(),
        );
        let wins = [&oa, &ob].iter().filter(|o| o.status.success()).count();
        assert_eq!(wins, 1, "round {round}: {} / {}", stderr(&oa), stderr(&ob));
        let winner = if oa.status.success() { &a } else { &b };
        let loser = if oa.status.success() { &b } else { &a };
        assert_complete(&project, winner, 1);
        assert!(registry(loser).is_empty(), "round {round}");
    }
}

#[test]
fn an_archive_import_stopped_dead_is_finished_by_running_it_again_in_the_same_folder() {
    let (keep, tarball) = fixture_tarball();
    let instance = keep.path().join("instance");
    let o = import(&instance, &tarball, Some("file-1"));
    assert_eq!(o.status.code(), Some(137), "{}", stderr(&o));
    let o = import(&instance, &tarball, None);
    assert!(o.status.success(), "{}", stderr(&o));
    let imports: Vec<String> = std::fs::read_dir(instance.join("imports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        imports,
        vec!["CS-t20s-demo".to_string()],
        "one copy, finished"
    );
    assert_complete(&instance.join("imports/CS-t20s-demo"), &instance, 1);
}

#[test]
fn a_copy_of_an_interrupted_project_is_neither_finished_nor_rolled_back() {
    let (keep, project) = project_tree();
    let instance = keep.path().join("instance");
    let o = import(&instance, &project, Some("file-1"));
    assert_eq!(o.status.code(), Some(137));
    let copy = keep.path().join("copy");
    assert!(sh(&format!("cp -a {} {}", arg(&project), arg(&copy)))
        .status
        .success());
    let original = snapshot(&project);
    let copied = snapshot(&copy);
    for args in [
        vec!["rollback", &arg(&copy)],
        vec![
            "--instance",
            &arg(&instance),
            "--force",
            "--steal-lock",
            &arg(&copy),
        ],
    ] {
        let o = Command::new(bin("proj-import"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&o).contains("is a copy or was moved"),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(snapshot(&project), original);
    assert_eq!(snapshot(&copy), copied);
    // The original still finishes.
    let o = import(&instance, &project, None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_complete(&project, &instance, 1);
}

#[test]
fn a_file_the_import_rewrites_that_is_a_symlink_is_refused_before_anything() {
    let (keep, project) = project_tree();
    let instance = keep.path().join("instance");
    let job = project.join("J11/job.json");
    std::fs::rename(&job, project.join("J11/job.real.json")).unwrap();
    std::os::unix::fs::symlink("job.real.json", &job).unwrap();
    let before = snapshot(keep.path());
    let o = import(&instance, &project, None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is a symlink"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&instance);
    assert_eq!(snapshot(keep.path()), before);
}

#[test]
fn an_interrupted_import_from_standard_input_is_named_not_unpacked_again() {
    let (keep, tarball) = fixture_tarball();
    let instance = keep.path().join("instance");
    let stdin_import = |fail: Option<&str>| {
        let mut cmd = import_cmd(&instance, Path::new("-"), fail);
        cmd.stdin(std::fs::File::open(&tarball).unwrap());
        cmd.output().unwrap()
    };
    assert_eq!(stdin_import(Some("file-1")).status.code(), Some(137));
    let o = stdin_import(None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("was interrupted in"), "{}", stderr(&o));
    let imports: Vec<_> = std::fs::read_dir(instance.join("imports"))
        .unwrap()
        .collect();
    assert_eq!(imports.len(), 1, "not unpacked a second time");
}

#[test]
fn a_project_whose_import_is_not_finished_is_not_cleaned_and_rollback_still_restores_it() {
    let (keep, project) = project_tree();
    let instance = keep.path().join("instance");
    let before = snapshot(keep.path());
    let o = import(&instance, &project, Some("file-1"));
    assert_eq!(o.status.code(), Some(137));
    let stopped = snapshot(&project);
    // proj-clean (dry run or not) and proj-du --update refuse; proj-du measures with a warning.
    for (tool, args) in [
        ("proj-clean", vec!["--yes"]),
        ("proj-clean", vec![]),
        ("proj-du", vec!["--update"]),
    ] {
        let mut all = args.clone();
        let p = arg(&project);
        all.push(&p);
        let o = common::run(tool, &all, None);
        common::refused(
            &o,
            tool,
            &p,
            &["its import is not finished", "proj-import rollback"],
        );
        assert_eq!(
            snapshot(&project),
            stopped,
            "{tool} {args:?} changed nothing"
        );
    }
    let o = common::run("proj-du", &[&arg(&project)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("proj-du: warning: "),
        "{}",
        stderr(&o)
    );
    // Rolled back, the project is as it was, byte for byte.
    let o = Command::new(bin("proj-import"))
        .args(["rollback", &arg(&project)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::remove_dir_all(&instance).unwrap();
    assert_eq!(snapshot(keep.path()), before);
}
