#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! proj-import without waste or repeats, end to end on fixture tree A: `--dest` (where an
//! archive is unpacked), a project the instance already holds (refused unless `--force`),
//! `--title`, `project_stats` recounted, list/detach on an instance that does not exist.
//! Archives are made with GNU tar as users make them; every refusal leaves the whole temporary
//! folder (project, archive and instance) byte for byte as it was.

mod common;

use common::{arg, bin, json_lines, project_tree, refused, run, sh, stderr, stdout, tree_snapshot};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn import(instance: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--instance", instance.to_str().unwrap()];
    all.extend_from_slice(args);
    run("proj-import", &all, None)
}

/// `tar -cf NAME.tar -C PARENT NAME` of a folder, beside it.
fn tar_of(folder: &Path) -> PathBuf {
    let name = folder.file_name().unwrap().to_string_lossy().into_owned();
    let parent = folder.parent().unwrap();
    let tarball = parent.join(format!("{name}.tar"));
    let o = sh(&format!(
        "tar -cf {} -C {} {}",
        arg(&tarball),
        arg(parent),
        name
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    tarball
}

/// The one record of a successful import.
fn imported(o: &Output) -> Value {
    assert!(o.status.success(), "{}", stderr(o));
    json_lines(o).remove(0)
}

fn registry(instance: &Path) -> Vec<Value> {
    read(&instance.join("instance.json"))["projects"]
        .as_array()
        .unwrap()
        .clone()
}

/// Run `attempt`: it must be refused (exit 1, one stderr line starting with `file`, holding
/// every needle) and leave everything under `root` as it was.
fn refused_unchanged(root: &Path, file: &str, needles: &[&str], attempt: impl FnOnce() -> Output) {
    let before = tree_snapshot(root);
    let o = attempt();
    refused(&o, "proj-import", file, needles);
    assert_unchanged(root, &before);
}

/// Everything under `root` is as in `before` (the entries that differ are named).
fn assert_unchanged(root: &Path, before: &BTreeMap<String, String>) {
    let after = tree_snapshot(root);
    let differ: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(differ.is_empty(), "changed: {differ:?}");
}

#[test]
fn an_archive_unpacks_into_the_dest_folder_and_nowhere_else() {
    let (keep, project) = project_tree();
    let tarball = tar_of(&project);
    let big = keep.path().join("big");
    std::fs::create_dir(&big).unwrap();
    let instance = keep.path().join("instance");
    let rec = imported(&import(
        &instance,
        &[
            "--force",
            "--steal-lock",
            "--dest",
            &arg(&big),
            &arg(&tarball),
        ],
    ));
    let dir = big.canonicalize().unwrap().join("CS-t20s-demo");
    assert_eq!(rec["dir"], arg(&dir));
    let names: Vec<String> = std::fs::read_dir(&big)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["CS-t20s-demo"], "the project, and no leftovers");
    assert!(
        !instance.join("imports").exists(),
        "nothing unpacked in the instance"
    );
    let pj = read(&dir.join("project.json"));
    assert_eq!(pj["project_dir"], arg(&dir), "absolute, no trailing slash");
    assert_eq!(registry(&instance)[0]["dir"], arg(&dir));
    // The imported project is whole: proj-import's own check finds nothing blocking.
    let o = import(&instance, &["check", &arg(&dir)]);
    assert!(o.status.success(), "{}", stdout(&o));
}

#[test]
fn an_archive_imported_under_the_instance_names_its_folder_without_a_trailing_slash() {
    let (keep, project) = project_tree();
    let tarball = tar_of(&project);
    let instance = keep.path().join("instance");
    let rec = imported(&import(
        &instance,
        &["--force", "--steal-lock", &arg(&tarball)],
    ));
    let dir = instance
        .canonicalize()
        .unwrap()
        .join("imports/CS-t20s-demo");
    assert_eq!(rec["dir"], arg(&dir));
    assert_eq!(read(&dir.join("project.json"))["project_dir"], arg(&dir));
    assert_eq!(registry(&instance)[0]["dir"], arg(&dir));
}

#[test]
fn dest_with_a_project_folder_is_a_usage_error_that_creates_nothing() {
    let (keep, project) = project_tree();
    let big = keep.path().join("big");
    std::fs::create_dir(&big).unwrap();
    let before = tree_snapshot(keep.path());
    let o = import(
        &keep.path().join("instance"),
        &[
            "--force",
            "--steal-lock",
            "--dest",
            &arg(&big),
            &arg(&project),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--dest is for an archive"),
        "{}",
        stderr(&o)
    );
    assert_unchanged(keep.path(), &before);
}

#[test]
fn a_dest_that_is_missing_or_not_a_folder_is_refused_before_anything() {
    let (keep, project) = project_tree();
    let tarball = tar_of(&project);
    let instance = keep.path().join("instance");
    let missing = keep.path().join("no-such-disk");
    refused_unchanged(keep.path(), &arg(&missing), &["no such folder"], || {
        import(
            &instance,
            &[
                "--force",
                "--steal-lock",
                "--dest",
                &arg(&missing),
                &arg(&tarball),
            ],
        )
    });
    let file = keep.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    refused_unchanged(keep.path(), &arg(&file), &["is not a folder"], || {
        import(
            &instance,
            &[
                "--force",
                "--steal-lock",
                "--dest",
                &arg(&file),
                &arg(&tarball),
            ],
        )
    });
}

#[test]
fn an_import_into_dest_stopped_dead_is_finished_with_or_without_dest() {
    for step in ["journal", "registered", "file-1"] {
        for again_with_dest in [true, false] {
            let (keep, project) = project_tree();
            let tarball = tar_of(&project);
            let big = keep.path().join("big");
            std::fs::create_dir(&big).unwrap();
            let instance = keep.path().join("instance");
            let o = sh(&format!(
                "CSUTILS_FAIL_AT={step} proj-import --instance {} --force --steal-lock --dest {} {}",
                arg(&instance),
                arg(&big),
                arg(&tarball)
            ));
            assert_eq!(o.status.code(), Some(137), "{step}: {}", stderr(&o));
            let mut args = vec!["--force", "--steal-lock"];
            let big_arg = arg(&big);
            if again_with_dest {
                args.extend(["--dest", &big_arg]);
            }
            let tar_arg = arg(&tarball);
            args.push(&tar_arg);
            let rec = imported(&import(&instance, &args));
            let dir = big.canonicalize().unwrap().join("CS-t20s-demo");
            assert_eq!(
                rec["dir"],
                arg(&dir),
                "{step}: finished where it was unpacked"
            );
            assert_eq!(rec["project"], "P1", "{step}");
            assert_eq!(
                std::fs::read_dir(&big).unwrap().count(),
                1,
                "{step}: one copy"
            );
            assert!(!instance.join("imports/CS-t20s-demo").exists(), "{step}");
            assert!(!dir.join(".csutils-import-journal.json").exists(), "{step}");
            assert_eq!(registry(&instance).len(), 1, "{step}");
        }
    }
}

#[test]
fn the_same_archive_imported_again_is_refused_naming_its_uid_and_folder() {
    let (keep, project) = project_tree();
    let tarball = tar_of(&project);
    let big = keep.path().join("big");
    std::fs::create_dir(&big).unwrap();
    let instance = keep.path().join("instance");
    let first = imported(&import(
        &instance,
        &[
            "--force",
            "--steal-lock",
            "--dest",
            &arg(&big),
            &arg(&tarball),
        ],
    ));
    let dir = first["dir"].as_str().unwrap();
    let message = format!(
        "is already imported as P1 at {dir}; give --force to import it again as a new project"
    );
    for dest in [None, Some(&big)] {
        refused_unchanged(keep.path(), &arg(&tarball), &[&message], || {
            let mut args = vec!["--steal-lock".to_string()];
            if let Some(d) = dest {
                args.extend(["--dest".to_string(), arg(d)]);
            }
            args.push(arg(&tarball));
            import(
                &instance,
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
            )
        });
    }
    // The same project under the same lock (uid P3, the other instance's cs.lock), from another
    // path or from standard input: found once unpacked, and removed again.
    let elsewhere = keep.path().join("elsewhere.tar");
    std::fs::copy(&tarball, &elsewhere).unwrap();
    refused_unchanged(keep.path(), &arg(&elsewhere), &[&message], || {
        import(&instance, &["--steal-lock", &arg(&elsewhere)])
    });
    refused_unchanged(keep.path(), "-", &[&message], || {
        let args = ["--instance", &arg(&instance), "--steal-lock", "-"];
        run(
            "proj-import",
            &args,
            Some(&std::fs::read(&tarball).unwrap()),
        )
    });
    // --force: a second project, unpacked beside the first.
    let again = imported(&import(
        &instance,
        &[
            "--force",
            "--steal-lock",
            "--dest",
            &arg(&big),
            &arg(&tarball),
        ],
    ));
    assert_eq!(again["project"], "P2");
    assert_eq!(
        again["dir"],
        arg(&big.canonicalize().unwrap().join("CS-t20s-demo-2"))
    );
    let uids: Vec<Value> = registry(&instance)
        .iter()
        .map(|p| p["uid"].clone())
        .collect();
    assert_eq!(uids, ["P1", "P2"]);
}

#[test]
fn an_archive_of_a_project_this_instance_holds_is_refused_unless_force() {
    let (keep, project) = project_tree();
    let instance = keep.path().join("instance");
    let first = imported(&import(
        &instance,
        &["--force", "--steal-lock", &arg(&project)],
    ));
    let dir = first["dir"].as_str().unwrap().to_string();
    // The imported project (our cs.lock, uid P1) archived as people do.
    let tarball = tar_of(&project);
    refused_unchanged(
        keep.path(),
        &arg(&tarball),
        &[&format!("is already imported as P1 at {dir}; give --force")],
        || import(&instance, &[&arg(&tarball)]),
    );
    let again = imported(&import(&instance, &["--force", &arg(&tarball)]));
    assert_eq!(again["project"], "P2");
    assert_eq!(again["source_uid"], "P1");
    let listed = json_lines(&import(&instance, &["list"]));
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["dir"], dir.as_str(), "the first project stays");
}

#[test]
fn a_copy_of_an_imported_folder_is_refused_naming_the_original() {
    let (keep, project) = project_tree();
    let instance = keep.path().join("instance");
    let first = imported(&import(
        &instance,
        &["--force", "--steal-lock", &arg(&project)],
    ));
    let copy = keep.path().join("copy");
    let o = sh(&format!("cp -a {} {}", arg(&project), arg(&copy)));
    assert!(o.status.success());
    let dir = first["dir"].as_str().unwrap();
    refused_unchanged(
        keep.path(),
        &arg(&copy),
        &[&format!("is already imported as P1 at {dir}")],
        || import(&instance, &[&arg(&copy)]),
    );
    let again = imported(&import(&instance, &["--force", &arg(&copy)]));
    assert_eq!(again["project"], "P2");
    assert_eq!(again["title"], "Imported: T20S demo", "one prefix, not two");
}

#[test]
fn an_archive_of_a_project_whose_folder_is_gone_imports_without_force() {
    let (keep, project) = project_tree();
    let instance = keep.path().join("instance");
    imported(&import(
        &instance,
        &["--force", "--steal-lock", &arg(&project)],
    ));
    let tarball = tar_of(&project);
    std::fs::remove_dir_all(&project).unwrap();
    // Archived and deleted, then brought back: P1 is registered but its folder is gone.
    let rec = imported(&import(&instance, &[&arg(&tarball)]));
    assert_eq!(rec["project"], "P2");
}

#[test]
fn the_same_folder_again_is_refused_and_with_force_replaces_its_entry() {
    let (keep, project) = project_tree();
    let instance = keep.path().join("instance");
    let first = imported(&import(
        &instance,
        &["--force", "--steal-lock", &arg(&project)],
    ));
    let dir = first["dir"].as_str().unwrap().to_string();
    // Without --force (the steal-lock alone is not enough).
    refused_unchanged(
        keep.path(),
        &dir,
        &[&format!(
            "is already imported as P1 at {dir}; give --force to import it again as a new project"
        )],
        || import(&instance, &["--steal-lock", &arg(&project)]),
    );
    let o = import(&instance, &["--force", &arg(&project)]);
    assert_eq!(
        stderr(&o),
        format!(
            "proj-import: warning: {}: already imported as P1 at {dir}; imported again as a new \
             project (--force)\n",
            arg(&project)
        )
    );
    let rec = imported(&o);
    assert_eq!(rec["project"], "P2");
    assert_eq!(rec["replaced"], "P1");
    assert_eq!(rec["title"], "Imported: T20S demo");
    let projects = registry(&instance);
    assert_eq!(projects.len(), 1, "{projects:?}");
    assert_eq!(projects[0]["uid"], "P2");
    assert_eq!(projects[0]["dir"], dir.as_str());
    assert_eq!(read(&project.join("project.json"))["uid"], "P2");
}

#[test]
fn a_forced_import_again_stopped_dead_and_rolled_back_puts_the_old_entry_back() {
    let (keep, project) = project_tree();
    let instance = keep.path().join("instance");
    imported(&import(
        &instance,
        &["--force", "--steal-lock", &arg(&project)],
    ));
    let before = tree_snapshot(&project);
    let entries_before = registry(&instance);
    let o = sh(&format!(
        "CSUTILS_FAIL_AT=file-1 proj-import --instance {} --force {}",
        arg(&instance),
        arg(&project)
    ));
    assert_eq!(o.status.code(), Some(137), "{}", stderr(&o));
    assert_eq!(
        registry(&instance)[0]["uid"],
        "P2",
        "registered before the files"
    );
    let o = run("proj-import", &["rollback", &arg(&project)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(tree_snapshot(&project), before);
    assert_eq!(registry(&instance), entries_before);
}

#[test]
fn title_sets_the_new_projects_title() {
    let (keep, project) = project_tree();
    let instance = keep.path().join("instance");
    let title = "Proteasome, from the Lund group";
    let rec = imported(&import(
        &instance,
        &["--force", "--steal-lock", "--title", title, &arg(&project)],
    ));
    assert_eq!(rec["title"], title);
    assert_eq!(read(&project.join("project.json"))["title"], title);
    assert_eq!(registry(&instance)[0]["title"], title);
}

#[test]
fn an_empty_title_is_a_usage_error() {
    let (keep, project) = project_tree();
    let before = tree_snapshot(keep.path());
    for title in ["", "  ", "two\nlines"] {
        let o = import(
            &keep.path().join("instance"),
            &["--force", "--steal-lock", "--title", title, &arg(&project)],
        );
        assert_eq!(o.status.code(), Some(2), "{title:?}");
        assert_unchanged(keep.path(), &before);
    }
}

/// The jobs' statuses, counted by jq from the job.json files themselves.
fn statuses_by_jq(project: &Path) -> Value {
    let o = sh(&format!(
        "cd {} && jq -s 'map(.status) | group_by(.) | map({{(.[0]): length}}) | add' J*/job.json",
        arg(project)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

#[test]
fn a_forced_import_recounts_the_job_statistics_and_keeps_every_other_key() {
    let (keep, project) = project_tree();
    let before = read(&project.join("project.json"));
    assert_eq!(before["project_stats"]["job_status"]["running"], 1);
    let instance = keep.path().join("instance");
    let rec = imported(&import(
        &instance,
        &["--force", "--steal-lock", &arg(&project)],
    ));
    assert_eq!(rec["killed"], serde_json::json!(["J10"]));
    let after = read(&project.join("project.json"));
    let stats = &after["project_stats"];
    assert_eq!(stats["job_status"], statuses_by_jq(&project));
    assert!(stats["job_status"].get("running").is_none(), "{stats}");
    assert_eq!(
        stats["job_status"]["killed"].as_u64().unwrap(),
        before["project_stats"]["job_status"]["killed"]
            .as_u64()
            .unwrap_or(0)
            + 1
    );
    assert_eq!(stats["job_count"], 11);
    assert_eq!(stats["job_types"], before["project_stats"]["job_types"]);
    assert_eq!(
        stats["workspace_count"],
        before["project_stats"]["workspace_count"]
    );
    assert_eq!(
        stats["job_sections"],
        before["project_stats"]["job_sections"]
    );
    assert_ne!(stats["updated_at"], before["project_stats"]["updated_at"]);
    // Every key but the ones an import sets is kept as it was.
    let set = [
        "uid",
        "uid_num",
        "title",
        "created_at",
        "project_dir",
        "project_stats",
    ];
    for (k, v) in before.as_object().unwrap() {
        if !set.contains(&k.as_str()) {
            assert_eq!(&after[k], v, "{k}");
        }
    }
    assert_eq!(
        after.as_object().unwrap().len(),
        before.as_object().unwrap().len()
    );
}

#[test]
fn a_refused_archive_import_names_the_archive_not_a_removed_folder() {
    let (keep, project) = project_tree();
    let tarball = tar_of(&project);
    let instance = keep.path().join("instance");
    imported(&import(
        &instance,
        &["--force", "--steal-lock", &arg(&tarball)],
    ));
    // Another archive of the same name, from a second copy of the project: its J10 is running.
    let other = keep.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let o = sh(&format!("cp -a {} {}", arg(&project), arg(&other)));
    assert!(o.status.success());
    // Another project (not the one imported): another uid.
    let pj = other.join("CS-t20s-demo/project.json");
    let mut doc = read(&pj);
    doc["uid"] = Value::from("P9");
    std::fs::write(&pj, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let tarball = tar_of(&other.join("CS-t20s-demo"));
    let e = {
        let before = tree_snapshot(keep.path());
        let o = import(&instance, &["--steal-lock", &arg(&tarball)]);
        let e = refused(
            &o,
            "proj-import",
            &arg(&tarball),
            &["cannot be imported: J10: status running"],
        );
        assert_unchanged(keep.path(), &before);
        e
    };
    assert!(!e.contains("CS-t20s-demo-2"), "{e}");
}

#[test]
fn list_and_detach_on_a_missing_instance_say_so_and_create_nothing() {
    let (keep, _project) = project_tree();
    let missing = keep.path().join("instance");
    for args in [&["list"][..], &["list", "--table"], &["detach", "P1"]] {
        refused_unchanged(
            keep.path(),
            &arg(&missing),
            &["no such instance folder (nothing imported yet)"],
            || import(&missing, args),
        );
    }
    // The default instance ($XDG_DATA_HOME/csutils/instance) is not created either.
    let before = tree_snapshot(keep.path());
    let o = sh(&format!(
        "unset CSUTILS_INSTANCE; XDG_DATA_HOME={} {} list",
        arg(keep.path()),
        arg(&bin("proj-import"))
    ));
    refused(
        &o,
        "proj-import",
        &arg(&keep.path().join("csutils/instance")),
        &["no such instance folder"],
    );
    assert_unchanged(keep.path(), &before);
}

#[test]
fn import_flags_with_a_subcommand_are_a_usage_error() {
    let (keep, _project) = project_tree();
    let instance = keep.path().join("instance");
    for flag in [&["--force"][..], &["--title", "x"], &["--dest", "/tmp"]] {
        let mut args = flag.to_vec();
        args.push("list");
        let o = import(&instance, &args);
        assert_eq!(o.status.code(), Some(2), "{flag:?}: {}", stderr(&o));
    }
    assert!(!instance.exists());
}

/// Jobs by status in workspace `w`, counted by jq from the job.json files (their
/// `workspace_uids`).
fn workspace_statuses_by_jq(project: &Path, w: &str) -> (Value, Value) {
    let o = sh(&format!(
        "cd {} && jq -s -c --arg w {w} 'map(select(.workspace_uids | index($w))) | [length, (map(.status) | group_by(.) | map({{(.[0]): length}}) | add // {{}})]' J*/job.json",
        arg(project)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    (v[0].clone(), v[1].clone())
}

#[test]
fn a_forced_import_recounts_the_workspace_statistics_where_workspaces_have_them() {
    let (keep, project) = project_tree();
    // cryoSPARC v5 workspaces carry workspace_stats (tests/fixtures/cs/model_samples): stale here.
    let path = project.join("workspaces.json");
    let mut ws = read(&path);
    for w in ws.as_array_mut().unwrap() {
        w["workspace_stats"] = serde_json::json!({"updated_at": null, "job_count": 0,
            "job_sections": {"kept": true}, "job_status": {}, "job_types": {}});
    }
    std::fs::write(&path, serde_json::to_string_pretty(&ws).unwrap()).unwrap();
    let instance = keep.path().join("instance");
    imported(&import(
        &instance,
        &["--force", "--steal-lock", &arg(&project)],
    ));
    let after = read(&path);
    let mut total = 0;
    for w in after.as_array().unwrap() {
        let uid = w["uid"].as_str().unwrap();
        let (count, statuses) = workspace_statuses_by_jq(&project, uid);
        let stats = &w["workspace_stats"];
        assert_eq!(stats["job_count"], count, "{uid}");
        assert_eq!(stats["job_status"], statuses, "{uid}");
        assert_eq!(
            stats["job_sections"],
            serde_json::json!({"kept": true}),
            "{uid}"
        );
        assert!(stats["updated_at"].is_string(), "{uid}");
        assert!(stats["job_status"].get("running").is_none(), "{uid}");
        total += count.as_u64().unwrap();
    }
    assert!(total >= 11, "every job is in a workspace: {total}");
}

#[test]
fn sigterm_mid_import_into_dest_leaves_the_dest_folder_empty() {
    let (keep, project) = project_tree();
    let tarball = tar_of(&project);
    let big = keep.path().join("big");
    std::fs::create_dir(&big).unwrap();
    let instance = keep.path().join("instance");
    let child = std::process::Command::new(bin("proj-import"))
        .args(["--instance", &arg(&instance), "--force", "--steal-lock"])
        .args(["--dest", &arg(&big), &arg(&tarball)])
        .env("CSUTILS_FAIL_AT", "pause:file-3")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the project is in place and its first files carry the new uid, then signal.
    let pj = big.join("CS-t20s-demo/project.json");
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&pj).map_or(true, |t| !t.contains("\"P1\"")) {
        assert!(start.elapsed() < std::time::Duration::from_secs(30));
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let o = sh(&format!("kill -TERM {}", child.id()));
    assert!(o.status.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_dir(&big).unwrap().count(),
        0,
        "nothing left in --dest"
    );
    assert!(registry(&instance).is_empty());
}

#[test]
fn a_source_that_is_not_there_is_named_and_no_instance_is_made() {
    let (keep, _project) = project_tree();
    let instance = keep.path().join("instance");
    let missing = keep.path().join("P47.tar");
    refused_unchanged(
        keep.path(),
        &arg(&missing),
        &["No such file or directory"],
        || import(&instance, &[&arg(&missing)]),
    );
    assert!(!instance.exists());
}

#[test]
fn a_refused_first_import_leaves_no_instance_folder_behind() {
    let (keep, project) = project_tree();
    let tarball = tar_of(&project);
    let big = keep.path().join("big");
    std::fs::create_dir(&big).unwrap();
    let instance = keep.path().join("instance");
    // The fixture has a running job and another instance's lock: refused without flags.
    for args in [
        vec![arg(&project)],
        vec![arg(&tarball)],
        vec!["--dest".to_string(), arg(&big), arg(&tarball)],
    ] {
        let named = args.last().unwrap().clone();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused_unchanged(keep.path(), &named, &["cannot be imported"], || {
            import(&instance, &args)
        });
        assert!(!instance.exists(), "{args:?}: no instance folder made");
    }
    // An instance that exists is left as it is (its lock file too).
    std::fs::create_dir(&instance).unwrap();
    refused_unchanged(keep.path(), &arg(&tarball), &["cannot be imported"], || {
        import(&instance, &[&arg(&tarball)])
    });
    assert!(instance.is_dir());
}
