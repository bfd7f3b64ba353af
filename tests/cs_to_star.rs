#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! cs-to-star end to end (values are checked with the `starfile` package in
//! tests/diff/star_check.py).

mod common;

use common::{arg, cs_fixture, project_tree, run, stderr, stdout};

/// The data lines of the particles block.
fn particle_lines(star: &str) -> Vec<Vec<String>> {
    let block = star.split("data_particles").nth(1).unwrap();
    block
        .lines()
        .filter(|l| {
            !l.is_empty() && !l.starts_with('_') && !l.starts_with("loop_") && !l.starts_with('#')
        })
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[test]
fn an_output_reference_gives_one_line_per_particle() {
    let (_keep, project) = project_tree();
    let o = run(
        "cs-to-star",
        &[&arg(&project.join("J8")), "--output", "particles"],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("data_optics") && text.contains("_rlnAngleTilt"));
    let lines = particle_lines(&text);
    assert_eq!(lines.len(), 100);
    assert!(
        lines[0][0].starts_with("000") && lines[0][0].contains("@J5/extract/"),
        "{:?}",
        lines[0]
    );
    // Unmapped fields are named once, on one line.
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("pick_stats/ncc_score"));
}

#[test]
fn multi_class_outputs_take_the_most_likely_class() {
    let f = cs_fixture("many_fields_100_classes.numpy.cs");
    let o = run("cs-to-star", &[&arg(&f)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let header: Vec<&str> = text
        .split("data_particles")
        .nth(1)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("_rln"))
        .collect();
    let class_col = header
        .iter()
        .position(|h| h.starts_with("_rlnClassNumber"))
        .unwrap();
    // The most likely class of the first particle, from cs-cat.
    let row = stdout(&run("cs-cat", &["-n", "1", &arg(&f)], None));
    let row: serde_json::Value = serde_json::from_str(row.lines().next().unwrap()).unwrap();
    let best = (0..100)
        .max_by(|&a, &b| {
            let p = |k: usize| {
                row[format!("alignments_class_{k}/class_posterior")]
                    .as_f64()
                    .unwrap()
            };
            p(a).partial_cmp(&p(b)).unwrap().then(b.cmp(&a))
        })
        .unwrap();
    assert_eq!(particle_lines(&text)[0][class_col], (best + 1).to_string());
}

#[test]
fn standard_input_and_non_particles_are_refused() {
    let f = cs_fixture("particles_1000.numpy.cs");
    let bytes = std::fs::read(&f).unwrap();
    let o = run("cs-to-star", &["-"], Some(&bytes));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("reads its input twice"),
        "{}",
        stderr(&o)
    );
    let o = run(
        "cs-to-star",
        &[&arg(&cs_fixture("all_numeric_dtypes.numpy.cs"))],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("has no blob/path field"),
        "{}",
        stderr(&o)
    );
}
