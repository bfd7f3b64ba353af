#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! cs-to-star end to end (values are checked with the `starfile` package in
//! tests/diff/star_check.py).

mod common;

use common::{arg, cs_fixture, fixture, project_tree, run, sh, stderr, stdout};
use std::collections::HashMap;

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
        &[&arg(&project.join("J8")), "--group", "particles"],
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
    // Fields left out are named once, on one line, grouped by slot; the alignments3D fields
    // that were used (pose, shift, psize, class, split) are not among them. This output also
    // carries a 2D classification's alignments2D, which are all left out.
    let note = stderr(&o);
    assert_eq!(note.lines().count(), 1, "{note}");
    assert!(
        note.contains("pick_stats: ncc_score, power, template_idx, angle_rad (4)"),
        "{note}"
    );
    assert!(
        note.contains("alignments2D: split, shift, pose, psize_A"),
        "{note}"
    );
    let three_d = note
        .split("alignments3D: ")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    assert!(three_d.ends_with("(13)"), "{three_d}");
    for used in ["shift,", "split", " class,", "pose,", "psize_A"] {
        assert!(
            !three_d.contains(used),
            "{used} is used, yet listed: {note}"
        );
    }
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

/// Column name → index, and the rows, of a STAR table (`data_particles` or `data_images`).
fn table(star: &str, name: &str) -> (HashMap<String, usize>, Vec<Vec<String>>) {
    let block = star.split(name).nth(1).unwrap();
    let block = block.split("\ndata_").next().unwrap();
    let mut cols = HashMap::new();
    for l in block.lines().filter(|l| l.starts_with("_rln")) {
        let n = l[1..].split_whitespace().next().unwrap().to_string();
        let k = cols.len();
        cols.insert(n, k);
    }
    let rows = block
        .lines()
        .filter(|l| {
            !l.trim().is_empty()
                && !l.starts_with('_')
                && !l.starts_with("loop_")
                && !l.starts_with('#')
        })
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    (cols, rows)
}

/// RELION's rotation matrix of Euler angles in degrees (Euler_angles2matrix).
fn relion_matrix(rot: f64, tilt: f64, psi: f64) -> [[f64; 3]; 3] {
    let (sa, ca) = rot.to_radians().sin_cos();
    let (sb, cb) = tilt.to_radians().sin_cos();
    let (sg, cg) = psi.to_radians().sin_cos();
    let (cc, cs, sc, ss) = (cb * ca, cb * sa, sb * ca, sb * sa);
    [
        [cg * cc - sg * sa, cg * cs + sg * ca, -cg * sb],
        [-sg * cc - cg * sa, -sg * cs + cg * ca, sg * sb],
        [sc, ss, cb],
    ]
}

/// Each particle's rotation matrix, by image name.
fn rotations(star: &str) -> HashMap<String, [[f64; 3]; 3]> {
    let (cols, rows) = table(star, "data_particles");
    let f = |r: &Vec<String>, c: &str| r[cols[c]].parse::<f64>().unwrap();
    rows.iter()
        .map(|r| {
            let m = relion_matrix(
                f(r, "rlnAngleRot"),
                f(r, "rlnAngleTilt"),
                f(r, "rlnAnglePsi"),
            );
            (r[cols["rlnImageName"]].clone(), m)
        })
        .collect()
}

