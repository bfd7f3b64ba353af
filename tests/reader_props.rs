//! Property tests: random record layouts written as numpy `.npy` bytes by an independent
//! encoder in this test are read back by the library with every value intact, and every
//! float spelling reads back to the same bits.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use cs_format::text::cell::{spell_f32, spell_f64};
use cs_format::text::jsonl::{JsonOptions, JsonRowWriter};
use cs_format::Dataset;
use proptest::prelude::*;
use serde_json::Value;

#[derive(Debug, Clone)]
struct FieldSpec {
    code: &'static str,
    size: usize,
    big: bool,
    shape: Vec<usize>,
}

fn field_spec() -> impl Strategy<Value = FieldSpec> {
    let kinds = prop::sample::select(vec![
        ("i", 1),
        ("i", 2),
        ("i", 4),
        ("i", 8),
        ("u", 1),
        ("u", 2),
        ("u", 4),
        ("u", 8),
        ("f", 4),
        ("f", 8),
        ("S", 5),
        ("S", 1),
    ]);
    let shape = prop_oneof![Just(vec![]), prop::collection::vec(1usize..4, 1..=3),];
    (kinds, any::<bool>(), shape).prop_map(|((code, size), big, shape)| FieldSpec {
        code,
        size,
        big,
        shape,
    })
}

fn typestr(f: &FieldSpec) -> String {
    let order = if f.size == 1 || f.code == "S" {
        '|'
    } else if f.big {
        '>'
    } else {
        '<'
    };
    format!("{order}{}{}", f.code, f.size)
}

