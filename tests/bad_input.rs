//! Bad input: each class of damaged or foreign file gives one line on stderr naming the file
//! and the place, exit status 1, and no panic.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::{cs_fixture, fixture, run, stderr};
use serde_json::Value;
use std::path::{Path, PathBuf};

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Self {
        Case {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(cs_fixture(name)).unwrap()
}

fn sidecar(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(cs_fixture(&format!("{name}.json"))).unwrap()).unwrap()
}

/// Run cs-cat on `path` and check the failure: exit 1, one line, file named, every `needles` there.
fn fails(path: &Path, needles: &[&str]) -> String {
    let name = path.display().to_string();
    let o = run("cs-cat", &[&name], None);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{name}: {e}");
    assert_eq!(e.lines().count(), 1, "one line: {e}");
    assert!(!e.contains("panicked"), "{e}");
    assert!(
        e.starts_with(&format!("cs-cat: {name}: ")),
        "names the file: {e}"
    );
    for n in needles {
        assert!(e.contains(n), "expected {n:?} in: {e}");
    }
    e
}

fn replace(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present");
    let mut v = bytes.to_vec();
    v.splice(at..at + from.len(), to.iter().copied());
    v
}

#[test]
fn empty_file() {
    let c = Case::new();
    fails(&c.write("empty.cs", b""), &["byte 0", "empty file"]);
}

#[test]
fn wrong_magic() {
    let c = Case::new();
    fails(
        &c.write("text.cs", b"hello world, not a dataset"),
        &["byte 0", "not a .cs file", "68 65 6c"],
    );
    fails(
        &c.write("lfs.cs", b"version https://git-lfs.github.com/spec/v1\n"),
        &["Git LFS pointer"],
    );
}

#[test]
fn truncated_inside_the_numpy_header() {
    let c = Case::new();
    let b = fixture_bytes("particles_1000.numpy.cs");
    fails(
        &c.write("cut.cs", &b[..100]),
        &[
            "byte 10",
            "truncated inside the numpy header",
            "ends at byte 100",
        ],
    );
    fails(
        &c.write("cut8.cs", &b[..8]),
        &["truncated inside the numpy header"],
    );
}

#[test]
fn truncated_inside_a_record() {
    let c = Case::new();
    let b = fixture_bytes("particles_1000.numpy.cs");
    let cut = 1792 + 455 * 10 + 7;
    fails(
        &c.write("cut.cs", &b[..cut]),
        &["byte 1792", "declares 1000 rows", "truncated inside row 10"],
    );
    // The same through a pipe: rows before the damage are printed, then the error.
    let o = run("cs-cat", &["-"], Some(&b[..cut]));
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.starts_with("cs-cat: -: byte "), "{e}");
    assert!(e.contains("truncated inside row 10"), "{e}");
    assert_eq!(e.lines().count(), 1);
}

#[test]
fn header_declaring_more_rows_than_the_file_holds() {
    let c = Case::new();
    let b = replace(
        &fixture_bytes("particles_1000.numpy.cs"),
        b"'shape': (1000,)",
        b"'shape': (9999,)",
    );
    fails(
        &c.write("more.cs", &b),
        &["declares 9999 rows", "455000 bytes of data"],
    );
    let b = replace(
        &fixture_bytes("uid_extremes.csdat_nolz4.cs"),
        b"\"length\": 4",
        b"\"length\": 9",
    );
    fails(
        &c.write("more.csdat.cs", &b),
        &[
            "byte 10: field 'uid'",
            "declares 9 rows",
            "at least 76 bytes",
        ],
    );
}

#[test]
fn malformed_numpy_header_dict() {
    let c = Case::new();
    let b = replace(
        &fixture_bytes("uid_extremes.numpy.cs"),
        b"[('uid', '<u8')]",
        b"[('uid'; '<u8')]",
    );
    fails(
        &c.write("syntax.cs", &b),
        &["byte 27", "malformed numpy header", "expected ',' or ')'"],
    );
    let b = replace(
        &fixture_bytes("uid_extremes.numpy.cs"),
        b"'descr'",
        b"'descx'",
    );
    fails(&c.write("key.cs", &b), &["unexpected key", "descx"]);
}

#[test]
fn malformed_csdat_header_json() {
    let c = Case::new();
    let b = replace(
        &fixture_bytes("uid_extremes.csdat.cs"),
        b"\"dtype\":",
        b"\"dtype\";",
    );
    fails(
        &c.write("json.cs", &b),
        &["byte 10", "malformed CSDAT header JSON"],
    );
    let b = replace(
        &fixture_bytes("uid_extremes.csdat.cs"),
        b"\"compressed_fields\"",
        b"\"compressed_fieldz\"",
    );
    fails(&c.write("key.cs", &b), &["compressed_fields"]);
}

