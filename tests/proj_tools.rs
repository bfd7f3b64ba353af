#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! proj-du and proj-clean end to end on fixture tree A (`tests/fixtures/projects/`), checked
//! against every figure of its EXPECTED.json.

mod common;

use common::{
    arg, bin, expected_projects, job_records, json_lines, project_tree, records, run, sh, stderr,
    stdout, tree_snapshot,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn proj_du_reports_every_expected_figure() {
    let (_keep, project) = project_tree();
    let exp = expected_projects();
    let o = run("proj-du", &[&arg(&project)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = json_lines(&o);
    let jobs = job_records(&all);
    let expected_jobs = exp["jobs"].as_object().unwrap();
    assert_eq!(jobs.len(), expected_jobs.len());
    let clear = &exp["clear_intermediate_results"]["per_job"];
    for (uid, e) in expected_jobs {
        let j = &jobs[uid];
        assert_eq!(j["bytes"], e["size_cryosparc_rule"], "{uid} bytes");
        assert_eq!(j["files"], e["unique_files_counted"], "{uid} files");
        assert_eq!(
            j["dangling_links"], e["dangling_symlinks"],
            "{uid} dangling"
        );
        assert_eq!(j["type"], e["type"], "{uid} type");
        assert_eq!(j["status"], e["status"], "{uid} status");
        assert_eq!(j["project"], "P3");
        let freed = clear[uid]["bytes"].as_u64().unwrap_or(0);
        assert_eq!(j["intermediate_bytes"], freed, "{uid} intermediate");
    }
    let p = records(&all, "project");
    assert_eq!(p.len(), 1);
    let p = p[0];
    let sizes = &exp["sizes"];
    assert_eq!(p["bytes"], sizes["project_size_cryosparc_rule"]);
    assert_eq!(p["bytes"], exp["project"]["project_json_size"]);
    assert_eq!(
        p["bytes_unique"],
        sizes["project_total_dedup_follow_symlinks"]
    );
    assert_eq!(p["files_unique"], sizes["project_total_unique_files"]);
    assert_eq!(p["bytes_inside"], sizes["project_bytes_inside_no_follow"]);
    assert_eq!(
        p["bytes_outside"],
        sizes["bytes_outside_project_reached_via_symlinks"]
    );
    assert_eq!(
        p["intermediate_bytes"],
        exp["clear_intermediate_results"]["total_bytes"]
    );
    assert_eq!(p["title"], exp["project"]["title"]);
    assert_eq!(p["dangling_links"], exp["dangling_symlinks"]);
    let active: Vec<Value> = exp["active_jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["job"].clone())
        .collect();
    assert_eq!(p["active_jobs"], Value::Array(active));
    // Records come job by job, then the project.
    assert_eq!(all.last().unwrap()["kind"], "project");
}

#[test]
fn proj_du_takes_a_job_folder_or_a_folder_of_projects() {
    let (keep, project) = project_tree();
    let o = run("proj-du", &[&arg(&project.join("J8"))], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = json_lines(&o);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["bytes"], 714935);
    assert_eq!(all[0]["intermediate_bytes"], 452478);

    let o = run("proj-du", &[&arg(keep.path())], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = json_lines(&o);
    assert_eq!(records(&all, "project").len(), 1, "raw/ is not a project");
    assert_eq!(records(&all, "job").len(), 11);

    let o = run("proj-du", &[&arg(&keep.path().join("raw"))], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("raw: is not a project folder"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn proj_du_table_and_csv_agree_with_json() {
    let (_keep, project) = project_tree();
    let p = arg(&project);
    let o = sh(&format!(
        "proj-du --csv {p} | awk -F, '$1 == \"project\" {{ print $7, $11, $12, $13 }}'"
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "2310683 2392998 2361664 31334\n");
    let o = sh(&format!("proj-du --csv {p} | head -1"));
    assert!(stdout(&o).starts_with("kind,project,job,type,status,"));

    let o = run("proj-du", &["--table", &p], None);
    assert!(o.status.success());
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("SIZE") && lines[0].contains("CLEARABLE"));
    // Largest job first: J8 (698K), then J9; the total last.
    assert!(
        lines[1].contains(" J8 ") && lines[1].contains("698K"),
        "{text}"
    );
    assert!(lines[2].contains(" J9 "), "{text}");
    assert!(
        lines.last().unwrap().contains("total") && lines.last().unwrap().contains("2.2M"),
        "{text}"
    );
}

#[test]
fn proj_du_update_writes_the_size_into_project_json() {
    let (_keep, project) = project_tree();
    let pj = project.join("project.json");
    let before: Value = serde_json::from_str(&std::fs::read_to_string(&pj).unwrap()).unwrap();
    let mut zeroed = before.clone();
    zeroed["size"] = Value::from(0);
    std::fs::write(&pj, serde_json::to_string_pretty(&zeroed).unwrap()).unwrap();
    let o = run("proj-du", &["--update", &arg(&project)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&pj).unwrap();
    let after: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(after, before, "only size changes, and back to 2310683");
    assert!(
        text.starts_with("{\n    \"_id\""),
        "four-space indent, keys in order"
    );
    assert!(text.ends_with("}\n"));
    let leftovers: Vec<_> = std::fs::read_dir(&project)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn symlink_loops_are_walked_once_and_self_links_count_as_dangling() {
    let (_keep, project) = project_tree();
    std::os::unix::fs::symlink(".", project.join("J2/loop")).unwrap();
    std::fs::create_dir(project.join("J3/a")).unwrap();
    std::os::unix::fs::symlink("..", project.join("J3/a/up")).unwrap();
    std::os::unix::fs::symlink("self", project.join("J4/self")).unwrap();
    let o = run("proj-du", &[&arg(&project)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = json_lines(&o);
    let jobs = job_records(&all);
    assert_eq!(jobs["J2"]["bytes"], 127226);
    assert_eq!(jobs["J3"]["bytes"], 55966);
    assert_eq!(jobs["J4"]["bytes"], 71827);
    assert_eq!(jobs["J4"]["dangling_links"], serde_json::json!(["J4/self"]));
    let p = records(&all, "project")[0];
    assert_eq!(p["bytes_unique"], 2392998);
    assert_eq!(p["bytes_inside"], 2361664);
}

#[test]
fn a_job_folder_that_is_a_symlink_is_followed_by_du_and_skipped_by_clean() {
    let (keep, project) = project_tree();
    let elsewhere = keep.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::rename(project.join("J8"), elsewhere.join("J8")).unwrap();
    std::os::unix::fs::symlink("../elsewhere/J8", project.join("J8")).unwrap();
    let o = run("proj-du", &[&arg(&project)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = json_lines(&o);
    assert_eq!(job_records(&all)["J8"]["bytes"], 714935);
    let p = records(&all, "project")[0];
    assert_eq!(p["bytes_unique"], 2392998, "same files, each once");
    // J8's files are now outside (except the hard link J5 still holds inside).
    assert_eq!(
        p["bytes_inside"].as_u64().unwrap(),
        2361664 - 714935 + 21504
    );

    let o = run("proj-clean", &["--yes", &arg(&project)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = json_lines(&o);
    let summary = records(&all, "summary")[0];
    assert!(summary["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["job"] == "J8" && s["why"] == "the job folder is a symlink"));
    assert!(elsewhere.join("J8/J8_001_particles.cs").exists());
}

/// Run a command as an unprivileged user when we are root (root reads everything).
fn unprivileged(cmd: &str) -> std::process::Output {
    let root = stdout(&sh("id -u")).trim() == "0";
    if root {
        sh(&format!(
            "setpriv --reuid=65534 --regid=65534 --clear-groups {cmd}"
        ))
    } else {
        sh(cmd)
    }
}

#[test]
fn an_unreadable_folder_is_reported_and_the_walk_goes_on() {
    let (keep, project) = project_tree();
    // The unprivileged user must reach the tree and the binary.
    sh(&format!("chmod -R a+rX {}", arg(keep.path())));
    let locked = project.join("J5/extract");
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    // A copy of the binary in the readable tree: the checkout may be in a private folder.
    let bin = keep.path().join("proj-du");
    std::fs::copy(common::bin("proj-du"), &bin).unwrap();
    sh(&format!("chmod a+rx {}", arg(&bin)));
    let o = unprivileged(&format!("{} {}", arg(&bin), arg(&project)));
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("J5/extract: Permission denied"),
        "one line per unreadable entry: {e}"
    );
    let all = json_lines(&o);
    let jobs = job_records(&all);
    assert_eq!(jobs.len(), 11, "every job is still reported");
    assert_eq!(jobs["J5"]["unreadable"], 1);
    assert!(jobs["J5"]["bytes"].as_u64().unwrap() < 203231);
    assert_eq!(jobs["J9"]["bytes"], 559649);
}

fn sorted_paths(v: &Value) -> Vec<String> {
    let mut p: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    p.sort();
    p
}

/// Every file under a folder with its size (a snapshot to compare).
fn snapshot(dir: &Path) -> BTreeMap<String, u64> {
    let o = sh(&format!(
        "cd {} && find . -type f -printf '%P %s\\n'",
        arg(dir)
    ));
    stdout(&o)
        .lines()
        .map(|l| {
            let (p, s) = l.rsplit_once(' ').unwrap();
            (p.to_string(), s.parse().unwrap())
        })
        .collect()
}

#[test]
fn proj_clean_dry_run_lists_exactly_the_expected_files_and_changes_nothing() {
    let (_keep, project) = project_tree();
    let exp = expected_projects();
    let clear = &exp["clear_intermediate_results"];
    let before = snapshot(&project);
    let o = run("proj-clean", &[&arg(&project)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(snapshot(&project), before, "a dry run changes nothing");
    let all = json_lines(&o);
    for (uid, e) in clear["per_job"].as_object().unwrap() {
        if e.get("skipped").is_some() {
            continue;
        }
        let mut listed: Vec<String> = records(&all, "delete")
            .iter()
            .filter(|r| r["job"] == *uid)
            .map(|r| r["path"].as_str().unwrap().to_string())
            .collect();
        listed.sort();
        assert_eq!(listed, sorted_paths(&e["delete"]), "{uid} delete list");
        let bytes: u64 = records(&all, "delete")
            .iter()
            .filter(|r| r["job"] == *uid)
            .map(|r| r["bytes"].as_u64().unwrap())
            .sum();
        assert_eq!(bytes, e["bytes"].as_u64().unwrap(), "{uid} bytes");
        let kept: Vec<Value> = records(&all, "keep")
            .iter()
            .filter(|r| r["job"] == *uid)
            .map(|r| {
                serde_json::json!({"group": r["group"], "result": r["result"], "version": r["version"],
                    "metafile": r["path"], "referenced_by": r["referenced_by"]})
            })
            .collect();
        assert_eq!(Value::Array(kept), e["kept_intermediate"], "{uid} kept");
    }
    let summary = records(&all, "summary")[0];
    assert_eq!(summary["files"], clear["total_files"]);
    assert_eq!(summary["bytes"], clear["total_bytes"]);
    assert_eq!(
        summary["bytes_freed_on_disk"],
        clear["total_bytes_freed_on_disk"]
    );
    assert_eq!(summary["dry_run"], true);
    assert_eq!(
        summary["skipped"],
        serde_json::json!([{"job": "J10", "why": clear["per_job"]["J10"]["skipped"]}])
    );
    for uid in clear["jobs_with_nothing_to_clear"].as_array().unwrap() {
        assert!(!records(&all, "delete").iter().any(|r| r["job"] == *uid));
    }
}

/// The registered metafiles of every job: (job, path).
fn registered_metafiles(project: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(project).unwrap() {
        let p = entry.unwrap().path().join("job.json");
        if !p.is_file() {
            continue;
        }
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        for r in doc["output_results"].as_array().unwrap() {
            for m in r["metafiles"].as_array().unwrap() {
                out.push((
                    doc["uid"].as_str().unwrap().to_string(),
                    m.as_str().unwrap().to_string(),
                ));
            }
        }
    }
    out
}

#[test]
fn proj_clean_yes_frees_the_bytes_and_keeps_every_registered_metafile_loadable() {
    let (_keep, project) = project_tree();
    let p = arg(&project);
    let du = |p: &str| job_records(&json_lines(&run("proj-du", &[p], None)));
    let before = du(&p);
    let json_size = |j: &str| {
        std::fs::metadata(project.join(j).join("job.json"))
            .unwrap()
            .len()
    };
    let json_before: BTreeMap<&str, u64> = ["J6", "J8", "J9"]
        .iter()
        .map(|j| (*j, json_size(j)))
        .collect();

    let o = run("proj-clean", &["--yes", &p], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = json_lines(&o);
    assert_eq!(records(&all, "deleted").len(), 69);
    for r in records(&all, "deleted") {
        assert!(!project.join(r["path"].as_str().unwrap()).exists());
    }

    // A second dry run finds nothing.
    let again = json_lines(&run("proj-clean", &[&p], None));
    assert_eq!(records(&again, "summary")[0]["files"], 0);
    assert!(records(&again, "delete").is_empty());

    // proj-du: the freed bytes are gone (job.json shrank or grew by its own edit).
    let after = du(&p);
    let exp = expected_projects();
    for j in ["J6", "J8", "J9"] {
        let freed = exp["clear_intermediate_results"]["per_job"][j]["bytes"]
            .as_u64()
            .unwrap();
        let json_delta = json_size(j) as i64 - json_before[j] as i64;
        assert_eq!(
            after[j]["bytes"].as_i64().unwrap(),
            before[j]["bytes"].as_i64().unwrap() - freed as i64 + json_delta,
            "{j}"
        );
        assert_eq!(after[j]["intermediate_bytes"], 0);
    }
    assert_eq!(after["J5"]["bytes"], before["J5"]["bytes"]);

    // Every remaining registered metafile loads with its rows; none is pending.
    for (job, m) in registered_metafiles(&project) {
        let o = run("cs-cat", &["--count", &arg(&project.join(&m))], None);
        assert!(o.status.success(), "{job}: {m}: {}", stderr(&o));
    }
    for j in ["J6", "J8", "J9"] {
        let text = std::fs::read_to_string(project.join(j).join("job.json")).unwrap();
        assert!(!text.contains("csutils_clear_pending"), "{j}");
        assert!(text.contains("last_intermediate_data_cleared_at"), "{j}");
    }

    // J9's input names J6 particles version 3: it still resolves, by number, to a loadable file.
    let j6: Value =
        serde_json::from_str(&std::fs::read_to_string(project.join("J6/job.json")).unwrap())
            .unwrap();
    for slot in ["blob", "alignments2D"] {
        let r = j6["output_results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["group_name"] == "particles" && r["name"] == slot)
            .unwrap();
        let versions: Vec<u64> = r["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(versions, vec![3, 5], "{slot}: kept for J9, and the final");
        let i = versions.iter().position(|&v| v == 3).unwrap();
        let m = r["metafiles"][i].as_str().unwrap();
        assert_eq!(m, "J6/J6_003_particles.cs");
        let o = run("cs-cat", &["--count", &arg(&project.join(m))], None);
        assert_eq!(stdout(&o).trim(), "120");
    }
}

#[test]
fn an_interrupted_clear_is_finished_by_the_next_run() {
    let (_keep, project) = project_tree();
    let p = arg(&project);
    let dry = json_lines(&run("proj-clean", &[&p, "J8"], None));
    let paths: Vec<Value> = records(&dry, "delete")
        .iter()
        .map(|r| r["path"].clone())
        .collect();
    assert_eq!(paths.len(), 33);
    // As if a run had rewritten job.json and stopped before removing anything.
    let jj = project.join("J8/job.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&jj).unwrap()).unwrap();
    cs_format::project::job::remove_versions(&mut doc, &|_, r, v| r != "blob" && v < 3);
    doc["csutils_clear_pending"] = Value::Array(paths.clone());
    std::fs::write(&jj, cs_format::project::job::to_json_text(&doc)).unwrap();

    let again = json_lines(&run("proj-clean", &[&p, "J8"], None));
    let listed: Vec<Value> = records(&again, "delete")
        .iter()
        .map(|r| r["path"].clone())
        .collect();
    assert_eq!(listed.len(), 33, "the left-overs are found again");
    assert!(records(&again, "delete")
        .iter()
        .all(|r| r["reason"] == "left over from an interrupted clear"));
    let o = run("proj-clean", &["--yes", &p, "J8"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    for path in &paths {
        assert!(!project.join(path.as_str().unwrap()).exists());
    }
    assert!(!std::fs::read_to_string(&jj)
        .unwrap()
        .contains("csutils_clear_pending"));
}

#[test]
fn proj_clean_never_removes_through_a_symlink_or_outside_the_job() {
    let (keep, project) = project_tree();
    // J8's version-1 map becomes a link to a file outside the project.
    let outside = keep.path().join("precious.mrc");
    std::fs::write(&outside, b"do not delete").unwrap();
    let map = project.join("J8/J8_001_volume_map.mrc");
    std::fs::remove_file(&map).unwrap();
    std::os::unix::fs::symlink(&outside, &map).unwrap();
    let o = run("proj-clean", &["--yes", &arg(&project), "J8"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = json_lines(&o);
    assert_eq!(records(&all, "deleted").len(), 32);
    assert!(outside.exists());
    assert!(
        std::fs::symlink_metadata(&map).is_ok(),
        "the link itself is left"
    );
}

#[test]
fn paths_that_are_not_projects_are_named() {
    let (_keep, project) = project_tree();
    let o = run("proj-clean", &[&arg(&project.join("J8"))], None);
    assert_eq!(o.status.code(), Some(1));
    let hint = format!(
        "looks like a job folder: try `proj-clean {} J8`",
        arg(&project)
    );
    assert!(stderr(&o).contains(&hint), "{}", stderr(&o));
    let o = run("proj-clean", &[&arg(&project.join("J8/gridfs_data"))], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is not a project folder"),
        "{}",
        stderr(&o)
    );
    let o = run("proj-du", &["/nonexistent/x"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/x: does not exist"));
}

#[test]
fn proj_clean_names_an_unknown_job() {
    let (_keep, project) = project_tree();
    let o = run("proj-clean", &[&arg(&project), "J99"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("has no job J99"), "{}", stderr(&o));
}

/// proj-du's records without the list of links it did not follow.
fn du_figures(o: &std::process::Output) -> Vec<Value> {
    json_lines(o)
        .into_iter()
        .map(|mut r| {
            r.as_object_mut().unwrap().remove("links_not_followed");
            r
        })
        .collect()
}

#[test]
fn proj_du_does_not_follow_links_to_the_root_or_to_a_folder_that_holds_the_project() {
    let (keep, project) = project_tree();
    let p = arg(&project);
    let plain = run("proj-du", &[&p], None);
    assert!(plain.status.success(), "{}", stderr(&plain));
    let job = run("proj-du", &[&arg(&project.join("J2"))], None);
    // The fixture's raw data lie outside the project and still count.
    assert_eq!(
        records(&json_lines(&plain), "project")[0]["bytes_outside"],
        31334
    );
    let above = keep.path().canonicalize().unwrap();
    std::os::unix::fs::symlink("/", project.join("J2/root")).unwrap();
    std::os::unix::fs::symlink(&above, project.join("J3/tree")).unwrap();
    std::os::unix::fs::symlink("../..", project.join("exports/jobs/up")).unwrap();
    std::os::unix::fs::symlink("/", project.join("root")).unwrap();
    let o = sh(&format!("timeout 20 proj-du {p}"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(du_figures(&o), du_figures(&plain), "the same figures");
    let all = json_lines(&o);
    assert_eq!(
        records(&all, "project")[0]["links_not_followed"],
        serde_json::json!(["J2/root", "J3/tree", "exports/jobs/up", "root"])
    );
    assert_eq!(
        job_records(&all)["J2"]["links_not_followed"],
        serde_json::json!(["J2/root"])
    );
    let e = stderr(&o);
    let project_real = project.canonicalize().unwrap();
    for (link, target) in [
        ("J2/root", "/".to_string()),
        ("J3/tree", arg(&above)),
        ("exports/jobs/up", arg(&project_real)),
        ("root", "/".to_string()),
    ] {
        let line = format!("{} -> {target}: ", arg(&project.join(link)));
        assert!(e.contains(&line), "{line} in {e}");
    }
    assert_eq!(e.lines().count(), 4, "{e}");
    // A job folder on its own: the project around it is the tree.
    let o = sh(&format!("timeout 20 proj-du {}", arg(&project.join("J2"))));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(du_figures(&o), du_figures(&job));
    assert!(stderr(&o).contains("J2/root -> /: "), "{}", stderr(&o));
}

#[test]
fn proj_clean_never_rewrites_a_job_json_that_links_out_of_the_project() {
    let (keep, project) = project_tree();
    let outside = keep.path().join("J8-job.json");
    std::fs::rename(project.join("J8/job.json"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, project.join("J8/job.json")).unwrap();
    let j8 = tree_snapshot(&project.join("J8"));
    let before = tree_snapshot(keep.path());
    let o = run("proj-clean", &[&arg(&project), "J8"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run("proj-clean", &["--yes", &arg(&project)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = json_lines(&o);
    let summary = records(&all, "summary")[0];
    let why = summary["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["job"] == "J8")
        .map(|s| s["why"].as_str().unwrap().to_string())
        .unwrap();
    let expected = format!(
        "J8/job.json is a link to {}, outside the project",
        arg(&outside.canonicalize().unwrap())
    );
    assert!(why.starts_with(&expected), "{why}");
    assert!(records(&all, "deleted").iter().all(|r| r["job"] != "J8"));
    assert_eq!(tree_snapshot(&project.join("J8")), j8, "J8 untouched");
    let after = tree_snapshot(keep.path());
    assert_eq!(
        after["J8-job.json"], before["J8-job.json"],
        "the linked job.json untouched"
    );
    assert_ne!(after, before, "the other jobs were cleared");
}

#[test]
fn proj_du_update_never_writes_through_a_project_json_that_links_out() {
    let (keep, project) = project_tree();
    let outside = keep.path().join("project.json");
    std::fs::rename(project.join("project.json"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, project.join("project.json")).unwrap();
    let before = tree_snapshot(keep.path());
    let o = run("proj-du", &["--update", &arg(&project)], None);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("project.json is a link to "), "{e}");
    assert!(o.stdout.is_empty());
    assert_eq!(tree_snapshot(keep.path()), before);
}

#[test]
fn a_project_json_that_is_not_a_project_document_is_refused_before_anything() {
    for (text, why) in [
        ("[]", "it is a JSON list"),
        ("\"P3\"", "it is a JSON string"),
        (
            "{\"title\": \"T20S demo\", \"size\": 1}",
            "it has no \"uid\"",
        ),
    ] {
        let (keep, project) = project_tree();
        std::fs::write(project.join("project.json"), text).unwrap();
        let before = tree_snapshot(keep.path());
        let p = arg(&project);
        let named = format!(
            "{}: is not a project document (a JSON object with a \"uid\"): {why}",
            arg(&project.join("project.json"))
        );
        for args in [
            vec!["proj-du", &p],
            vec!["proj-du", "--update", &p],
            vec!["proj-du", "--update", keep.path().to_str().unwrap()],
            vec!["proj-du", &arg(&project.join("J8"))],
            vec!["proj-clean", &p],
            vec!["proj-clean", "--yes", &p],
        ] {
            let o = run(args[0], &args[1..], None);
            assert_eq!(o.status.code(), Some(1), "{args:?}");
            assert_eq!(stderr(&o), format!("{}: {named}\n", args[0]), "{args:?}");
            assert!(o.stdout.is_empty(), "{args:?}");
            assert_eq!(
                tree_snapshot(keep.path()),
                before,
                "{args:?}: nothing changed"
            );
        }
    }
}

/// Read one line from a pipe a byte at a time (leaving the rest in the pipe).
fn read_line_from(pipe: &mut impl std::io::Read) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8];
    while pipe.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    String::from_utf8(line).unwrap()
}

/// Wait until `count` stops changing for half a second (at most 20 s).
fn settle(count: impl Fn() -> usize) {
    let start = std::time::Instant::now();
    let (mut last, mut since) = (count(), std::time::Instant::now());
    while since.elapsed() < std::time::Duration::from_millis(500) {
        assert!(start.elapsed().as_secs() < 20, "still changing after 20 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
        let now = count();
        if now != last {
            (last, since) = (now, std::time::Instant::now());
        }
    }
}

#[test]
fn proj_clean_yes_killed_half_way_has_reported_every_file_it_removed() {
    use std::io::Read;
    let (_keep, project) = project_tree();
    let p = arg(&project);
    let plan: Vec<String> = records(&json_lines(&run("proj-clean", &[&p], None)), "delete")
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(plan.len(), 69);
    // Its standard output is a 4 KiB pipe (python3 shrinks it, then proj-clean replaces the
    // shell) that is read one record and then not at all: the run blocks on its output after a
    // few dozen records and is killed there.
    let mut child = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "python3 -c 'import fcntl; fcntl.fcntl(1, 1031, 4096)' && exec {} --yes {p}",
            arg(&bin("proj-clean"))
        ))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut pipe = child.stdout.take().unwrap();
    let line = read_line_from(&mut pipe);
    assert!(
        !line.is_empty(),
        "no output: this test needs python3 to shrink the pipe"
    );
    let first: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(first["kind"], "keep");
    let removed = || plan.iter().filter(|f| !project.join(f).exists()).count();
    settle(removed);
    assert!(
        child.try_wait().unwrap().is_none(),
        "proj-clean finished before it could be killed"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let mut rest = String::new();
    pipe.read_to_string(&mut rest).unwrap();
    let reported: Vec<String> = rest
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["kind"] == "deleted")
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    let gone: Vec<String> = plan
        .iter()
        .filter(|f| !project.join(f).exists())
        .cloned()
        .collect();
    assert!(
        !reported.is_empty() && gone.len() < plan.len(),
        "killed half-way"
    );
    assert_eq!(reported, plan[..reported.len()], "reported in order");
    // Every file reported was removed; every file removed was reported, but for the one whose
    // record was on its way when the run was killed.
    assert!(
        gone == reported || gone == plan[..reported.len() + 1],
        "reported {reported:?}, removed {gone:?}"
    );
    // The next run finishes the clear.
    let o = run("proj-clean", &["--yes", &p], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(plan.iter().all(|f| !project.join(f).exists()));
}
