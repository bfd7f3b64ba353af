//! The `.cs` writers: every fixture read and written again is byte-identical to what
//! cryosparc-tools wrote (numpy, uncompressed CSDAT) or reads back to the same rows (LZ4).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use cs_format::container::writer::{cells_from_chunk, OutputFormat, RowSpool};
use cs_format::Dataset;
use std::path::Path;

fn rewrite(path: &Path, format: OutputFormat) -> Vec<u8> {
    let ds = Dataset::open(path, "x").unwrap();
    let fields = ds.schema().fields.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut spool = RowSpool::new(fields.clone(), dir.path()).unwrap();
    let mut cells = vec![Vec::new(); fields.len()];
    for chunk in ds.every_field().chunks(1 << 16).unwrap() {
        let chunk = chunk.unwrap();
        for row in 0..chunk.rows {
            cells_from_chunk(&chunk, row, &mut cells).unwrap();
            spool.push_row(&cells).unwrap();
        }
    }
    let mut out = Vec::new();
    spool.write(format, &mut out).unwrap();
    out
}

fn json_lines(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.cs");
    std::fs::write(&p, bytes).unwrap();
    let o = common::run("cs-cat", &[p.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", common::stderr(&o));
    common::stdout(&o)
}

#[test]
fn numpy_fixtures_are_rewritten_byte_for_byte() {
    for f in common::all_cs_fixtures() {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".numpy.cs") {
            continue;
        }
        let out = rewrite(&f, OutputFormat::Numpy);
        assert!(out == std::fs::read(&f).unwrap(), "{name}");
    }
}

#[test]
fn uncompressed_csdat_matches_the_nolz4_fixtures_byte_for_byte() {
    for f in common::all_cs_fixtures() {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".numpy.cs") {
            continue;
        }
        let twin = f.with_file_name(name.replace(".numpy.cs", ".csdat_nolz4.cs"));
        let out = rewrite(&f, OutputFormat::Csdat { lz4: false });
        assert!(out == std::fs::read(&twin).unwrap(), "{name}");
    }
}

#[test]
fn lz4_csdat_reads_back_to_the_same_rows() {
    for f in common::all_cs_fixtures() {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".numpy.cs") {
            continue;
        }
        let out = rewrite(&f, OutputFormat::Csdat { lz4: true });
        assert_eq!(
            json_lines(&out),
            json_lines(&std::fs::read(&f).unwrap()),
            "{name}"
        );
    }
}
