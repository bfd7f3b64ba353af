//! `cs-to-csv` and `csv-to-cs` end to end: lossless round trips of every fixture, the jq and
//! awk subset workflows, CSDAT output, and each class of bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::{all_cs_fixtures, cs_fixture, run, sh, stderr, stdout};
use std::path::Path;

fn p(path: &Path) -> String {
    path.display().to_string()
}

fn numpy_fixtures() -> Vec<std::path::PathBuf> {
    all_cs_fixtures()
        .into_iter()
        .filter(|f| f.to_string_lossy().ends_with(".numpy.cs"))
        .collect()
}

/// The fixture holding the same dataset as numpy fixture `f`, with `suffix` for `.numpy.cs`.
fn twin_of(f: &Path, suffix: &str) -> std::path::PathBuf {
    let name = f.file_name().unwrap().to_string_lossy();
    f.with_file_name(name.replace(".numpy.cs", suffix))
}

#[test]
fn csv_and_jsonl_round_trips_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    for f in numpy_fixtures() {
        let (a, b) = (dir.path().join("a.cs"), dir.path().join("b.cs"));
        let script = format!(
            "cs-to-csv {f} | csv-to-cs --like {f} -o {a} && cs-cat {f} | csv-to-cs --like {f} -o {b}",
            f = p(&f),
            a = p(&a),
            b = p(&b)
        );
        let o = sh(&script);
        assert!(o.status.success(), "{}: {}", f.display(), stderr(&o));
        let want = std::fs::read(&f).unwrap();
        assert!(
            std::fs::read(&a).unwrap() == want,
            "csv round trip of {}",
            f.display()
        );
        assert!(
            std::fs::read(&b).unwrap() == want,
            "jsonl round trip of {}",
            f.display()
        );
        std::fs::remove_file(&a).unwrap();
        std::fs::remove_file(&b).unwrap();
    }
}

#[test]
fn uncompressed_csdat_output_matches_the_fixture() {
    let dir = tempfile::tempdir().unwrap();
    for f in numpy_fixtures() {
        let twin = twin_of(&f, ".csdat_nolz4.cs");
        let out = dir.path().join(f.file_name().unwrap());
        let o = sh(&format!(
            "cs-cat {f} | csv-to-cs --like {f} --format csdat --compress none -o {o}",
            f = p(&f),
            o = p(&out)
        ));
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            std::fs::read(&out).unwrap() == std::fs::read(&twin).unwrap(),
            "{}",
            twin.display()
        );
        let lz = dir.path().join("lz4.cs");
        let o = sh(&format!("cs-to-csv {f} | csv-to-cs --like {f} --format csdat -o {o} && cmp <(cs-cat {o}) <(cs-cat {f})", f = p(&f), o = p(&lz)));
        assert!(o.status.success(), "lz4 {}: {}", f.display(), stderr(&o));
        std::fs::remove_file(&lz).unwrap();
    }
}

#[test]
fn csv_header_flattens_subarrays_with_indices() {
    let o = run(
        "cs-to-csv",
        &[
            "-n",
            "1",
            "-f",
            "uid,blob/shape,alignments3D/pose",
            &p(&cs_fixture("particles_1000.numpy.cs")),
        ],
        None,
    );
    assert!(o.status.success());
    let text = stdout(&o);
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "uid,blob/shape[0],blob/shape[1],alignments3D/pose[0],alignments3D/pose[1],alignments3D/pose[2]");
    assert_eq!(
        lines.next().unwrap(),
        "15839329126756262956,256,256,-0.109662995,1.1153203,1.2571145"
    );
    let o = run(
        "cs-to-csv",
        &[
            "-t",
            "--no-header",
            "-n",
            "1",
            "-f",
            "shaped/f4x2x3,float/f4_special,complex/c8",
            &p(&cs_fixture("all_numeric_dtypes.numpy.cs")),
        ],
        None,
    );
    assert_eq!(stdout(&o), "0.0\t1.0\t2.0\t3.0\t4.0\t5.0\tNaN\t[1.0,2.0]\n");
}

