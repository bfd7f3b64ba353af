//! Every `.cs` fixture written by cryosparc-tools, read by the library and compared with its
//! sidecar: fields, row count, first rows, last row and every column's SHA-256.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use cs_format::text::cell::Scalar;
use cs_format::text::jsonl::{JsonOptions, JsonRowWriter};
use cs_format::{ByteOrder, Chunk, Dataset, Kind, Projection};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;

fn sidecar(path: &Path) -> Value {
    let side = path.with_extension("cs.json");
    serde_json::from_slice(&std::fs::read(&side).unwrap()).unwrap()
}

/// Little-endian bytes of one element, components swapped separately for complex numbers.
fn element_le(bytes: &[u8], kind: Kind, order: ByteOrder) -> Vec<u8> {
    let unit = match kind {
        Kind::C64 => 4,
        Kind::C128 => 8,
        k => k.size(),
    };
    let mut v = bytes.to_vec();
    if order == ByteOrder::Big {
        for c in v.chunks_mut(unit.max(1)) {
            c.reverse();
        }
    }
    v
}

/// Add each column of `chunk` to its hasher as the sidecar hashes it: numbers as little-endian
/// elements, strings as (u32 length, UTF-8 bytes).
fn hash_columns(chunk: &Chunk, hashers: &mut [Sha256]) {
    for (col, f) in chunk.fields().iter().enumerate() {
        for row in 0..chunk.rows {
            if f.ty.kind.is_string() {
                for i in 0..f.ty.count() {
                    let Scalar::Str(s) = chunk.scalar(row, col, i).unwrap() else {
                        panic!()
                    };
                    hashers[col].update((s.len() as u32).to_le_bytes());
                    hashers[col].update(s.as_bytes());
                }
            } else {
                let raw = chunk.raw(row, col);
                for e in raw.chunks(f.ty.kind.size()) {
                    hashers[col].update(element_le(e, f.ty.kind, f.ty.order));
                }
            }
        }
    }
}

fn check_fixture(path: &Path) {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let side = sidecar(path);
    let ds = Dataset::open(path, &name).unwrap_or_else(|e| panic!("{e}"));

    // Fields and row count.
    let fields: Vec<Value> = ds.schema().fields.iter().map(|f| f.schema_json()).collect();
    assert_eq!(Value::Array(fields), side["fields"], "{name}: fields");
    assert_eq!(
        ds.rows(),
        side["num_rows"].as_u64().unwrap(),
        "{name}: num_rows"
    );

    // Every row as JSON, plus each column's hash.
    let chunks = ds.every_field().chunks(64 * 1024).unwrap();
    let fields = chunks.fields().clone();
    let writer = JsonRowWriter::new(&fields, JsonOptions::default());
    let mut hashers: Vec<Sha256> = fields.iter().map(|_| Sha256::new()).collect();
    let mut rows: Vec<Value> = Vec::new();
    for chunk in chunks {
        let chunk = chunk.unwrap_or_else(|e| panic!("{e}"));
        let mut text = Vec::new();
        writer.write_rows(&chunk, 0..chunk.rows, &mut text).unwrap();
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            rows.push(serde_json::from_slice(line).unwrap());
        }
        hash_columns(&chunk, &mut hashers);
    }
    assert_eq!(
        rows.len() as u64,
        side["num_rows"].as_u64().unwrap(),
        "{name}: rows read"
    );
    let first = side["first_rows"].as_array().unwrap();
    for (i, expected) in first.iter().enumerate() {
        assert_eq!(&rows[i], expected, "{name}: row {i}");
        let keys: Vec<&String> = rows[i].as_object().unwrap().keys().collect();
        let want: Vec<&String> = expected.as_object().unwrap().keys().collect();
        assert_eq!(keys, want, "{name}: key order of row {i}");
    }
    if !side["last_row"].is_null() {
        assert_eq!(rows.last().unwrap(), &side["last_row"], "{name}: last row");
    }
    let sums = side["column_sha256"].as_object().unwrap();
    assert_eq!(sums.len(), fields.len(), "{name}: number of column hashes");
    for (f, h) in fields.iter().zip(hashers) {
        let got = format!("{:x}", h.finalize());
        assert_eq!(
            Some(got.as_str()),
            sums[&f.name].as_str(),
            "{name}: column {} sha256",
            f.name
        );
    }
}

#[test]
fn every_fixture_matches_its_sidecar() {
    let files = common::all_cs_fixtures();
    for f in &files {
        check_fixture(f);
    }
}

/// The column hashes of a projection's fields, each chunk checked to hold the projection's
/// fields in its order.
fn projection_hashes(rows: Projection) -> Vec<String> {
    let fields = rows.fields().to_vec();
    let mut hashers: Vec<Sha256> = fields.iter().map(|_| Sha256::new()).collect();
    for chunk in rows.chunks(1000).unwrap() {
        let chunk = chunk.unwrap();
        assert_eq!(chunk.fields(), &fields[..]);
        hash_columns(&chunk, &mut hashers);
    }
    hashers
        .into_iter()
        .map(|h| format!("{:x}", h.finalize()))
        .collect()
}