#[test]
fn unknown_dtype() {
    let c = Case::new();
    let b = replace(
        &fixture_bytes("particles_1000.numpy.cs"),
        b"('blob/psize_A', '<f4')",
        b"('blob/psize_A', '<f3')",
    );
    fails(
        &c.write("f3.cs", &b),
        &["field 'blob/psize_A'", "unknown dtype '<f3'"],
    );
    let b = replace(
        &fixture_bytes("particles_1000.numpy.cs"),
        b"('blob/psize_A', '<f4')",
        b"('blob/psize_A', '|b1')",
    );
    fails(&c.write("bool.cs", &b), &["unsupported dtype '|b1'"]);
}

#[test]
fn object_dtype_is_refused_without_unpickling() {
    fails(
        &fixture("numpy-variants/object_field.npy.cs"),
        &["field 'o'", "never unpickles"],
    );
}

#[test]
fn truncated_inside_a_csdat_column() {
    let c = Case::new();
    let name = "particles_1000.csdat.cs";
    let cols = &sidecar(name)["container"]["columns"];
    let col = &cols[3];
    let cut = col["size_field_offset"].as_u64().unwrap() as usize + 10;
    let b = fixture_bytes(name);
    fails(
        &c.write("cut.cs", &b[..cut]),
        &["truncated inside column", col["name"].as_str().unwrap()],
    );
}

#[test]
fn truncated_inside_the_heap() {
    let c = Case::new();
    let name = "particles_1000.csdat.cs";
    let heap = sidecar(name)["container"]["heap_offset"].as_u64().unwrap() as usize;
    let b = fixture_bytes(name);
    fails(
        &c.write("cut.cs", &b[..heap + 100]),
        &["row 0, field ", "past the end of the heap (100 bytes)"],
    );
}

#[test]
fn corrupt_lz4_block() {
    let c = Case::new();
    let name = "particles_1000.csdat.cs";
    let col = &sidecar(name)["container"]["columns"][1];
    assert_eq!(col["lz4_compressed"], true);
    let start = col["size_field_offset"].as_u64().unwrap() as usize + 4;
    let len = col["stored_bytes"].as_u64().unwrap() as usize;
    let mut b = fixture_bytes(name);
    for x in &mut b[start..start + len] {
        *x = 0xff;
    }
    fails(&c.write("lz4.cs", &b), &["column 'blob/path'", "LZ4"]);
}

#[test]
fn heap_offset_past_the_end() {
    let c = Case::new();
    let name = "particles_1000.csdat_nolz4.cs";
    let col = &sidecar(name)["container"]["columns"][1];
    assert_eq!(col["name"], "blob/path");
    let start = col["size_field_offset"].as_u64().unwrap() as usize + 4 + 8 * 5;
    let mut b = fixture_bytes(name);
    b[start..start + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    fails(
        &c.write("heap.cs", &b),
        &[
            "row 5, field blob/path",
            "offset 1099511627776",
            "past the end of the heap",
        ],
    );
}

#[test]
fn invalid_utf8_names_row_and_field() {
    let c = Case::new();
    // Row 3's blob/path starts at data offset + 3 records + 8 bytes of uid.
    let mut b = fixture_bytes("particles_1000.numpy.cs");
    b[1792 + 455 * 3 + 8 + 2] = 0xff;
    fails(
        &c.write("utf8.cs", &b),
        &["row 3, field blob/path", "invalid UTF-8 at byte 2"],
    );
}

#[test]
fn directory_and_missing_path() {
    let c = Case::new();
    fails(c.dir.path(), &["is a directory"]);
    fails(
        &c.dir.path().join("nope.cs"),
        &["No such file or directory"],
    );
}

#[test]
fn every_truncation_of_a_small_file_fails_cleanly() {
    // No prefix of a valid file may panic or succeed silently with the full row count.
    let c = Case::new();
    for name in [
        "uid_extremes.numpy.cs",
        "unicode.csdat.cs",
        "uid_extremes.csdat_snappy.cs",
        "empty_0rows.numpy.cs",
    ] {
        let b = fixture_bytes(name);
        let full = run("cs-cat", &[&cs_fixture(name).display().to_string()], None);
        for cut in 0..b.len() {
            let p = c.write("t.cs", &b[..cut]);
            let o = run("cs-cat", &[&p.display().to_string()], None);
            let e = stderr(&o);
            assert!(!e.contains("panicked"), "{name} cut at {cut}: {e}");
            if o.status.success() {
                assert!(
                    o.stdout != full.stdout || full.stdout.is_empty() || name.contains("csdat"),
                    "{name} at {cut}"
                );
            } else {
                assert_eq!(o.status.code(), Some(1), "{name} cut at {cut}: {e}");
                assert_eq!(e.lines().count(), 1, "{e}");
            }
        }
    }
}