#[test]
fn jq_subset_workflow_keeps_uids_with_int64_as_string() {
    let dir = tempfile::tempdir().unwrap();
    let f = p(&cs_fixture("particles_1000.numpy.cs"));
    let sub = p(&dir.path().join("sub.cs"));
    let o = sh(&format!(
        "cs-cat --int64-as-string {f} | jq -c 'select(.[\"alignments3D/error\"] < 560000)' | csv-to-cs --like {f} -o {sub}"
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    // The same subset computed independently from cs-cat output (no jq involved).
    let all = stdout(&run("cs-cat", &["-f", "uid,alignments3D/error", &f], None));
    let want: Vec<String> = all
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["alignments3D/error"].as_f64().unwrap() < 560000.0)
        .map(|v| v["uid"].to_string())
        .collect();
    assert!(!want.is_empty() && want.len() < 1000);
    let got: Vec<String> = stdout(&run("cs-cat", &["-f", "uid", &sub], None))
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["uid"].to_string())
        .collect();
    assert_eq!(got, want);
}

#[test]
fn jq_without_int64_as_string_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = p(&cs_fixture("particles_1000.numpy.cs"));
    let sub = dir.path().join("sub.cs");
    let o = sh(&format!("cs-cat {f} | jq -c 'select(.[\"alignments3D/error\"] < 560000)' | csv-to-cs --like {f} -o {}", p(&sub)));
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.starts_with("csv-to-cs: -:1: field uid: uid "), "{e}");
    assert!(
        e.contains("jq 1.6") && e.contains("--int64-as-string"),
        "{e}"
    );
    assert!(!sub.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temporary file left"
    );
}

#[test]
fn columns_in_any_order_give_the_template_file() {
    // Reversed (no two f32 columns stay neighbours), and two neighbouring f32 columns swapped
    // (ctf/df1_A, ctf/df2_A): each column still lands in its own field.
    let dir = tempfile::tempdir().unwrap();
    let f = p(&cs_fixture("particles_1000.numpy.cs"));
    let want = std::fs::read(&f).unwrap();
    for (what, awk) in [
        (
            "reversed",
            "{for (i = NF; i > 0; i--) printf \"%s%s\", $i, (i > 1 ? OFS : ORS)}",
        ),
        ("swapped", "{t = $14; $14 = $15; $15 = t; print}"),
    ] {
        let out = p(&dir.path().join(format!("{what}.cs")));
        let o = sh(&format!(
            "cs-to-csv {f} | awk -F, -v OFS=, '{awk}' | csv-to-cs --like {f} -o {out}"
        ));
        assert!(o.status.success(), "{what}: {}", stderr(&o));
        assert!(
            std::fs::read(&out).unwrap() == want,
            "{what}: not the template's bytes"
        );
    }
}

#[test]
fn rows_in_any_order_pass_the_uid_check_and_a_changed_uid_among_them_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let f = p(&cs_fixture("particles_1000.numpy.cs"));
    let out = p(&dir.path().join("shuffled.cs"));
    // Every row, last first: all uids are the template's, out of its order.
    let o = sh(&format!(
        "cs-to-csv {f} | {{ read -r h; echo \"$h\"; tac; }} | csv-to-cs --like {f} -o {out} && \
         cs-cat -f uid {out} | tac | cmp - <(cs-cat -f uid {f})"
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    // One uid's last digit changed, deep in the reversed input: refused, naming its line.
    let bad = p(&dir.path().join("bad.cs"));
    let o = sh(&format!(
        "cs-to-csv {f} | {{ read -r h; echo \"$h\"; tac; }} | \
         sed -E '700{{s/^([0-9]*)0,/\\1X,/;s/^([0-9]*)[1-9],/\\10,/;s/^([0-9]*)X,/\\11,/}}' | \
         csv-to-cs --like {f} -o {bad}"
    ));
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.starts_with("csv-to-cs: -:700: field uid: uid "), "{e}");
    assert!(!dir.path().join("bad.cs").exists());
}