#[test]
fn rotations_equal_pyems_reference_file() {
    let o = run(
        "cs-to-star",
        &[&arg(&cs_fixture("particles_1000.numpy.cs"))],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let ours = rotations(&stdout(&o));
    let reference =
        std::fs::read_to_string(fixture("star/particles_1000.numpy.pyem.star")).unwrap();
    let pyem = rotations(&reference);
    assert_eq!(ours.len(), 1000);
    assert_eq!(pyem.len(), 1000);
    for (name, m) in &pyem {
        let ours = ours.get(name).unwrap_or_else(|| panic!("{name} missing"));
        for i in 0..3 {
            for j in 0..3 {
                assert!(
                    (ours[i][j] - m[i][j]).abs() < 1e-4,
                    "{name}: {ours:?} vs pyem {m:?}"
                );
            }
        }
    }
}

#[test]
fn standard_input_gives_the_same_file_as_a_path() {
    let f = cs_fixture("particles_1000.numpy.cs");
    let from_file = run("cs-to-star", &[&arg(&f)], None);
    let bytes = std::fs::read(&f).unwrap();
    let from_stdin = run("cs-to-star", &["-"], Some(&bytes));
    let implicit = run("cs-to-star", &[], Some(&bytes));
    assert!(from_stdin.status.success(), "{}", stderr(&from_stdin));
    assert_eq!(stdout(&from_file), stdout(&from_stdin));
    assert_eq!(stdout(&from_file), stdout(&implicit));
}

#[test]
fn passthrough_files_join_on_uid_with_the_main_files_rows_and_values() {
    let main = fixture("star/passthrough_main.cs");
    let pt = fixture("star/passthrough_particles.cs");
    let o = run("cs-to-star", &[&arg(&main), &arg(&pt)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let (cols, rows) = table(&stdout(&o), "data_particles");
    // 25 particles of the main file are not in the passthrough file: left out, and said.
    assert_eq!(rows.len(), 975);
    assert!(
        stderr(&o).contains("25 of 1000 particles are missing"),
        "{}",
        stderr(&o)
    );
    for c in [
        "rlnDefocusU",
        "rlnMicrographName",
        "rlnCoordinateX",
        "rlnAngleRot",
    ] {
        assert!(cols.contains_key(c), "{c}");
    }
    // The passthrough's rows are shuffled: each particle still gets its own CTF.
    let whole = run(
        "cs-to-star",
        &[&arg(&cs_fixture("particles_1000.numpy.cs"))],
        None,
    );
    let (wcols, wrows) = table(&stdout(&whole), "data_particles");
    let by_name: HashMap<&str, &Vec<String>> = wrows
        .iter()
        .map(|r| (r[wcols["rlnImageName"]].as_str(), r))
        .collect();
    for r in &rows {
        let w = by_name[r[cols["rlnImageName"]].as_str()];
        assert_eq!(r[cols["rlnDefocusU"]], w[wcols["rlnDefocusU"]]);
        assert_eq!(r[cols["rlnAngleRot"]], w[wcols["rlnAngleRot"]]);
    }
    // Standard input can be the main file.
    let bytes = std::fs::read(&main).unwrap();
    let piped = run("cs-to-star", &["-", &arg(&pt)], Some(&bytes));
    assert_eq!(stdout(&piped), stdout(&o));
}

#[test]
fn a_two_d_classification_gives_psi_class_and_half_set() {
    let o = run(
        "cs-to-star",
        &[&arg(&fixture("star/particles_2d_500.numpy.cs"))],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let (cols, rows) = table(&stdout(&o), "data_particles");
    for c in [
        "rlnAnglePsi",
        "rlnOriginXAngst",
        "rlnClassNumber",
        "rlnRandomSubset",
    ] {
        assert!(cols.contains_key(c), "{c} missing");
    }
    assert!(!cols.contains_key("rlnAngleRot"));
    let classes: std::collections::BTreeSet<u32> = rows
        .iter()
        .map(|r| r[cols["rlnClassNumber"]].parse().unwrap())
        .collect();
    assert_eq!(classes, (1..=10).collect());
    let o = run(
        "cs-to-star",
        &[
            &arg(&fixture("star/particles_2d_500.numpy.cs")),
            "--class",
            "3",
        ],
        None,
    );
    let (cols, rows) = table(&stdout(&o), "data_particles");
    assert_eq!(rows.len(), 50);
    assert!(rows.iter().all(|r| r[cols["rlnClassNumber"]] == "3"));
}

#[test]
fn a_class_nobody_is_in_is_an_error_and_nothing_is_written() {
    let f = fixture("star/particles_2d_500.numpy.cs");
    let o = run("cs-to-star", &[&arg(&f), "--class", "99"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(
        stderr(&o).contains("no particle is in class 99"),
        "{}",
        stderr(&o)
    );
    let o = run("cs-to-star", &[&arg(&f), "--strip-uid=two"], None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // pyem's spelling `--strip-uid 2` reads 2 as a passthrough file: the error says what to write.
    let o = run("cs-to-star", &[&arg(&f), "--strip-uid", "2"], None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("write --strip-uid=2"), "{}", stderr(&o));
}

#[test]
fn file_names_a_star_reader_cannot_read_back_are_refused_before_anything_is_written() {
    // Row 3's blob/path gets a double quote in place of its first character.
    let f = cs_fixture("particles_1000.numpy.cs");
    let mut bytes = std::fs::read(&f).unwrap();
    let at = bytes
        .windows(11)
        .enumerate()
        .filter(|(_, w)| w == b"J5/extract/")
        .nth(3)
        .unwrap()
        .0;
    bytes[at] = b'"';
    let o = run("cs-to-star", &["-"], Some(&bytes));
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty(), "{}", stdout(&o));
    let e = stderr(&o);
    assert_eq!(
        e.lines().filter(|l| !l.contains("left out")).count(),
        1,
        "{e}"
    );
    assert!(
        e.contains("-: row 3, field blob/path: holds a quote"),
        "{e}"
    );
}

#[test]
fn relion_3_0_layout_has_one_table_and_origins_in_pixels() {
    let o = run(
        "cs-to-star",
        &[&arg(&cs_fixture("particles_1000.numpy.cs")), "--relion2"],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(!text.contains("data_optics") && text.contains("data_images"));
    let (cols, rows) = table(&text, "data_images");
    assert_eq!(rows.len(), 1000);
    for c in [
        "rlnOriginX",
        "rlnMagnification",
        "rlnDetectorPixelSize",
        "rlnVoltage",
    ] {
        assert!(cols.contains_key(c), "{c} missing");
    }
    assert!(!cols.contains_key("rlnOpticsGroup") && !cols.contains_key("rlnOriginXAngst"));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let f = arg(&cs_fixture("particles_1000.numpy.cs"));
    let o = sh(&format!(
        "set -o pipefail; '{}' '{f}' 2>/dev/null | head -n 3 >/dev/null; echo status=$?",
        common::bin("cs-to-star").display()
    ));
    assert!(stdout(&o).contains("status=0"), "{}", stdout(&o));
}
