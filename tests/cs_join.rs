#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! cs-join and job output groups (JOB_DIR --group NAME [--group-version N]) in every tool that
//! reads them, on fixture tree A.

mod common;

use common::{
    arg, expected_projects, failed, json_lines, project_tree, refused, run, sh, stderr, stdout,
    tree_snapshot,
};
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
    let j8 = cat_uids(&[&arg(&project.join("J8")), "--group", "particles"]);
    assert_eq!(j8.len(), rows("J8_final"));
    assert_eq!(
        j8,
        cat_uids(&[&file("J8_final")]),
        "the main file's row order"
    );
    let j6v3 = cat_uids(&[
        &arg(&project.join("J6")),
        "--group",
        "particles",
        "--group-version",
        "3",
    ]);
    assert_eq!(j6v3.len(), rows("J6_version3"));
    assert_eq!(j6v3, cat_uids(&[&file("J6_version3")]));
    // The joined output has the passthrough slots too.
    let o = run(
        "cs-cat",
        &["-n", "1", &arg(&project.join("J8")), "--group", "particles"],
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
            "--group",
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
    let before = cat_uids(&[&arg(&project.join("J8")), "--group", "particles"]);
    std::fs::write(&p, v5.to_string()).unwrap();
    assert_eq!(
        cat_uids(&[&arg(&project.join("J8")), "--group", "particles"]),
        before
    );
}

#[test]
fn a_missing_output_lists_the_ones_that_exist() {
    let (_keep, project) = project_tree();
    let j8 = arg(&project.join("J8"));
    let o = run("cs-cat", &[&j8, "--group", "maps"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("J8 has no output 'maps'; its outputs are: particles, volume, mask"),
        "{}",
        stderr(&o)
    );
    let o = run("cs-cat", &[&j8], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is a job folder: give --group NAME (particles, volume, mask)"));
    let o = run(
        "cs-cat",
        &[
            &arg(&project.join("J6")),
            "--group",
            "particles",
            "--group-version",
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
    let a = sh(&format!("cs-join {j8} --group particles | md5sum"));
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

/// The tools that read a job folder's output group, each with what makes it write to stdout.
const GROUP_READERS: [&str; 5] = [
    "cs-cat",
    "cs-to-csv",
    "cs-join",
    "cs-to-star",
    "cs-to-parquet -o -",
];

#[test]
fn every_tool_reads_a_job_group_at_the_version_asked() {
    let (keep, project) = project_tree();
    let j6 = arg(&project.join("J6"));
    // Version 3 of J6's particles: its own metafile and the passthrough file, joined on uid.
    let v3 = keep.path().join("v3.cs");
    let o = sh(&format!(
        "cs-join {j6}/J6_003_particles.cs {j6}/J6_passthrough_particles.cs -o {}",
        arg(&v3)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let digest = |tool: &str, input: &str| {
        let o = sh(&format!("{tool} {input} 2> /dev/null | md5sum"));
        assert!(o.status.success(), "{tool} {input}");
        stdout(&o)
    };
    for tool in GROUP_READERS {
        let at_v3 = digest(tool, &format!("{j6} --group particles --group-version 3"));
        assert_eq!(at_v3, digest(tool, &arg(&v3)), "{tool}: version 3");
        let last = digest(tool, &format!("{j6} --group particles"));
        assert_ne!(
            at_v3, last,
            "{tool}: without --group-version, the final version"
        );
    }
}

#[test]
fn output_naming_a_group_of_the_job_folder_asks_did_you_mean_group() {
    let (_keep, project) = project_tree();
    let before = tree_snapshot(&project);
    for tool in GROUP_READERS {
        let tool = tool.split(' ').next().unwrap();
        let o = sh(&format!(
            "cd {} && {tool} J8 --output particles",
            arg(&project)
        ));
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{tool}: {e}");
        assert_eq!(e.lines().count(), 1, "{tool}: {e}");
        assert!(
            e.starts_with(&format!("{tool}: J8: --output particles"))
                && e.contains("did you mean --group particles?"),
            "{tool}: {e}"
        );
        assert!(o.stdout.is_empty(), "{tool}");
        assert_eq!(tree_snapshot(&project), before, "{tool} wrote something");
    }
    // With --group given, --output is the file to write, even one named like a group.
    let o = sh(&format!(
        "cd {} && cs-cat J8 --group volume --output particles && test -s particles",
        arg(&project)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn job_folder_messages_name_group() {
    let (_keep, project) = project_tree();
    let j8 = arg(&project.join("J8"));
    let file = arg(&project.join("J8/J8_004_particles.cs"));
    let o = run("cs-to-csv", &[&j8], None);
    refused(
        &o,
        "cs-to-csv",
        &j8,
        &["is a job folder: give --group NAME (particles, volume, mask)"],
    );
    let o = run("cs-cat", &[&file, "--group", "particles"], None);
    refused(
        &o,
        "cs-cat",
        &file,
        &["--group needs a job folder (one holding job.json)"],
    );
    let stdin = std::fs::read(project.join("J8/J8_004_particles.cs")).unwrap();
    let o = run(
        "cs-to-parquet",
        &["--group", "particles", "-o", "-"],
        Some(&stdin),
    );
    failed(&o, "cs-to-parquet", "-", &["--group needs a job folder"]);
    let o = run("cs-cat", &[&j8, "--group-version", "3"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--group <NAME>"), "{}", stderr(&o));
    // The old spellings get clap's usage error with the new name.
    for (old, new) in [
        ("--output-version", "--group-version"),
        ("--out", "--output"),
    ] {
        let o = run("cs-join", &[&j8, old, "3"], None);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stderr(&o).contains(&format!("a similar argument exists: '{new}'")),
            "{old}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn the_library_opens_a_job_group_at_a_version() {
    let (_keep, project) = project_tree();
    let lineage = &expected_projects()["particle_lineage"]["files"];
    let j6 = project.join("J6");
    let v3 = cs_format::project::open_group(&j6, "particles", Some(3)).unwrap();
    assert_eq!(v3.rows(), lineage["J6_version3"]["rows"].as_u64().unwrap());
    // The passthrough file's slots are joined in.
    let names: Vec<&str> = v3.schema().fields.iter().map(|f| f.name.as_str()).collect();
    assert!(names.contains(&"location/center_x_frac") && names.contains(&"alignments2D/pose"));
    let e = cs_format::project::open_group(&j6, "maps", None).unwrap_err();
    assert!(
        e.to_string()
            .contains("has no output 'maps'; its outputs are: particles, class_averages"),
        "{e}"
    );
    let e = cs_format::project::open_group(&j6, "particles", Some(9)).unwrap_err();
    assert!(e.to_string().contains("has no version 9"), "{e}");
}