#[test]
fn awk_subset_workflow_over_csv() {
    let dir = tempfile::tempdir().unwrap();
    let f = p(&cs_fixture("particles_1000.numpy.cs"));
    let sub = p(&dir.path().join("sub.cs"));
    let o = sh(&format!(
        "cs-to-csv -f uid,blob/idx {f} | awk -F, 'NR == 1 || $2 < 5' > {d}/cols.csv && \
         cs-to-csv {f} | awk -F, 'NR == 1 || $3 < 5' | csv-to-cs --like {f} -o {sub} && cs-cat --count {sub}",
        d = p(dir.path())
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let want = std::fs::read_to_string(dir.path().join("cols.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(stdout(&o).trim(), want.to_string());
    assert!(want > 0 && want < 1000);
}

#[test]
fn inference_uses_known_fields_then_values() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.cs");
    let input = "uid,blob/idx,blob/shape[0],blob/shape[1],n,x,label\n7,1,64,64,-3,0.5,a\n18446744073709551615,2,64,64,4,NaN,\"b,c\"\n";
    let o = run("csv-to-cs", &["-o", &p(&out)], Some(input.as_bytes()));
    assert!(o.status.success(), "{}", stderr(&o));
    let schema = stdout(&run("cs-cat", &["--schema", &p(&out)], None));
    assert_eq!(
        schema,
        "{\"name\":\"uid\",\"dtype\":\"<u8\",\"shape\":[]}\n{\"name\":\"blob/idx\",\"dtype\":\"<u4\",\"shape\":[]}\n\
{\"name\":\"blob/shape\",\"dtype\":\"<u4\",\"shape\":[2]}\n{\"name\":\"n\",\"dtype\":\"<i8\",\"shape\":[]}\n\
{\"name\":\"x\",\"dtype\":\"<f8\",\"shape\":[]}\n{\"name\":\"label\",\"dtype\":\"|O\",\"shape\":[]}\n"
    );
    let rows = stdout(&run("cs-cat", &[&p(&out)], None));
    assert!(rows.contains("\"uid\":18446744073709551615,\"blob/idx\":2,\"blob/shape\":[64,64],\"n\":4,\"x\":\"NaN\",\"label\":\"b,c\""), "{rows}");
}

#[test]
fn inference_gives_a_known_numeric_field_its_dtype_and_reports_text_in_it_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let out = dir.path().join("o.cs");
    std::fs::write(&input, "uid,ctf/df1_A,x\n1,15000.5,1e3\n2,abc,-2.5E-3\n").unwrap();
    let o = run("csv-to-cs", &[&p(&input), "-o", &p(&out)], None);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(
        e.contains(":3: field ctf/df1_A:") && e.contains("'abc' is not a number (<f4)"),
        "{e}"
    );
    assert!(!out.exists());
    // Fixed, the same input infers <f4 for the known field and <f8 for the other.
    std::fs::write(&input, "uid,ctf/df1_A,x\n1,15000.5,1e3\n2,14000,-2.5E-3\n").unwrap();
    let o = run("csv-to-cs", &[&p(&input), "-o", &p(&out)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let schema = stdout(&run("cs-cat", &["--schema", &p(&out)], None));
    assert!(
        schema.contains("{\"name\":\"ctf/df1_A\",\"dtype\":\"<f4\",\"shape\":[]}"),
        "{schema}"
    );
    assert!(
        schema.contains("{\"name\":\"x\",\"dtype\":\"<f8\",\"shape\":[]}"),
        "{schema}"
    );
}

#[test]
fn a_known_field_with_an_unusual_shape_is_inferred_from_its_values() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.cs");
    // alignments3D/shift is <f4 x2 in cryoSPARC; a single column of integers is something else.
    let input = "uid,alignments3D/shift\n1,3\n2,-4\n";
    let o = run("csv-to-cs", &["-o", &p(&out)], Some(input.as_bytes()));
    assert!(o.status.success(), "{}", stderr(&o));
    let schema = stdout(&run("cs-cat", &["--schema", &p(&out)], None));
    assert!(
        schema.contains("{\"name\":\"alignments3D/shift\",\"dtype\":\"<i8\",\"shape\":[]}"),
        "{schema}"
    );
}

#[test]
fn a_header_of_known_fields_alone_gives_the_cryosparc_file_from_a_file_or_stdin() {
    // Every field of these fixtures is one of cryoSPARC's with its usual dtype: no --like is
    // needed for a byte-identical round trip, and no spool of stdin is left behind.
    for name in [
        "particles_1000.numpy.cs",
        "many_fields_100_classes.numpy.cs",
        "uid_extremes.numpy.cs",
        "empty_0rows.numpy.cs",
    ] {
        let f = p(&cs_fixture(name));
        let dir = tempfile::tempdir().unwrap();
        let d = p(dir.path());
        let o = sh(&format!(
            "cs-to-csv {f} > {d}/in.csv && csv-to-cs {d}/in.csv -o {d}/from_file.cs && \
             cs-to-csv {f} | csv-to-cs -o {d}/from_stdin.cs && cmp {d}/from_file.cs {f} && cmp {d}/from_stdin.cs {f}"
        ));
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            3,
            "{name}: a temporary file is left"
        );
    }
}

#[test]
fn inference_from_stdin_sees_the_whole_stream_past_the_header() {
    // An unknown column makes the dtypes be inferred: stdin is copied to a spool as the
    // inference pass reads it, and the spool is read again, so it must hold every byte (those
    // read with the header too).
    let (csv, expected) = many_rows(400_000, false, "\n");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.cs");
    let o = run("csv-to-cs", &["-o", &p(&out)], Some(csv.as_bytes()));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&run("cs-cat", &[&p(&out)], None)) == expected,
        "round trip differs"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "a temporary file is left"
    );
}

