#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! cs-to-parquet end to end (values are checked against pyarrow in tests/diff/parquet_diff.py).

mod common;

use common::{arg, cs_fixture, project_tree, run, sh, stderr, stdout};

/// A Parquet file: "PAR1" at both ends.
fn is_parquet(bytes: &[u8]) -> bool {
    bytes.len() > 8 && bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1")
}

#[test]
fn parquet_from_a_file_and_from_a_job_group() {
    let (keep, project) = project_tree();
    let out = keep.path().join("p.parquet");
    let o = run(
        "cs-to-parquet",
        &[
            &arg(&cs_fixture("particles_1000.numpy.cs")),
            "-o",
            &arg(&out),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(is_parquet(&std::fs::read(&out).unwrap()));
    // An existing output needs --force; a reference works like a file.
    let o = run(
        "cs-to-parquet",
        &[
            &arg(&project.join("J8")),
            "--group",
            "particles",
            "-o",
            &arg(&out),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("exists"), "{}", stderr(&o));
    let o = run(
        "cs-to-parquet",
        &[
            &arg(&project.join("J8")),
            "--group",
            "particles",
            "-o",
            &arg(&out),
            "--force",
            "-f",
            "uid,ctf",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(is_parquet(&std::fs::read(&out).unwrap()));
}

#[test]
fn arrow_stream_to_a_pipe() {
    let f = arg(&cs_fixture("particles_1000.numpy.cs"));
    let o = sh(&format!(
        "cs-to-parquet --arrow {f} -o - | head -c 8 | od -An -c"
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    // An Arrow IPC stream starts with the continuation marker 0xFFFFFFFF.
    assert!(stdout(&o).contains("377 377 377 377"), "{}", stdout(&o));
}

#[test]
fn bad_input_leaves_no_output() {
    let (keep, _project) = project_tree();
    let bad = keep.path().join("bad.cs");
    std::fs::write(&bad, b"\x93NUMPY\x01\x00garbage").unwrap();
    let out = keep.path().join("o.parquet");
    let o = run("cs-to-parquet", &[&arg(&bad), "-o", &arg(&out)], None);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn compress_chooses_the_parquet_column_codec() {
    let f = arg(&cs_fixture("particles_1000.numpy.cs"));
    let size = |codec: Option<&str>| {
        let mut args = vec![f.as_str(), "-o", "-"];
        if let Some(c) = codec {
            args.extend(["--compress", c]);
        }
        let o = run("cs-to-parquet", &args, None);
        assert!(o.status.success(), "{codec:?}: {}", stderr(&o));
        assert!(is_parquet(&o.stdout), "{codec:?}");
        o.stdout
    };
    let (default, snappy) = (size(None), size(Some("snappy")));
    let (none, zstd) = (size(Some("none")), size(Some("zstd")));
    assert!(default == snappy, "snappy is the default");
    assert!(none.len() > snappy.len() && none.len() > zstd.len());
    assert!(zstd != snappy);
}