/// Encode a numpy v1.0 file the way numpy does (sorted keys, 64-byte alignment).
fn encode_npy(fields: &[FieldSpec], rows: usize, data: &[u8]) -> Vec<u8> {
    let descr: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if f.shape.is_empty() {
                format!("('f{i}/x', '{}')", typestr(f))
            } else {
                let dims: Vec<String> = f.shape.iter().map(|d| d.to_string()).collect();
                let tuple = if dims.len() == 1 {
                    format!("({},)", dims[0])
                } else {
                    format!("({})", dims.join(", "))
                };
                format!("('f{i}/x', '{}', {tuple})", typestr(f))
            }
        })
        .collect();
    let mut header = format!(
        "{{'descr': [{}], 'fortran_order': False, 'shape': ({rows},), }}",
        descr.join(", ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// The JSON value a stored element must produce, computed independently from its bytes.
fn expected_element(f: &FieldSpec, b: &[u8]) -> Value {
    let mut le = b.to_vec();
    if f.big && f.code != "S" {
        le.reverse();
    }
    let mut w = [0u8; 8];
    match f.code {
        "i" => {
            let fill = if le[f.size - 1] & 0x80 != 0 { 0xff } else { 0 };
            w = [fill; 8];
            w[..f.size].copy_from_slice(&le);
            Value::from(i64::from_le_bytes(w))
        }
        "u" => {
            w[..f.size].copy_from_slice(&le);
            Value::from(u64::from_le_bytes(w))
        }
        "S" => {
            let end = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
            Value::from(std::str::from_utf8(&b[..end]).unwrap())
        }
        _ => Value::Null, // floats are compared by bits below
    }
}

fn check_element(f: &FieldSpec, b: &[u8], got: &Value) {
    if f.code == "f" {
        let mut le = b.to_vec();
        if f.big {
            le.reverse();
        }
        let want: f64 = if f.size == 4 {
            f64::from(f32::from_le_bytes(le[..4].try_into().unwrap()))
        } else {
            f64::from_le_bytes(le[..8].try_into().unwrap())
        };
        match got {
            Value::String(s) if want.is_nan() => assert_eq!(s, "NaN"),
            Value::String(s) => assert_eq!(s, if want > 0.0 { "Infinity" } else { "-Infinity" }),
            Value::Number(n) => {
                let v = n.as_f64().unwrap();
                if f.size == 4 {
                    assert_eq!((v as f32).to_bits(), (want as f32).to_bits());
                } else {
                    assert_eq!(v.to_bits(), want.to_bits());
                }
            }
            other => panic!("unexpected {other}"),
        }
    } else {
        assert_eq!(got, &expected_element(f, b));
    }
}

fn flatten<'a>(v: &'a Value, depth: usize, out: &mut Vec<&'a Value>) {
    if depth == 0 {
        out.push(v);
    } else {
        for x in v.as_array().unwrap() {
            flatten(x, depth - 1, out);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_layouts_read_back_exactly(
        fields in prop::collection::vec(field_spec(), 1..8),
        rows in 0usize..12,
        seed in any::<u64>(),
    ) {
        // Random bytes for numbers; short ASCII/UTF-8 for strings.
        let mut rng = seed | 1;
        let mut next = || { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; rng };
        let mut data = Vec::new();
        let mut cells: Vec<Vec<Vec<u8>>> = Vec::new();
        for _ in 0..rows {
            let mut row = Vec::new();
            for f in &fields {
                let count: usize = f.shape.iter().product();
                let mut cell = Vec::new();
                for _ in 0..count {
                    if f.code == "S" {
                        let words = ["", "a", "é", "ab", "日", "x\"y"];
                        let mut s = words[(next() % words.len() as u64) as usize].as_bytes().to_vec();
                        s.truncate(f.size);
                        while std::str::from_utf8(&s).is_err() { s.pop(); }
                        s.resize(f.size, 0);
                        cell.extend_from_slice(&s);
                    } else {
                        for _ in 0..f.size { cell.push(next() as u8); }
                    }
                }
                data.extend_from_slice(&cell);
                row.push(cell);
            }
            cells.push(row);
        }
        let bytes = encode_npy(&fields, rows, &data);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.cs");
        std::fs::write(&path, &bytes).unwrap();
        for from_stream in [false, true] {
            let ds = if from_stream {
                Dataset::from_reader(Box::new(std::io::Cursor::new(bytes.clone())), "r").unwrap()
            } else {
                Dataset::open(&path, "r").unwrap()
            };
            prop_assert_eq!(ds.rows(), rows as u64);
            let chunks = ds.every_field().chunks(7).unwrap();
            let writer = JsonRowWriter::new(chunks.fields(), JsonOptions::default());
            let mut text = Vec::new();
            for chunk in chunks {
                let chunk = chunk.unwrap();
                writer.write_rows(&chunk, 0..chunk.rows, &mut text).unwrap();
            }
            let lines: Vec<Value> = text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
            prop_assert_eq!(lines.len(), rows);
            for (r, line) in lines.iter().enumerate() {
                for (i, f) in fields.iter().enumerate() {
                    let got = &line[format!("f{i}/x")];
                    let mut elems = Vec::new();
                    flatten(got, f.shape.len(), &mut elems);
                    let esize = f.size;
                    prop_assert_eq!(elems.len(), f.shape.iter().product::<usize>());
                    for (k, e) in elems.iter().enumerate() {
                        check_element(f, &cells[r][i][k * esize..(k + 1) * esize], e);
                    }
                }
            }
        }
    }

    #[test]
    fn f32_spelling_reads_back_to_the_same_bits(bits in any::<u32>()) {
        let v = f32::from_bits(bits);
        let mut out = Vec::new();
        spell_f32(v, &mut out);
        let text = String::from_utf8(out).unwrap();
        if v.is_nan() {
            prop_assert_eq!(text, "NaN");
        } else {
            prop_assert_eq!(text.parse::<f32>().unwrap().to_bits(), bits);
        }
    }

    #[test]
    fn f64_spelling_reads_back_to_the_same_bits(bits in any::<u64>()) {
        let v = f64::from_bits(bits);
        let mut out = Vec::new();
        spell_f64(v, &mut out);
        let text = String::from_utf8(out).unwrap();
        if v.is_nan() {
            prop_assert_eq!(text, "NaN");
        } else {
            prop_assert_eq!(text.parse::<f64>().unwrap().to_bits(), bits);
        }
    }
}