#[test]
fn json_lines_keys_and_strings_with_escapes_are_unescaped_and_plain_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.cs");
    // The same key spelled with an escape in one row and plainly in the next.
    let input = "{\"uid\":1,\"s\\u0031\":\"a\\u00e9\\\"b\",\"x\":0.5}\n{\"uid\":2,\"s1\":\"x y\",\"x\":-2e3}\n";
    let o = run("csv-to-cs", &["-o", &p(&out)], Some(input.as_bytes()));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&run("cs-cat", &[&p(&out)], None)),
        "{\"uid\":1,\"s1\":\"a\u{e9}\\\"b\",\"x\":0.5}\n{\"uid\":2,\"s1\":\"x y\",\"x\":-2000.0}\n"
    );
    // A raw control character inside a string is not JSON.
    let o = run(
        "csv-to-cs",
        &["-o", &p(&out), "--force"],
        Some(b"{\"uid\":1,\"s\":\"a\tb\"}\n"),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("line 1: not a JSON object: control character"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn schema_file_from_cs_cat_is_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let f = p(&cs_fixture("all_numeric_dtypes.numpy.cs"));
    let out = p(&dir.path().join("o.cs"));
    let o = sh(&format!("cs-cat --schema {f} > {d}/s.jsonl && cs-to-csv {f} | csv-to-cs --schema {d}/s.jsonl -o {out} && cmp {out} {f}", d = p(dir.path())));
    assert!(o.status.success(), "{}", stderr(&o));
}

fn refused(input: &str, schema: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.jsonl"), schema).unwrap();
    std::fs::write(dir.path().join("in.csv"), input).unwrap();
    let out = dir.path().join("out.cs");
    let o = run(
        "csv-to-cs",
        &[
            "--schema",
            &p(&dir.path().join("s.jsonl")),
            &p(&dir.path().join("in.csv")),
            "-o",
            &p(&out),
        ],
        None,
    );
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    for n in needles {
        assert!(e.contains(n), "expected {n:?} in {e}");
    }
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no temporary file left"
    );
}

const U1: &str = "{\"name\":\"uid\",\"dtype\":\"<u8\",\"shape\":[]}\n{\"name\":\"v\",\"dtype\":\"|u1\",\"shape\":[]}\n";
const U4: &str = "{\"name\":\"uid\",\"dtype\":\"<u8\",\"shape\":[]}\n{\"name\":\"v\",\"dtype\":\"<u4\",\"shape\":[]}\n";
const F4X3: &str = "{\"name\":\"uid\",\"dtype\":\"<u8\",\"shape\":[]}\n{\"name\":\"v\",\"dtype\":\"<f4\",\"shape\":[3]}\n";

