#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! `job.json` as cryoSPARC writes it, every version, and as it is found after copies and
//! accidents: fixture tree A (`tests/fixtures/projects/`) damaged job by job, then measured by
//! proj-du and cleared by proj-clean, and compared with the fixture's EXPECTED.json.

mod common;

use common::{
    arg, expected_projects, job_records, json_lines, project_tree, records, run, sh, stderr,
    stdout, tree_snapshot,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Rename the top-level key `from` of a `job.json` to `to`, a name of the same length, so that
/// every size the fixture's EXPECTED.json gives stays true.
fn rename_top_key(job_json: &Path, from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let text = std::fs::read_to_string(job_json).unwrap();
    let (old, new) = (format!("\n    \"{from}\": "), format!("\n    \"{to}\": "));
    assert!(text.contains(&old), "{}: no {from}", job_json.display());
    std::fs::write(job_json, text.replacen(&old, &new, 1)).unwrap();
}

/// Rewrite a `job.json` with `edit` applied; returns how many bytes the file grew by.
fn edit_job_json(job_json: &Path, edit: impl FnOnce(&mut Value)) -> i64 {
    let before = std::fs::metadata(job_json).unwrap().len() as i64;
    let mut doc = read(job_json);
    edit(&mut doc);
    std::fs::write(job_json, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    std::fs::metadata(job_json).unwrap().len() as i64 - before
}

/// Cut a file to its first `keep` bytes; returns how many bytes it lost.
fn truncate(path: &Path, keep: usize) -> i64 {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..keep]).unwrap();
    (bytes.len() - keep) as i64
}

/// Every job record of a proj-du run against EXPECTED.json, but for the jobs in `skip`; a job
/// whose `job.json` changed size by `delta[job]` bytes is that much bigger.
fn assert_expected_jobs(all: &[Value], skip: &[&str], delta: &BTreeMap<&str, i64>) {
    let exp = expected_projects();
    let clear = &exp["clear_intermediate_results"]["per_job"];
    let jobs = job_records(all);
    for (uid, e) in exp["jobs"].as_object().unwrap() {
        if skip.contains(&uid.as_str()) {
            continue;
        }
        let j = &jobs[uid];
        let size =
            e["size_cryosparc_rule"].as_i64().unwrap() + delta.get(uid.as_str()).unwrap_or(&0);
        assert_eq!(j["bytes"], size, "{uid} bytes");
        assert_eq!(j["files"], e["unique_files_counted"], "{uid} files");
        assert_eq!(j["type"], e["type"], "{uid} type");
        assert_eq!(j["status"], e["status"], "{uid} status");
        assert_eq!(j["project"], "P3", "{uid} project");
        assert_eq!(j["folder"], *uid, "{uid} folder");
        assert!(j.get("unusable").is_none(), "{uid}: {j}");
        let freed = clear[uid]["bytes"].as_u64().unwrap_or(0);
        assert_eq!(j["intermediate_bytes"], freed, "{uid} intermediate");
    }
}

