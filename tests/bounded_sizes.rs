//! Sizes come from the bytes present (issue #18): whatever a header, a header row or a schema
//! declares, memory and time follow the input actually read. A size that cannot be true is
//! refused with one line naming the file and the field (or byte, or line), exit 1, nothing on
//! stdout and no file left behind. Every bad input runs under a memory cap (about 1 GB of
//! virtual memory) and a 20 s timeout, so that a regression fails here instead of exhausting
//! the machine. The inputs are written byte by byte below.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::{
    cs_fixture, failed, refused, run_capped, sh_capped, stderr, stdout, MEMORY_CAP_KB as CAP_KB,
};
use std::path::Path;
use std::process::Output;

/// A folder with the inputs of one test.
struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Dir(tempfile::tempdir().unwrap())
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.path().join(name), bytes).unwrap();
    }

    /// The names in the folder, hidden ones (temporary files) included, sorted.
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Run `script` (bash) in this folder under the memory cap `cap_kb`; each command of the
    /// script should be run through `timeout 20`.
    fn run_capped(&self, cap_kb: u64, script: &str) -> Output {
        sh_capped(self.path(), cap_kb, script)
    }

    /// Run one command line in this folder under the 1 GB cap and a 20 s timeout.
    fn run(&self, command: &str) -> Output {
        run_capped(self.path(), command)
    }
}

/// A numpy v1 file: magic, version 1.0, the u16 LE header length, the header dict padded with
/// spaces so that the data start at a multiple of 64 (the header ends in a newline), then `data`.
fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut text = dict.as_bytes().to_vec();
    let unpadded = 10 + text.len() + 1;
    text.resize(text.len() + (64 - unpadded % 64) % 64, b' ');
    text.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&u16::try_from(text.len()).unwrap().to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(data);
    out
}

/// A numpy record-array dict of these `descr` entries and `rows`.
fn dict(descr: &str, rows: u64) -> String {
    format!("{{'descr': [{descr}], 'fortran_order': False, 'shape': ({rows},), }}")
}