#[test]
fn a_projection_reads_the_fields_chosen_in_the_order_given_as_cryosparc_tools_wrote_them() {
    for f in common::all_cs_fixtures() {
        let side = sidecar(&f);
        let names: Vec<String> = side["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_string())
            .collect();
        if names.len() < 2 {
            continue;
        }
        // The last field, then the first: against stored order.
        let want = vec![names[names.len() - 1].clone(), names[0].clone()];
        let chosen = Dataset::open(&f, "x").unwrap().select(&want).unwrap();
        let chosen_names: Vec<&str> = chosen.fields().iter().map(|x| x.name.as_str()).collect();
        assert_eq!(chosen_names, want, "{}", f.display());
        assert_eq!(chosen.rows(), side["num_rows"].as_u64().unwrap());
        let expected: Vec<&str> = want
            .iter()
            .map(|n| side["column_sha256"][n].as_str().unwrap())
            .collect();
        let again = chosen.reopen().unwrap();
        assert_eq!(projection_hashes(chosen), expected, "{}", f.display());
        assert_eq!(
            projection_hashes(again),
            expected,
            "{} reopened",
            f.display()
        );
    }
}

#[test]
fn a_selection_that_cannot_be_made_is_an_error_naming_the_file() {
    let f = common::fixture("cs").join("particles_1000.numpy.cs");
    let open = || Dataset::open(&f, "p.cs").unwrap();
    let e = open().select(&["nosuch".to_string()]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("p.cs: no field matches 'nosuch' (slots here: uid, blob"),
        "{e}"
    );
    let fields = open().schema().fields.len();
    let e = open().select_indices(vec![0, fields]).unwrap_err();
    assert!(e.to_string().starts_with("p.cs: "), "{e}");
    let last = open().select_indices(vec![fields - 1]).unwrap();
    assert_eq!(last.fields(), &open().schema().fields[fields - 1..]);
}

#[test]
fn header_only_answers_match_the_sidecar_container_figures() {
    for f in common::all_cs_fixtures() {
        let side = sidecar(&f);
        let c = &side["container"];
        let mut ds = Dataset::open(&f, "x").unwrap();
        let info = ds.info().unwrap();
        if let Some(off) = c.get("data_offset") {
            assert_eq!(&info["data_offset"], off, "{}", f.display());
            assert_eq!(
                info["header_bytes"],
                c["header_len_field"],
                "{}",
                f.display()
            );
            assert_eq!(info["row_bytes"], c["itemsize"], "{}", f.display());
            let v = c["version"].as_array().unwrap();
            assert_eq!(info["version"], format!("{}.{}", v[0], v[1]));
        }
        if let Some(heap) = c.get("heap_offset") {
            assert_eq!(&info["heap"]["offset"], heap, "{}", f.display());
            assert_eq!(&info["heap"]["bytes"], &c["heap_bytes"], "{}", f.display());
            assert_eq!(info["header_bytes"], c["header_len"], "{}", f.display());
        }
    }
}

#[test]
fn npy_headers_are_rebuilt_byte_for_byte() {
    for f in common::all_cs_fixtures() {
        let bytes = std::fs::read(&f).unwrap();
        if !bytes.starts_with(b"\x93NUMPY")
            || f.to_string_lossy().contains("align16")
            || f.to_string_lossy().contains("bigendian")
            || f.to_string_lossy().contains("v2_header")
        {
            continue;
        }
        let ds = Dataset::open(&f, "x").unwrap();
        let prefix = cs_format::container::npy_header::npy_prefix(&ds.schema().fields, ds.rows());
        assert_eq!(
            String::from_utf8_lossy(&prefix),
            String::from_utf8_lossy(&bytes[..prefix.len()]),
            "{}",
            f.display()
        );
        assert_eq!(prefix[..], bytes[..prefix.len()], "{}", f.display());
    }
}

#[test]
fn csdat_read_chunk_by_chunk_equals_read_in_memory() {
    for f in common::all_cs_fixtures() {
        if !f.to_string_lossy().contains(".csdat") {
            continue;
        }
        let lines = |spill: u64, from_stream: bool| -> Vec<u8> {
            let mut ds = if from_stream {
                let bytes = std::fs::read(&f).unwrap();
                Dataset::from_reader(Box::new(std::io::Cursor::new(bytes)), "x").unwrap()
            } else {
                Dataset::open(&f, "x").unwrap()
            };
            ds.set_spill_bytes(spill);
            let chunks = ds.every_field().chunks(1000).unwrap();
            let writer = JsonRowWriter::new(chunks.fields(), JsonOptions::default());
            let mut out = Vec::new();
            for chunk in chunks {
                let chunk = chunk.unwrap();
                writer.write_rows(&chunk, 0..chunk.rows, &mut out).unwrap();
            }
            out
        };
        let reference = lines(u64::MAX, false);
        assert!(lines(0, false) == reference, "{}", f.display());
        assert!(lines(0, true) == reference, "{} from a stream", f.display());
    }
}
