#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! cs-join and output references (JOB_DIR --output NAME) on fixture tree A.

mod common;

use common::{arg, expected_projects, json_lines, project_tree, run, sh, stderr, stdout};
use serde_json::Value;

fn uids(o: &std::process::Output) -> Vec<String> {
    assert!(o.status.success(), "{}", stderr(o));
    json_lines(o)
        .iter()
        .map(|v| v["uid"].as_str().unwrap().to_string())
        .collect()
}

fn cat_uids(args: &[&str]) -> Vec<String> {
    let mut all = vec!["--int64-as-string", "-f", "uid"];
    all.extend_from_slice(args);
    uids(&run("cs-cat", &all, None))
}

#[test]
fn output_references_give_the_rows_expected_names() {
    let (_keep, project) = project_tree();
    let lineage = &expected_projects()["particle_lineage"]["files"];
    let file = |k: &str| arg(&project.join(lineage[k]["file"].as_str().unwrap()));
    let rows = |k: &str| lineage[k]["rows"].as_u64().unwrap() as usize;
    let j8 = cat_uids(&[&arg(&project.join("J8")), "--output", "particles"]);
    assert_eq!(j8.len(), rows("J8_final"));
    assert_eq!(
        j8,
        cat_uids(&[&file("J8_final")]),
        "the main file's row order"
    );
    let j6v3 = cat_uids(&[
        &arg(&project.join("J6")),
        "--output",
        "particles",
        "--output-version",
        "3",
    ]);
    assert_eq!(j6v3.len(), rows("J6_version3"));
    assert_eq!(j6v3, cat_uids(&[&file("J6_version3")]));
    // The joined output has the passthrough slots too.
    let o = run(
        "cs-cat",
        &[
            "-n",
            "1",
            &arg(&project.join("J8")),
            "--output",
            "particles",
        ],
        None,
    );
    let row = &json_lines(&o)[0];
    for key in [
        "alignments3D/pose",
        "blob/path",
        "ctf/df1_A",
        "location/center_x_frac",
        "pick_stats/ncc_score",
    ] {
        assert!(row.get(key).is_some(), "{key}");
    }
    // cs-to-csv reads references too.
    let o = run(
        "cs-to-csv",
        &[
            &arg(&project.join("J8")),
            "--output",
            "volume",
            "-f",
            "uid,map/path",
        ],
        None,
    );
    assert_eq!(stdout(&o).lines().count(), 2);
    assert!(stdout(&o).contains("J8/J8_004_volume_map.mrc"));
}

#[test]
fn a_v5_job_json_resolves_the_same_output() {
    let (_keep, project) = project_tree();
    // J8's document rewritten in the v5 layout (spec.outputs).
    let p = project.join("J8/job.json");
    let v4: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let mut outputs = serde_json::Map::new();
    for g in v4["output_result_groups"].as_array().unwrap() {
        let name = g["name"].as_str().unwrap();
        let results: Vec<Value> = v4["output_results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["group_name"] == name)
            .map(|r| {
                serde_json::json!({"name": r["name"], "dtype": r["name"], "versions": r["versions"],
                    "metafiles": r["metafiles"], "num_items": [r["num_items"]], "passthrough": r["passthrough"]})
            })
            .collect();
        outputs.insert(
            name.into(),
            serde_json::json!({"type": g["type"], "results": results}),
        );
    }
    let v5 = serde_json::json!({"uid": "J8", "project_uid": "P3", "status": "completed",
        "spec": {"type": "homo_refine_new", "outputs": outputs, "inputs": {}}});
    let before = cat_uids(&[&arg(&project.join("J8")), "--output", "particles"]);
    std::fs::write(&p, v5.to_string()).unwrap();
    assert_eq!(
        cat_uids(&[&arg(&project.join("J8")), "--output", "particles"]),
        before
    );
}

#[test]
fn a_missing_output_lists_the_ones_that_exist() {
    let (_keep, project) = project_tree();
    let j8 = arg(&project.join("J8"));
    let o = run("cs-cat", &[&j8, "--output", "maps"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("J8 has no output 'maps'; its outputs are: particles, volume, mask"),
        "{}",
        stderr(&o)
    );
    let o = run("cs-cat", &[&j8], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is a job folder: give --output NAME (particles, volume, mask)"));
    let o = run(
        "cs-cat",
        &[
            &arg(&project.join("J6")),
            "--output",
            "particles",
            "--output-version",
            "9",
        ],
        None,
    );
    assert!(stderr(&o).contains("has no version 9"), "{}", stderr(&o));
}

#[test]
fn cs_join_inner_left_and_fill() {
    let (keep, project) = project_tree();
    let picked = arg(&project.join("J5/extracted_particles.cs"));
    let j8 = arg(&project.join("J8/J8_004_particles.cs"));
    let inner = uids(&run("cs-join", &["--int64-as-string", &picked, &j8], None));
    assert_eq!(inner.len(), 100);
    let o = run("cs-join", &["--left", &picked, &j8], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is not in") && stderr(&o).contains("--fill"),
        "{}",
        stderr(&o)
    );
    let o = run(
        "cs-join",
        &["--left", "--fill", "--int64-as-string", &picked, &j8],
        None,
    );
    let rows = json_lines(&o);
    assert_eq!(rows.len(), 120);
    assert!(rows.iter().any(|r| r["alignments3D/error"] == 0.0));
    // -o writes a .cs that cs-cat reads back; an existing one needs --force.
    let out = keep.path().join("joined.cs");
    let o = run("cs-join", &[&picked, &j8, "-o", &arg(&out)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let o2 = run("cs-join", &[&picked, &j8, "-o", &arg(&out)], None);
    assert_eq!(o2.status.code(), Some(1));
    assert!(stderr(&o2).contains("exists"));
    let joined = sh(&format!("cs-cat {} | md5sum", arg(&out)));
    let direct = sh(&format!("cs-join {picked} {j8} | md5sum"));
    assert_eq!(stdout(&joined), stdout(&direct));
}

#[test]
fn cs_join_of_a_job_output_equals_cs_cat_of_it() {
    let (_keep, project) = project_tree();
    let j8 = arg(&project.join("J8"));
    let a = sh(&format!("cs-join {j8} --output particles | md5sum"));
    let b = sh(&format!(
        "cs-join {d}/J8_004_particles.cs {d}/J8_passthrough_particles.cs | md5sum",
        d = arg(&project.join("J8"))
    ));
    assert!(a.status.success() && b.status.success());
    assert_eq!(stdout(&a), stdout(&b));
}

#[test]
fn a_bad_cell_is_named_with_the_input_that_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let good = common::cs_fixture("particles_1000.numpy.cs");
    let mut bad = std::fs::read(&good).unwrap();
    bad[1792 + 455 * 3 + 8 + 2] = 0xff; // row 3's blob/path
    std::fs::write(dir.path().join("bad.cs"), &bad).unwrap();
    let good = arg(&good);
    for args in [
        format!("{good} bad.cs"),
        format!("bad.cs {good}"),
        format!("bad.cs {good} -o out.cs"),
        format!("{good} bad.cs -o out.cs"),
    ] {
        let o = common::run_capped(dir.path(), &format!("cs-join {args}"));
        common::refused(
            &o,
            "cs-join",
            "bad.cs",
            &["row 3, field blob/path", "invalid UTF-8"],
        );
    }
    assert!(!dir.path().join("out.cs").exists());
}