/// A CSDAT file (`legacy`: the `\x94CSDAT` container): magic, u32 LE header length, the header
/// JSON, then `body` (the column sections and the heap).
fn csdat(legacy: bool, header: &str, body: &[u8]) -> Vec<u8> {
    let mut out = if legacy {
        b"\x94CSDAT".to_vec()
    } else {
        b"\x95CSDAT".to_vec()
    };
    out.extend_from_slice(&u32::try_from(header.len()).unwrap().to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(body);
    out
}

/// A success: exit 0 and nothing on stderr.
fn succeeded(o: &Output) {
    assert!(o.status.success(), "{}", stderr(o));
    assert_eq!(stderr(o), "");
}

#[test]
fn numpy_header_declaring_a_100_gb_string_is_refused_from_a_file_and_from_stdin() {
    let d = Dir::new();
    let descr = "('uid', '<u8'), ('s', '|S100000000000')";
    d.write("huge.cs", &npy(&dict(descr, 3), &[b'x'; 100]));
    // The file's length disproves the rows.
    refused(
        &d.run("cs-cat huge.cs"),
        "cs-cat",
        "huge.cs",
        &[
            "byte 128",
            "declares 3 rows of 100000000008 bytes",
            "holds 100 bytes",
        ],
    );
    // On a stream the length is unknown: one record alone is more than any reader holds.
    for tool in ["cs-cat", "cs-to-csv", "cs-to-parquet --arrow -o -"] {
        let o = d.run_capped(CAP_KB, &format!("cat huge.cs | timeout 20 {tool} -"));
        let name = tool.split(' ').next().unwrap();
        refused(&o, name, "-", &["field s", "record of 100000000008 bytes"]);
    }
    let o = d.run_capped(
        CAP_KB,
        &format!(
            "timeout 20 cs-join {} - < huge.cs",
            cs_fixture("uid_extremes.numpy.cs").display()
        ),
    );
    refused(&o, "cs-join", "-", &["field s", "268435456"]);
}

#[test]
fn numpy_stream_declaring_more_rows_than_arrive_is_read_only_as_far_as_its_bytes_go() {
    // A record of 250 MB is within what a reader handles, and this cap (200 MB, two threads)
    // leaves no room to allocate it: the buffer must grow only as bytes arrive, and the run end
    // at the truncation after the 100 bytes that are there.
    let d = Dir::new();
    let descr = "('uid', '<u8'), ('s', '|S250000000')";
    d.write("long.cs", &npy(&dict(descr, 1000), &[b'x'; 100]));
    let capped =
        |script: &str| d.run_capped(200_000, &format!("export RAYON_NUM_THREADS=2; {script}"));
    let needles = [
        "truncated inside row 0",
        "declares 1000 rows of 250000008 bytes",
    ];
    let o = capped("cat long.cs | timeout 20 cs-cat -");
    refused(&o, "cs-cat", "-", &needles);
    // cs-to-csv has written its header row when the rows turn out to be missing.
    let o = capped("cat long.cs | timeout 20 cs-to-csv -");
    failed(&o, "cs-to-csv", "-", &needles);
    assert_eq!(stdout(&o), "uid,s\n");
    // The same cap is enough for a real file on a stream.
    let fixture = cs_fixture("particles_1000.numpy.cs");
    let o = capped(&format!(
        "cat '{}' | timeout 20 cs-cat - | wc -l",
        fixture.display()
    ));
    succeeded(&o);
    assert_eq!(stdout(&o).trim(), "1000");
}

#[test]
fn zero_row_file_with_a_huge_subarray_keeps_its_schema_but_is_never_spelled_out() {
    let d = Dir::new();
    let descr = "('uid', '<u8'), ('x', '<f4', (65535, 65535, 65535))";
    d.write("sub.cs", &npy(&dict(descr, 0), b""));
    d.write("in.csv", b"uid\n1\n");
    let o = d.run("cs-cat --schema sub.cs");
    succeeded(&o);
    assert!(
        stdout(&o).contains(r#"{"name":"x","dtype":"<f4","shape":[65535,65535,65535]}"#),
        "{}",
        stdout(&o)
    );
    let o = d.run("cs-cat --count sub.cs");
    succeeded(&o);
    assert_eq!(stdout(&o), "0\n");
    let too_many = ["field x", "281462092005375 elements per row", "1048576"];
    refused(&d.run("cs-to-csv sub.cs"), "cs-to-csv", "sub.cs", &too_many);
    refused(
        &d.run("cs-to-csv --no-header sub.cs"),
        "cs-to-csv",
        "sub.cs",
        &too_many,
    );
    let o = d.run_capped(CAP_KB, "timeout 20 cs-to-csv - < sub.cs");
    refused(&o, "cs-to-csv", "-", &too_many);
    let before = d.names();
    let o = d.run("csv-to-cs --like sub.cs in.csv -o out.cs");
    refused(&o, "csv-to-cs", "sub.cs", &too_many);
    assert_eq!(d.names(), before, "no output, no temporary file");
}

#[test]
fn csv_header_index_past_any_subarray_is_refused_before_columns_are_laid_out() {
    let d = Dir::new();
    // 2.6 kB of header row whose last column asks for 2^31 + 1 elements (16 GB of slots).
    let mut header: Vec<String> = (0..400).map(|i| format!("c{i}")).collect();
    header.push("x[2147483648]".into());
    let row = vec!["1"; header.len()].join(",");
    let csv = format!("{}\n{row}\n", header.join(","));
    assert!(csv.len() > 2500, "{}", csv.len());
    d.write("idx.csv", csv.as_bytes());
    let before = d.names();
    let needles = [
        "field x",
        "column 'x[2147483648]'",
        "index 2147483648 is beyond 65534",
    ];
    let o = d.run("csv-to-cs idx.csv -o out.cs");
    refused(&o, "csv-to-cs", "idx.csv:1", &needles);
    let o = d.run_capped(CAP_KB, "timeout 20 csv-to-cs -o out.cs < idx.csv");
    refused(&o, "csv-to-cs", "-:1", &needles);
    // An index too long for 64 bits is an index too, not part of a field name.
    d.write("idx2.csv", b"uid,x[99999999999999999999999]\n1,2\n");
    let o = d.run("csv-to-cs idx2.csv -o out.cs");
    refused(
        &o,
        "csv-to-cs",
        "idx2.csv:1",
        &["field x", "is beyond 65534"],
    );
    let mut after = d.names();
    after.retain(|n| n != "idx2.csv");
    assert_eq!(after, before, "no output, no temporary file");
}

#[test]
fn schema_whose_columns_alone_would_be_gigabytes_is_refused_by_line_and_field() {
    let d = Dir::new();
    d.write("in.csv", b"uid\n1\n");
    let field = |name: &str, dtype: &str, shape: &str| {
        format!("{{\"name\":\"{name}\",\"dtype\":\"{dtype}\",\"shape\":{shape}}}\n")
    };
    let huge = field("uid", "<u8", "[]") + &field("x", "<f4", "[65535,65535,65535]");
    d.write("huge.jsonl", huge.as_bytes());
    let many: String = (0..3)
        .map(|i| field(&format!("f{i}"), "<f4", "[1024,1024]"))
        .collect();
    d.write("many.jsonl", many.as_bytes());
    let wraps = field("s", "<U4611686018427387904", "[]");
    d.write("wraps.jsonl", wraps.as_bytes());
    let before = d.names();
    let o = d.run("csv-to-cs --schema huge.jsonl in.csv -o out.cs");
    refused(
        &o,
        "csv-to-cs",
        "huge.jsonl:2",
        &["field x", "281462092005375 elements per row"],
    );
    let o = d.run("csv-to-cs --schema many.jsonl in.csv -o out.cs");
    refused(
        &o,
        "csv-to-cs",
        "many.jsonl:2",
        &["field f1", "2097152 elements per row"],
    );
    let o = d.run("csv-to-cs --schema wraps.jsonl in.csv -o out.cs");
    refused(
        &o,
        "csv-to-cs",
        "wraps.jsonl",
        &["line 1", "field 's'", "overflow 64 bits"],
    );
    assert_eq!(d.names(), before, "no output, no temporary file");
}

#[test]
fn byte_sizes_that_overflow_64_bits_are_refused_not_wrapped() {
    let d = Dir::new();
    // 4 × 2^62 wraps to a 0-byte field: the rows' bytes would be read as garbage.
    let wraps = "('uid', '<u8'), ('s', '<U4611686018427387904')";
    d.write("wraps.cs", &npy(&dict(wraps, 2), &[1; 16]));
    let record = "('a', '|S9223372036854775808'), ('b', '|S9223372036854775808')";
    d.write("record.cs", &npy(&dict(record, 1), b""));
    let rows = "('s', '|S4294967296')";
    d.write("rows.cs", &npy(&dict(rows, 4294967297), b""));
    for tool in ["cs-cat", "cs-to-csv"] {
        for (file, needles) in [
            (
                "wraps.cs",
                &["byte 10", "field 's'", "overflow 64 bits"][..],
            ),
            (
                "record.cs",
                &["field 'b'", "record size overflows 64 bits"][..],
            ),
            (
                "rows.cs",
                &["declares 4294967297 rows", "overflows 64 bits"][..],
            ),
        ] {
            refused(&d.run(&format!("{tool} {file}")), tool, file, needles);
            let o = d.run_capped(CAP_KB, &format!("timeout 20 {tool} - < {file}"));
            refused(&o, tool, "-", needles);
        }
    }
}

#[test]
fn rows_of_zero_bytes_cannot_declare_a_row_count() {
    // Nothing in the file could show 10^18 rows of nothing, and printing them never ends.
    let d = Dir::new();
    d.write(
        "empty_rows.cs",
        &npy(&dict("('s', '|S0')", 1_000_000_000_000_000_000), b""),
    );
    refused(
        &d.run("cs-cat empty_rows.cs"),
        "cs-cat",
        "empty_rows.cs",
        &["declares 1000000000000000000 rows of 0 bytes"],
    );
}

#[test]
fn csdat_header_declaring_more_than_the_file_holds_is_refused_when_opened() {
    let d = Dir::new();
    let uid8 = |n: u32| -> Vec<u8> {
        let mut b = (8 * n).to_le_bytes().to_vec();
        b.extend(std::iter::repeat_n(0u8, 8 * n as usize));
        b
    };
    let header = |length: u64, dtype: &str, compressed: &str| {
        format!(
            "{{\"length\": {length}, \"dtype\": [{dtype}], \"compression\": null, \"compressed_fields\": [{compressed}]}}"
        )
    };
    d.write(
        "rows.cs",
        &csdat(false, &header(1 << 40, r#"["uid", "<u8"]"#, ""), &uid8(1)),
    );
    d.write(
        "overflow.cs",
        &csdat(false, &header(1 << 62, r#"["uid", "<u8"]"#, ""), &uid8(1)),
    );
    // 1000 rows of 1024 f4 (4 MB) cannot come out of the 20 LZ4 bytes there.
    let mut body = uid8(1000);
    body.extend_from_slice(&20u32.to_le_bytes());
    body.extend_from_slice(&[0; 20]);
    d.write(
        "lz4.cs",
        &csdat(
            false,
            &header(1000, r#"["uid", "<u8"], ["x", "<f4", [1024]]"#, r#""x""#),
            &body,
        ),
    );
    // A header length of 4 GB, with a few bytes after it.
    let mut long = csdat(false, &header(1, r#"["uid", "<u8"]"#, ""), &uid8(1));
    long[6..10].copy_from_slice(&u32::MAX.to_le_bytes());
    d.write("hlen.cs", &long);
    // Legacy: the first column's snappy length varint claims 4 GB from 5 bytes.
    let mut snappy = 5u32.to_le_bytes().to_vec();
    snappy.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    let legacy =
        r#"{"dtype": [["uid", "<u8"]], "compression": "snap", "compressed_fields": ["uid"]}"#;
    d.write("snappy.cs", &csdat(true, legacy, &snappy));
    for (file, needles) in [
        (
            "rows.cs",
            &["byte 10", "field 'uid'", "declares 1099511627776 rows"][..],
        ),
        ("overflow.cs", &["field 'uid'", "overflow 64 bits"][..]),
        (
            "lz4.cs",
            &["field 'x'", "declares 1000 rows", "at least 24071 bytes"][..],
        ),
        ("hlen.cs", &["truncated inside the CSDAT header"][..]),
        (
            "snappy.cs",
            &["column 'uid'", "cannot decode to the 4294967295 bytes"][..],
        ),
    ] {
        refused(
            &d.run(&format!("cs-cat --count {file}")),
            "cs-cat",
            file,
            needles,
        );
        let o = d.run_capped(CAP_KB, &format!("timeout 20 cs-cat - < {file}"));
        refused(&o, "cs-cat", "-", needles);
    }
}

#[test]
fn template_width_with_no_rows_behind_it_is_not_laid_out_up_front() {
    // A 0-row template declares 100 GB strings: csv-to-cs starts narrower and widens to what
    // the rows hold.
    let d = Dir::new();
    let descr = "('uid', '<u8'), ('s', '|S100000000000')";
    d.write("wide.cs", &npy(&dict(descr, 0), b""));
    let csv: String = std::iter::once("uid,s\n".to_string())
        .chain((0..1000).map(|i| format!("{i},abc\n")))
        .collect();
    d.write("in.csv", csv.as_bytes());
    succeeded(&d.run("csv-to-cs --like wide.cs --new-uids in.csv -o out.cs"));
    let out = std::fs::read(d.path().join("out.cs")).unwrap();
    let head = String::from_utf8_lossy(&out[..128]);
    assert!(head.contains("('s', '|S4')"), "{head}");
    assert!(head.contains("'shape': (1000,)"), "{head}");
}

#[test]
fn strings_that_would_make_a_record_wider_than_the_bound_are_refused() {
    // One 1000-byte string in a field of 300,000 elements makes every numpy record 300 MB.
    let d = Dir::new();
    d.write(
        "schema.jsonl",
        b"{\"name\":\"uid\",\"dtype\":\"<u8\",\"shape\":[]}\n{\"name\":\"s\",\"dtype\":\"|O\",\"shape\":[1000,300]}\n",
    );
    let inner = |first: &str| {
        let mut cells = vec!["\"\""; 300];
        cells[0] = first;
        format!("[{}]", cells.join(","))
    };
    let long = format!("\"{}\"", "x".repeat(1000));
    let mut rows = vec![inner(&long)];
    rows.extend((1..1000).map(|_| inner("\"\"")));
    let line = format!("{{\"uid\":1,\"s\":[{}]}}\n", rows.join(","));
    d.write("wide.jsonl", line.as_bytes());
    let before = d.names();
    let o = d.run("csv-to-cs --schema schema.jsonl wide.jsonl -o out.cs");
    refused(
        &o,
        "csv-to-cs",
        "wide.jsonl",
        &["field s", "record of 300300008 bytes", "268435456"],
    );
    assert_eq!(d.names(), before, "no output, no temporary file");
    // CSDAT keeps strings in a heap: the same rows fit.
    succeeded(&d.run("csv-to-cs --schema schema.jsonl wide.jsonl --format csdat -o out.cs"));
}

#[test]
fn normal_inputs_pass_under_the_same_caps() {
    let d = Dir::new();
    let fixture = |name: &str| cs_fixture(name).display().to_string();
    let particles = fixture("particles_1000.numpy.cs");
    let o = d.run(&format!("cs-cat {particles}"));
    succeeded(&o);
    assert_eq!(stdout(&o).lines().count(), 1000);
    let csdat = fixture("many_fields_100_classes.csdat.cs");
    let o = d.run_capped(CAP_KB, &format!("timeout 20 cs-cat - < {csdat} | wc -l"));
    succeeded(&o);
    assert_eq!(stdout(&o).trim(), "20");
    let o = d.run_capped(
        CAP_KB,
        &format!(
            "timeout 20 cs-to-csv {particles} | timeout 20 csv-to-cs --like {particles} -o back.cs && cmp back.cs {particles}"
        ),
    );
    succeeded(&o);
    let passthrough = fixture("uid_extremes.numpy.cs");
    succeeded(&d.run(&format!("cs-join {passthrough} {passthrough} -o joined.cs")));
    succeeded(&d.run(&format!(
        "csg-edit check {}",
        fixture("particles_1000.example.csg")
    )));
}