/// The files EXPECTED.json says a clear of `job` removes.
fn expected_deletions(job: &str) -> Vec<String> {
    let exp = expected_projects();
    let mut files: Vec<String> = exp["clear_intermediate_results"]["per_job"][job]["delete"]
        .as_array()
        .map(|a| a.iter().map(|p| p.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// The paths of the `kind` records of `job`, sorted.
fn paths_of(all: &[Value], kind: &str, job: &str) -> Vec<String> {
    let mut p: Vec<String> = records(all, kind)
        .into_iter()
        .filter(|r| r["job"] == job)
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    p.sort();
    p
}

const ONE_UNUSABLE: &str = "could not be read (see the records with \"unusable\")";

#[test]
fn a_job_json_that_names_its_type_job_type_only_is_measured_and_cleared_as_usual() {
    let (_keep, project) = project_tree();
    for uid in expected_projects()["jobs"].as_object().unwrap().keys() {
        // The fixture writes both keys; take `type` away (same length: sizes stay true).
        rename_top_key(&project.join(uid).join("job.json"), "type", "tipe");
    }
    let o = run("proj-du", &[&arg(&project)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    let all = json_lines(&o);
    assert_expected_jobs(&all, &[], &BTreeMap::new());
    let exp = expected_projects();
    assert_eq!(
        records(&all, "project")[0]["bytes"],
        exp["sizes"]["project_size_cryosparc_rule"]
    );

    let o = run("proj-clean", &["--yes", &arg(&project)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = json_lines(&o);
    for job in ["J6", "J8", "J9"] {
        assert_eq!(
            paths_of(&all, "deleted", job),
            expected_deletions(job),
            "{job}"
        );
    }
    let j8 = read(&project.join("J8/job.json"));
    assert_eq!(j8["tipe"], "homo_refine_new", "an unknown key is kept");
    assert_eq!(j8["job_type"], "homo_refine_new");
    assert!(j8.get("type").is_none(), "no key is added under the alias");
}

#[test]
fn when_type_and_job_type_differ_type_is_taken() {
    let (_keep, project) = project_tree();
    let delta = edit_job_json(&project.join("J8/job.json"), |d| {
        d["job_type"] = json!("something_else");
    });
    let o = run("proj-du", &[&arg(&project.join("J8"))], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = &json_lines(&o)[0];
    assert_eq!(r["type"], "homo_refine_new");
    assert_eq!(r["bytes"].as_i64().unwrap(), 714935 + delta);
}

#[test]
fn keys_the_tools_do_not_need_may_be_missing_or_null() {
    let (_keep, project) = project_tree();
    // Same-length renames: no uid (J1), no project_uid (J5), no status (J11).
    rename_top_key(&project.join("J1/job.json"), "uid", "uix");
    rename_top_key(&project.join("J5/job.json"), "project_uid", "project_uix");
    rename_top_key(&project.join("J11/job.json"), "status", "statux");
    // J7: nulls where lists are expected.
    let mut delta = BTreeMap::new();
    delta.insert(
        "J7",
        edit_job_json(&project.join("J7/job.json"), |d| {
            d["children"] = Value::Null;
            d["output_result_groups"] = Value::Null;
            d["input_slot_groups"][0]["slots"] = Value::Null;
        }),
    );
    // A job that never ran: a few keys, no outputs at all.
    std::fs::create_dir(project.join("J12")).unwrap();
    let never_ran = r#"{"uid": "J12", "job_type": "homo_abinit", "status": "building"}"#;
    std::fs::write(project.join("J12/job.json"), never_ran).unwrap();

    let o = run("proj-du", &[&arg(&project)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = json_lines(&o);
    assert_expected_jobs(&all, &["J11"], &delta);
    let jobs = job_records(&all);
    assert_eq!(jobs["J1"]["job"], "J1", "known by its folder");
    assert_eq!(jobs["J11"]["status"], Value::Null);
    assert_eq!(jobs["J11"]["type"], "homo_abinit");
    assert_eq!(jobs["J11"]["bytes"], 9640);
    assert_eq!(jobs["J12"]["bytes"], never_ran.len());
    assert_eq!(jobs["J12"]["files"], 1);
    assert_eq!(jobs["J12"]["type"], "homo_abinit");
    let p = records(&all, "project")[0];
    assert_eq!(p["jobs"], 12);
    assert_eq!(p["unusable_jobs"], json!([]));

    // proj-clean: the same clear; a job with no status is left alone (it may be running).
    let o = run("proj-clean", &["--yes", &arg(&project)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = json_lines(&o);
    for job in ["J6", "J8", "J9"] {
        assert_eq!(
            paths_of(&all, "deleted", job),
            expected_deletions(job),
            "{job}"
        );
    }
    let skipped = &records(&all, "summary")[0]["skipped"];
    assert!(
        skipped
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["job"] == "J11" && s["why"].as_str().unwrap().contains("no status")),
        "{skipped}"
    );
}

#[test]
fn a_truncated_job_json_is_reported_for_its_job_and_every_other_job_is_measured() {
    let (_keep, project) = project_tree();
    let j11 = project.join("J11/job.json");
    let mut delta = BTreeMap::new();
    delta.insert("J11", -truncate(&j11, 200));
    let before = tree_snapshot(&project.join("J11"));
    let o = run("proj-du", &[&arg(&project)], None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stderr(&o), format!("proj-du: 1 job {ONE_UNUSABLE}\n"));
    let all = json_lines(&o);
    assert_expected_jobs(&all, &["J11"], &delta);
    let jobs = job_records(&all);
    let bad = &jobs["J11"];
    let why = bad["unusable"].as_str().unwrap();
    assert!(
        why.starts_with("J11/job.json: line 9: not JSON: EOF while parsing"),
        "{why}"
    );
    assert_eq!(bad["folder"], "J11");
    assert_eq!(bad["project"], "P3");
    assert_eq!(bad["type"], Value::Null);
    assert_eq!(bad["status"], Value::Null);
    assert_eq!(bad["bytes"].as_i64().unwrap(), 9640 + delta["J11"]);
    let p = records(&all, "project")[0];
    assert_eq!(p["unusable_jobs"], json!(["J11"]));
    assert_eq!(p["jobs"], 11);
    let sizes = &expected_projects()["sizes"];
    assert_eq!(
        p["bytes"].as_i64().unwrap(),
        sizes["project_size_cryosparc_rule"].as_i64().unwrap() + delta["J11"],
        "the unusable job's folder still counts"
    );
    // Records keep job order.
    let order: Vec<&str> = records(&all, "job")
        .iter()
        .map(|r| r["job"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["J1", "J2", "J3", "J4", "J5", "J6", "J7", "J8", "J9", "J10", "J11"]
    );

    // The table and the CSV show the job with its reason.
    let p = arg(&project);
    let o = sh(&format!("proj-du --table {p} | grep ' J11 '"));
    assert!(
        stdout(&o).contains("unusable: J11/job.json: line 9: not JSON"),
        "{}",
        stdout(&o)
    );
    let o = sh(&format!(
        "proj-du --csv {p} | python3 -c 'import csv,sys; rows = list(csv.DictReader(sys.stdin)); \
         print(*[r[\"kind\"] + \" \" + r[\"job\"] + \"=\" + r[\"unusable\"] for r in rows if r[\"unusable\"]], sep=\"\\n\")'"
    ));
    assert_eq!(
        o.status.code(),
        Some(1),
        "proj-du's exit status 1 through pipefail"
    );
    let csv = stdout(&o);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(
        rows[0].starts_with("job J11=J11/job.json: line 9: not JSON"),
        "{csv}"
    );
    assert_eq!(rows[1], "project =J11", "the project row lists it");

    // A job folder given on its own is reported the same way.
    let o = run("proj-du", &[&arg(&project.join("J11"))], None);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_lines(&o)[0]["unusable"], why);
    assert_eq!(
        tree_snapshot(&project.join("J11")),
        before,
        "nothing written"
    );
}

#[test]
fn proj_clean_clears_every_other_job_and_leaves_a_job_with_a_truncated_job_json_alone() {
    let (_keep, project) = project_tree();
    truncate(&project.join("J11/job.json"), 200);
    let before = tree_snapshot(&project.join("J11"));
    let o = run("proj-clean", &["--yes", &arg(&project)], None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        format!(
            "proj-clean: 1 job {}\n",
            ONE_UNUSABLE.replace("read", "read and was left alone")
        )
    );
    let all = json_lines(&o);
    let unusable = records(&all, "unusable");
    assert_eq!(unusable.len(), 1);
    assert_eq!(unusable[0]["job"], "J11");
    assert!(unusable[0]["unusable"]
        .as_str()
        .unwrap()
        .starts_with("J11/job.json: line 9: not JSON"));
    for job in ["J6", "J8", "J9"] {
        assert_eq!(
            paths_of(&all, "deleted", job),
            expected_deletions(job),
            "{job}"
        );
    }
    let summary = records(&all, "summary")[0];
    assert_eq!(summary["unusable"], json!(["J11"]));
    assert_eq!(
        summary["bytes"],
        expected_projects()["clear_intermediate_results"]["total_bytes"]
    );
    assert_eq!(tree_snapshot(&project.join("J11")), before);
    // Named on its own, it is reported the same way (not "has no job J11").
    let o = run("proj-clean", &[&arg(&project), "J11"], None);
    assert_eq!(o.status.code(), Some(1));
    let all = json_lines(&o);
    assert_eq!(records(&all, "unusable")[0]["job"], "J11");
    assert!(records(&all, "delete").is_empty());
}

#[test]
fn proj_du_update_still_writes_the_size_when_a_job_json_cannot_be_used() {
    let (_keep, project) = project_tree();
    std::fs::write(
        project.join("J4/job.json"),
        "{\"uid\": \"J4\",\n  \"status\": }",
    )
    .unwrap();
    let o = run("proj-du", &["--update", &arg(&project)], None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let all = json_lines(&o);
    let p = records(&all, "project")[0];
    assert_eq!(read(&project.join("project.json"))["size"], p["bytes"]);
    assert_eq!(
        job_records(&all)["J4"]["unusable"],
        "J4/job.json: line 2: not JSON: expected value at line 2 column 13"
    );
}

#[test]
fn proj_clean_leaves_alone_the_jobs_an_unusable_job_json_names() {
    let (_keep, project) = project_tree();
    // J9 takes J6's version 3; cut its job.json after "parents": ["J6", "J8"].
    let j9 = project.join("J9/job.json");
    let text = std::fs::read_to_string(&j9).unwrap();
    let cut = text.find("\"children\"").unwrap();
    truncate(&j9, cut);
    let before: Vec<_> = ["J6", "J8", "J9"]
        .iter()
        .map(|j| tree_snapshot(&project.join(j)))
        .collect();
    let o = run("proj-clean", &["--yes", &arg(&project)], None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let all = json_lines(&o);
    assert!(records(&all, "deleted").is_empty(), "{}", stdout(&o));
    let summary = records(&all, "summary")[0];
    for job in ["J6", "J8"] {
        let why = summary["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["job"] == job)
            .unwrap_or_else(|| panic!("{job} skipped: {summary}"))["why"]
            .as_str()
            .unwrap();
        assert!(
            why.starts_with(&format!("J9/job.json cannot be used and names {job}")),
            "{why}"
        );
    }
    let after: Vec<_> = ["J6", "J8", "J9"]
        .iter()
        .map(|j| tree_snapshot(&project.join(j)))
        .collect();
    assert_eq!(after, before);
    // proj-du's intermediate_bytes say the same: nothing to free in J6 and J8.
    let o = run("proj-du", &[&arg(&project)], None);
    let jobs = job_records(&json_lines(&o));
    assert_eq!(jobs["J6"]["intermediate_bytes"], 0);
    assert_eq!(jobs["J8"]["intermediate_bytes"], 0);
}

#[test]
fn each_kind_of_unusable_job_json_is_named_with_its_place() {
    let (_keep, project) = project_tree();
    let jj = |j: &str| project.join(j).join("job.json");
    std::fs::remove_file(jj("J2")).unwrap();
    std::fs::create_dir(jj("J2")).unwrap();
    let mut bytes = std::fs::read(jj("J3")).unwrap();
    bytes[40] = 0xff;
    std::fs::write(jj("J3"), &bytes).unwrap();
    std::fs::write(jj("J4"), "[1, 2]\n").unwrap();
    edit_job_json(&jj("J5"), |d| d["output_results"] = json!("none"));
    edit_job_json(&jj("J7"), |d| d["status"] = json!(3));
    std::fs::remove_file(jj("J11")).unwrap();
    std::os::unix::fs::symlink("gone.json", jj("J11")).unwrap();
    // A half-deleted job: its folder is there, its job.json is not.
    std::fs::remove_file(jj("J9")).unwrap();
    let before = tree_snapshot(&project);

    let expected = [
        ("J2", "J2/job.json: Is a directory"),
        ("J3", "J3/job.json: byte 40: is not UTF-8 text"),
        ("J4", "J4/job.json: is not a JSON object"),
        ("J5", "J5/job.json: key output_results: is not a list"),
        ("J7", "J7/job.json: key status: is not a string"),
        ("J9", "J9/job.json: No such file or directory"),
        ("J11", "J11/job.json: No such file or directory"),
    ];
    let o = run("proj-du", &[&arg(&project)], None);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), format!("proj-du: 7 jobs {ONE_UNUSABLE}\n"));
    let all = json_lines(&o);
    let jobs = job_records(&all);
    assert_eq!(jobs.len(), 11);
    for (job, why) in expected {
        assert_eq!(jobs[job]["unusable"], why, "{job}");
    }
    // J5's and J7's texts still name J6 and J8 (their parents and children): a clear leaves
    // those alone, so they have nothing to free.
    let named = ["J2", "J3", "J4", "J5", "J7", "J9", "J11", "J6", "J8"];
    assert_expected_jobs(&all, &named, &BTreeMap::new());
    for job in ["J6", "J8"] {
        assert_eq!(jobs[job]["intermediate_bytes"], 0, "{job}");
    }

    let o = run("proj-clean", &[&arg(&project)], None);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "proj-clean: 7 jobs could not be read and were left alone (see the records with \"unusable\")\n"
    );
    let all = json_lines(&o);
    let named: Vec<(String, String)> = records(&all, "unusable")
        .iter()
        .map(|r| {
            (
                r["job"].as_str().unwrap().to_string(),
                r["unusable"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(j, w)| (j.to_string(), w.to_string()))
        .collect();
    assert_eq!(named, expected);
    assert_eq!(tree_snapshot(&project), before, "a dry run writes nothing");
}

#[test]
fn a_job_folder_that_cannot_be_read_is_reported_for_that_job() {
    let (keep, project) = project_tree();
    sh(&format!("chmod -R a+rX {}", arg(keep.path())));
    let locked = project.join("J4");
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let bin = keep.path().join("proj-du");
    std::fs::copy(common::bin("proj-du"), &bin).unwrap();
    sh(&format!("chmod a+rx {}", arg(&bin)));
    let cmd = format!("{} {}", arg(&bin), arg(&project));
    let root = stdout(&sh("id -u")).trim() == "0";
    let o = if root {
        sh(&format!(
            "setpriv --reuid=65534 --regid=65534 --clear-groups {cmd}"
        ))
    } else {
        sh(&cmd)
    };
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let all = json_lines(&o);
    let jobs = job_records(&all);
    assert_eq!(jobs["J4"]["unusable"], "J4/job.json: Permission denied");
    assert!(stderr(&o).contains(&format!("proj-du: 1 job {ONE_UNUSABLE}")));
    assert_expected_jobs(&all, &["J4"], &BTreeMap::new());
}

#[test]
fn a_v5_job_json_with_spec_job_type_is_measured_and_cleared() {
    let (_keep, project) = project_tree();
    let j8 = project.join("J8/job.json");
    let mut delta = BTreeMap::new();
    delta.insert(
        "J8",
        edit_job_json(&j8, |d| {
            let v4 = d.clone();
            let mut outputs = serde_json::Map::new();
            for g in v4["output_result_groups"].as_array().unwrap() {
                let name = g["name"].as_str().unwrap();
                let results: Vec<Value> = v4["output_results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["group_name"] == name)
                    .map(|r| {
                        json!({"name": r["name"], "dtype": r["name"], "versions": r["versions"],
                            "metafiles": r["metafiles"], "num_items": [r["num_items"]],
                            "passthrough": r["passthrough"], "x_lab": {"keep": [1, null]}})
                    })
                    .collect();
                outputs.insert(name.into(), json!({"type": g["type"], "results": results}));
            }
            *d = json!({"uid": "J8", "project_uid": "P3", "status": "completed",
                "job_dir": "J8", "spec": {"job_type": "homo_refine_new", "outputs": outputs,
                "inputs": null, "params": {}}});
        }),
    );
    let o = run("proj-du", &[&arg(&project)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_expected_jobs(&json_lines(&o), &[], &delta);

    let o = run("proj-clean", &["--yes", &arg(&project), "J8"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = json_lines(&o);
    assert_eq!(paths_of(&all, "deleted", "J8"), expected_deletions("J8"));
    let after = read(&j8);
    assert_eq!(after["spec"]["job_type"], "homo_refine_new");
    let result = &after["spec"]["outputs"]["particles"]["results"][0];
    assert_eq!(result["x_lab"], json!({"keep": [1, null]}));
    assert_eq!(result["versions"].as_array().unwrap().len(), 1);
}

/// Every key of `after` but `changed` equals the same key of `before`, and in the same order.
fn assert_kept_but(before: &Value, after: &Value, changed: &[&str]) {
    let (b, a) = (before.as_object().unwrap(), after.as_object().unwrap());
    let keys = |m: &serde_json::Map<String, Value>| -> Vec<String> {
        m.keys()
            .filter(|k| !changed.contains(&k.as_str()))
            .cloned()
            .collect()
    };
    assert_eq!(keys(a), keys(b), "the same keys in the same order");
    for k in keys(b) {
        assert_eq!(a[&k], b[&k], "key {k}");
    }
}

#[test]
fn unknown_keys_survive_proj_clean_rewriting_job_json() {
    let (_keep, project) = project_tree();
    let j8 = project.join("J8/job.json");
    let lab = json!({"notes": ["été", {"deep": [1.5, null, true]}], "n": 12345678901234567u64});
    edit_job_json(&j8, |d| {
        d["x_lab"] = lab.clone();
        d["output_results"][0]["x_result"] = json!({"k": [[]]});
        d["params_spec"]["x_param"] = json!({"value": {"nested": "yes"}});
    });
    let before = read(&j8);
    let o = run("proj-clean", &["--yes", &arg(&project), "J8"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = read(&j8);
    assert_eq!(after["x_lab"], lab);
    assert_eq!(after["output_results"][0]["x_result"], json!({"k": [[]]}));
    assert_kept_but(
        &before,
        &after,
        &[
            "output_results",
            "last_intermediate_data_cleared_at",
            "last_intermediate_data_cleared_amount",
        ],
    );
    // Within each result only versions, metafiles and num_items may change.
    for (b, a) in before["output_results"]
        .as_array()
        .unwrap()
        .iter()
        .zip(after["output_results"].as_array().unwrap())
    {
        assert_kept_but(b, a, &["versions", "metafiles", "num_items"]);
    }
}

#[test]
fn unknown_keys_survive_proj_du_update_rewriting_project_json() {
    let (_keep, project) = project_tree();
    let pj = project.join("project.json");
    let mut doc = read(&pj);
    doc["x_site"] = json!({"racks": [{"id": "B2", "tags": ["cold", null]}], "ü": 1e-7});
    doc["project_stats"]["x_counter"] = json!([1, 2, {"three": 3}]);
    std::fs::write(&pj, serde_json::to_string(&doc).unwrap()).unwrap();
    let o = run("proj-du", &["--update", &arg(&project)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = read(&pj);
    assert_kept_but(&doc, &after, &["size"]);
    assert_eq!(after["x_site"], doc["x_site"]);
    assert_eq!(
        after["project_stats"]["x_counter"],
        json!([1, 2, {"three": 3}])
    );
}