#[test]
fn value_too_large_for_u1() {
    refused(
        "uid,v\n1,3\n2,300\n",
        U1,
        &["in.csv:3: field v: value 300 does not fit |u1"],
    );
}

#[test]
fn negative_value_into_unsigned() {
    refused(
        "uid,v\n1,-1\n",
        U4,
        &["in.csv:2: field v: value -1 does not fit <u4"],
    );
}

#[test]
fn fraction_into_an_integer() {
    refused(
        "uid,v\n1,1.5\n",
        U4,
        &["in.csv:2: field v: '1.5' is not an integer (<u4)"],
    );
}

#[test]
fn text_into_a_number() {
    refused(
        "uid,v\n1,abc\n",
        U4,
        &["in.csv:2: field v: 'abc' is not a number (<u4)"],
    );
}

#[test]
fn subarray_with_the_wrong_element_count() {
    refused("uid,v[0],v[1]\n1,1,2\n", F4X3, &["field 'v' is missing"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.jsonl"), F4X3).unwrap();
    let out = dir.path().join("o.cs");
    let o = run(
        "csv-to-cs",
        &["--schema", &p(&dir.path().join("s.jsonl")), "-o", &p(&out)],
        Some(b"{\"uid\":1,\"v\":[1,2,3]}\n{\"uid\":2,\"v\":[1,2]}\n"),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("-:2: field v: subarray has 2 elements where its dtype needs 3"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}

#[test]
fn template_field_missing_from_the_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let f = p(&cs_fixture("particles_1000.numpy.cs"));
    let out = dir.path().join("o.cs");
    let o = sh(&format!(
        "cs-to-csv -f uid,blob {f} | csv-to-cs --like {f} -o {}",
        p(&out)
    ));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("field 'ctf/type' is missing from the input"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}

#[test]
fn existing_output_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    let f = p(&cs_fixture("uid_extremes.numpy.cs"));
    let out = dir.path().join("o.cs");
    std::fs::write(&out, b"keep me").unwrap();
    let o = sh(&format!(
        "cs-cat --int64-as-string {f} | csv-to-cs --like {f} -o {}",
        p(&out)
    ));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("exists (use --force to replace it)"));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    let o = sh(&format!(
        "cs-cat --int64-as-string {f} | csv-to-cs --force --like {f} -o {}",
        p(&out)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::read(&out).unwrap() == std::fs::read(cs_fixture("uid_extremes.numpy.cs")).unwrap()
    );
}

#[test]
fn output_to_a_pipe_with_dash() {
    let f = p(&cs_fixture("uid_extremes.numpy.cs"));
    let o = sh(&format!(
        "cs-cat {f} | csv-to-cs --new-uids --like {f} -o - | cs-cat --count -"
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "4");
}

#[test]
fn new_output_files_are_readable_by_others() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let f = p(&cs_fixture("uid_extremes.numpy.cs"));
    let out = dir.path().join("o.cs");
    let o = sh(&format!("cs-cat {f} | csv-to-cs --like {f} -o {}", p(&out)));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o644
    );
    // Replacing a file keeps its mode.
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
    let o = sh(&format!(
        "cs-cat {f} | csv-to-cs --force --like {f} -o {}",
        p(&out)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o640
    );
}

#[test]
fn a_template_with_a_32_bit_uid_is_checked_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("s.jsonl");
    std::fs::write(&schema, "{\"name\":\"uid\",\"dtype\":\"<u4\",\"shape\":[]}\n{\"name\":\"v\",\"dtype\":\"<f4\",\"shape\":[]}\n").unwrap();
    let t = dir.path().join("t.cs");
    let o = run(
        "csv-to-cs",
        &["--schema", &p(&schema), "-o", &p(&t)],
        Some(b"uid,v\n7,1.5\n8,2.5\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("o.cs");
    let o = run(
        "csv-to-cs",
        &["--like", &p(&t), "-o", &p(&out)],
        Some(b"uid,v\n8,3.5\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(
        "csv-to-cs",
        &["--like", &p(&t), "-o", &p(&out), "--force"],
        Some(b"uid,v\n9,3.5\n"),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("uid 9 is not in"), "{}", stderr(&o));
    let o = run(
        "csg-edit",
        &[
            "new",
            "-o",
            &p(&dir.path().join("g.csg")),
            "--name",
            "x",
            "--type",
            "particle",
            &p(&t),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run("csg-edit", &["check", &p(&dir.path().join("g.csg"))], None);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

/// Rows of `uid,label,x` CSV, `n` of them; every 997th label holds a quoted newline and comma
/// when `quoted`. Returns the text and the expected JSON-lines of cs-cat.
fn many_rows(n: u64, quoted: bool, newline: &str) -> (String, String) {
    let mut csv = format!("uid,label,x{newline}");
    let mut jsonl = String::new();
    for i in 0..n {
        let label = if quoted && i % 997 == 0 {
            format!("two\nlines, {i}")
        } else {
            format!("row{i}")
        };
        let cell = if label.contains(['\n', ',']) {
            format!("\"{label}\"")
        } else {
            label.clone()
        };
        csv.push_str(&format!("{},{cell},{}.5{newline}", i * 3, i));
        jsonl.push_str(&format!(
            "{{\"uid\":{},\"label\":{},\"x\":{}.5}}\n",
            i * 3,
            serde_json::to_string(&label).unwrap(),
            i
        ));
    }
    (csv, jsonl)
}

#[test]
fn large_inputs_cross_block_boundaries_intact() {
    // About 9 MB: more than two 4 MB read blocks, each cut into many pieces.
    for (quoted, newline) in [(false, "\n"), (true, "\n"), (false, "\r\n")] {
        let (csv, expected) = many_rows(400_000, quoted, newline);
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, &csv).unwrap();
        let out = dir.path().join("o.cs");
        let o = run("csv-to-cs", &[&p(&input), "-o", &p(&out)], None);
        assert!(o.status.success(), "{}", stderr(&o));
        let back = run("cs-cat", &[&p(&out)], None);
        assert!(
            stdout(&back) == expected,
            "round trip differs (quoted {quoted}, newline {newline:?})"
        );
    }
}

#[test]
fn errors_late_in_large_inputs_name_the_right_line() {
    for quoted in [false, true] {
        let (mut csv, _) = many_rows(300_000, quoted, "\n");
        // Line 1 is the header; each quoted label adds a line.
        let quoted_lines = if quoted { 300_000u64.div_ceil(997) } else { 0 };
        csv.push_str("5,bad,not-a-number\n");
        let bad_line = 300_000 + quoted_lines + 2;
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, &csv).unwrap();
        let out = dir.path().join("o.cs");
        std::fs::write(
            dir.path().join("s.jsonl"),
            "{\"name\":\"uid\",\"dtype\":\"<u8\",\"shape\":[]}\n{\"name\":\"label\",\"dtype\":\"|O\",\"shape\":[]}\n{\"name\":\"x\",\"dtype\":\"<f8\",\"shape\":[]}\n",
        )
        .unwrap();
        let o = run(
            "csv-to-cs",
            &[
                "--schema",
                &p(&dir.path().join("s.jsonl")),
                &p(&input),
                "-o",
                &p(&out),
            ],
            None,
        );
        assert_eq!(o.status.code(), Some(1));
        let want = format!("in.csv:{bad_line}: field x: 'not-a-number' is not a number");
        assert!(stderr(&o).contains(&want), "want {want} in {}", stderr(&o));
        assert!(!out.exists());
    }
}

#[test]
fn a_short_row_late_in_the_input_is_named_by_line() {
    let (mut csv, _) = many_rows(200_000, false, "\n");
    csv.push_str("1,2\n");
    let o = run("csv-to-cs", &["-o", "-"], Some(csv.as_bytes()));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("-: line 200002: 2 columns where the header has 3"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_csdat_template_gives_the_same_numpy_file_as_its_numpy_twin() {
    // A CSDAT template has no string widths: they are learnt from the rows.
    let dir = tempfile::tempdir().unwrap();
    for f in numpy_fixtures() {
        let twin = twin_of(&f, ".csdat.cs");
        if !twin.exists() {
            continue;
        }
        let out = dir.path().join("o.cs");
        let o = sh(&format!(
            "cs-to-csv {t} | csv-to-cs --like {t} -o {o} --force",
            t = p(&twin),
            o = p(&out)
        ));
        assert!(o.status.success(), "{}: {}", twin.display(), stderr(&o));
        assert!(
            std::fs::read(&out).unwrap() == std::fs::read(&f).unwrap(),
            "{} read back as numpy differs from {}",
            twin.display(),
            f.display()
        );
    }
}

/// The `|S` width cs-cat reports for a field of a file.
fn string_width(file: &Path, field: &str) -> usize {
    let info = run("cs-cat", &["--schema", &p(file)], None);
    assert!(info.status.success(), "{}", stderr(&info));
    let header = std::fs::read(file).unwrap();
    let text = String::from_utf8_lossy(&header[..header.len().min(4096)]).to_string();
    let key = format!("('{field}', '|S");
    let at = text
        .find(&key)
        .unwrap_or_else(|| panic!("no |S field {field}"));
    text[at + key.len()..]
        .split('\'')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn string_widths_are_the_longest_value_plus_one_whatever_the_template_says() {
    let f = cs_fixture("particles_1000.numpy.cs");
    let dir = tempfile::tempdir().unwrap();
    let template_width = string_width(&f, "blob/path");
    // Longer paths than the template's (a moved project), then fewer rows with shorter ones.
    let longer = dir.path().join("longer.cs");
    let o = sh(&format!(
        "cs-to-csv {f} | sed 's#J[0-9]*/extract/#/mnt/archive/lab/2026/J99/extract/#' \
         | csv-to-cs --like {f} -o {o}",
        f = p(&f),
        o = p(&longer)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        string_width(&longer, "blob/path"),
        template_width + "/mnt/archive/lab/2026/J99".len() - "J5".len()
    );
    let back = sh(&format!(
        "cs-cat -f blob/path {} | grep -c '/mnt/archive/lab/2026/J99/extract/'",
        p(&longer)
    ));
    assert_eq!(stdout(&back).trim(), "1000");
    let shorter = dir.path().join("shorter.cs");
    let o = sh(&format!(
        "cs-cat {f} | head -3 | csv-to-cs --like {f} -o {o}",
        f = p(&f),
        o = p(&shorter)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let longest = stdout(&sh(&format!(
        "cs-cat -f blob/path {f} | head -3",
        f = p(&f)
    )))
    .lines()
    .map(|l| {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["blob/path"]
            .as_str()
            .unwrap()
            .len()
    })
    .max()
    .unwrap();
    assert_eq!(string_width(&shorter, "blob/path"), longest + 1);
    let rows = run("cs-cat", &["--count", &p(&shorter)], None);
    assert_eq!(stdout(&rows).trim(), "3");
}

#[test]
fn strings_growing_through_a_large_input_widen_the_file_without_loss() {
    // Labels grow every few thousand rows across several read blocks, starting from a declared
    // width of 2: the file is widened again and again, and must equal the inferred result.
    let n = 300_000u64;
    let mut csv = String::from("uid,label,x\n");
    let mut expected = String::new();
    for i in 0..n {
        let label = "é".repeat((i / 7000) as usize + 1);
        csv.push_str(&format!("{},{label},{}.25\n", i * 7, i));
        expected.push_str(&format!(
            "{{\"uid\":{},\"label\":\"{label}\",\"x\":{}.25}}\n",
            i * 7,
            i
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, &csv).unwrap();
    let schema = dir.path().join("s.jsonl");
    std::fs::write(
        &schema,
        "{\"name\":\"uid\",\"dtype\":\"<u8\",\"shape\":[]}\n{\"name\":\"label\",\"dtype\":\"|S2\",\"shape\":[]}\n{\"name\":\"x\",\"dtype\":\"<f8\",\"shape\":[]}\n",
    )
    .unwrap();
    let declared = dir.path().join("declared.cs");
    let o = run(
        "csv-to-cs",
        &["--schema", &p(&schema), &p(&input), "-o", &p(&declared)],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let back = run("cs-cat", &[&p(&declared)], None);
    assert!(stdout(&back) == expected, "values differ after widening");
    let longest = "é".len() * ((n - 1) / 7000 + 1) as usize;
    assert_eq!(string_width(&declared, "label"), longest + 1);
    let inferred = dir.path().join("inferred.cs");
    let o = run("csv-to-cs", &[&p(&input), "-o", &p(&inferred)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read(&declared).unwrap() == std::fs::read(&inferred).unwrap());
    // Nothing but the output is left in the folder.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(names.is_empty(), "temporary files left: {names:?}");
}

#[test]
fn quote_free_and_quoted_csv_give_the_same_file() {
    // Quote-free text takes the quick path, quoted text the CSV parser: both must agree, with
    // a blank line, a last line without its newline, and tabs.
    let f = p(&cs_fixture("particles_1000.numpy.cs"));
    let dir = tempfile::tempdir().unwrap();
    let want = std::fs::read(&f).unwrap();
    for (flags, sep) in [(vec![], ","), (vec!["-t"], "\t")] {
        let csv = stdout(&run("cs-to-csv", &[&flags[..], &[&f[..]]].concat(), None));
        let mut lines: Vec<&str> = csv.lines().collect();
        lines.insert(400, "");
        let plain = lines.join("\n");
        let quoted: String = lines
            .iter()
            .map(|l| {
                let cells: Vec<String> = l
                    .split(sep)
                    .filter(|c| !c.is_empty())
                    .map(|c| format!("\"{c}\""))
                    .collect();
                cells.join(sep) + "\n"
            })
            .collect();
        for (what, text) in [("quote-free", &plain), ("quoted", &quoted)] {
            let out = p(&dir.path().join("o.cs"));
            let args = [&flags[..], &["--like", &f, "-o", &out, "--force"]].concat();
            let o = run("csv-to-cs", &args, Some(text.as_bytes()));
            assert!(o.status.success(), "{what} {flags:?}: {}", stderr(&o));
            assert!(std::fs::read(&out).unwrap() == want, "{what} {flags:?}");
        }
    }
}

#[test]
fn the_first_unknown_uid_is_named_before_a_later_error_in_either_format() {
    let f = p(&cs_fixture("particles_1000.numpy.cs"));
    let csv = stdout(&run("cs-to-csv", &[&f], None));
    let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
    // Line 6 gets a uid the template lacks; line 900 a value that is not a number.
    let rest = lines[5].split_once(',').unwrap().1.to_string();
    lines[5] = format!("12345,{rest}");
    lines[899] = lines[899].replacen(",1.0825,", ",oops,", 1);
    let text = lines.join("\n") + "\n";
    let dir = tempfile::tempdir().unwrap();
    for format in ["numpy", "csdat"] {
        let out = p(&dir.path().join("o.cs"));
        let o = run(
            "csv-to-cs",
            &["--like", &f, "--format", format, "-o", &out],
            Some(text.as_bytes()),
        );
        assert_eq!(o.status.code(), Some(1), "{format}");
        assert!(
            stderr(&o).contains("-:6: field uid: uid 12345 is not in"),
            "{format}: {}",
            stderr(&o)
        );
        assert!(!Path::new(&out).exists());
        let o = run(
            "csv-to-cs",
            &["--like", &f, "--format", format, "--new-uids", "-o", &out],
            Some(text.as_bytes()),
        );
        assert_eq!(o.status.code(), Some(1), "{format}");
        assert!(
            stderr(&o).contains("-:900: field "),
            "{format}: {}",
            stderr(&o)
        );
    }
}
