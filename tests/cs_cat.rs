//! `cs-cat` end to end: the real binary, stdin, several files, field selection, header-only
//! answers, pipelines with `head` and `jq`, and the committed man page.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::{cs_fixture, fixture, run, sh, stderr, stdout};
use serde_json::Value;

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn cat(args: &[&str]) -> String {
    let o = run("cs-cat", args, None);
    assert!(o.status.success(), "cs-cat {args:?}: {}", stderr(&o));
    assert!(o.stderr.is_empty(), "stderr: {}", stderr(&o));
    stdout(&o)
}

fn p(name: &str) -> String {
    cs_fixture(name).display().to_string()
}

#[test]
fn every_container_of_a_dataset_prints_the_same_lines() {
    for stem in [
        "particles_1000",
        "uid_extremes",
        "all_numeric_dtypes",
        "unicode",
        "many_fields_100_classes",
        "empty_0rows",
    ] {
        let reference = cat(&[&p(&format!("{stem}.numpy.cs"))]);
        for variant in ["csdat", "csdat_nolz4", "csdat_snappy"] {
            let f = cs_fixture(&format!("{stem}.{variant}.cs"));
            if f.exists() {
                assert_eq!(
                    cat(&[&f.display().to_string()]),
                    reference,
                    "{stem}.{variant}"
                );
            }
        }
    }
}

#[test]
fn rows_match_the_sidecar_through_the_binary() {
    let out = cat(&[&p("particles_1000.numpy.cs")]);
    let rows = lines(&out);
    let side: Value =
        serde_json::from_slice(&std::fs::read(cs_fixture("particles_1000.numpy.cs.json")).unwrap())
            .unwrap();
    assert_eq!(rows.len(), 1000);
    assert_eq!(rows[0], side["first_rows"][0]);
    assert_eq!(rows[999], side["last_row"]);
    assert!(
        out.starts_with("{\"uid\":15839329126756262956,\"blob/path\":"),
        "compact, uid first, exact u64"
    );
}

#[test]
fn reads_numpy_and_csdat_from_stdin() {
    for name in [
        "particles_1000.numpy.cs",
        "particles_1000.csdat.cs",
        "particles_1000.csdat_snappy.cs",
    ] {
        let bytes = std::fs::read(cs_fixture(name)).unwrap();
        let o = run("cs-cat", &["-"], Some(&bytes));
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert_eq!(stdout(&o), cat(&[&p(name)]), "{name}");
        let o = run("cs-cat", &[], Some(&bytes));
        assert_eq!(
            stdout(&o).lines().count(),
            1000,
            "{name} with no file argument"
        );
    }
}

#[test]
fn several_files_print_one_after_another() {
    let a = p("particles_1000.numpy.cs");
    let b = p("particles_1000.csdat.cs");
    let both = cat(&[&a, &b]);
    assert_eq!(both, format!("{}{}", cat(&[&a]), cat(&[&b])));
    assert_eq!(cat(&["--count", &a, &b]).trim(), "2000");
    assert_eq!(cat(&["-n", "1001", &a, &b]).lines().count(), 1001);
}

#[test]
fn files_with_different_schemas_are_refused_before_any_row() {
    let o = run(
        "cs-cat",
        &[&p("particles_1000.numpy.cs"), &p("uid_extremes.numpy.cs")],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let e = stderr(&o);
    assert!(
        e.starts_with("cs-cat: ")
            && e.contains("uid_extremes.numpy.cs")
            && e.contains("schema differs"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1);
    // With -f picking common fields they concatenate.
    let o = cat(&[
        "-f",
        "uid",
        &p("particles_1000.numpy.cs"),
        &p("uid_extremes.numpy.cs"),
    ]);
    assert_eq!(o.lines().count(), 1004);
}

#[test]
fn fields_by_name_prefix_and_glob_in_the_order_given() {
    let f = p("particles_1000.numpy.cs");
    let rows = lines(&cat(&["-n", "1", "-f", "ctf/df1_A,uid", &f]));
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["ctf/df1_A", "uid"]);
    let rows = lines(&cat(&["-n", "1", "-f", "blob", &f]));
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "blob/path",
            "blob/idx",
            "blob/shape",
            "blob/psize_A",
            "blob/sign",
            "blob/import_sig"
        ]
    );
    let rows = lines(&cat(&["-n", "1", "-f", "*/psize_A", "-f", "uid", &f]));
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["blob/psize_A", "alignments3D/psize_A", "uid"]);
    let o = run("cs-cat", &["-f", "nosuch", &f], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no field matches 'nosuch'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn schema_prints_the_sidecar_fields_and_reads_only_the_header() {
    let side: Value = serde_json::from_slice(
        &std::fs::read(cs_fixture("all_numeric_dtypes.numpy.cs.json")).unwrap(),
    )
    .unwrap();
    let got = lines(&cat(&["--schema", &p("all_numeric_dtypes.numpy.cs")]));
    assert_eq!(Value::Array(got), side["fields"]);
    // A file cut right after its header still answers --schema and --count.
    let bytes = std::fs::read(cs_fixture("particles_1000.numpy.cs")).unwrap();
    let o = run("cs-cat", &["--schema", "-"], Some(&bytes[..1792]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 54);
    let o = run("cs-cat", &["--count", "-"], Some(&bytes[..1792]));
    assert_eq!(stdout(&o).trim(), "1000");
}

#[test]
fn count_and_info_describe_the_container() {
    assert_eq!(
        cat(&["--count", &p("many_fields_100_classes.numpy.cs")]).trim(),
        "20"
    );
    assert_eq!(cat(&["--count", &p("empty_0rows.csdat.cs")]).trim(), "0");
    assert_eq!(
        cat(&["--count", &p("particles_1000.csdat_snappy.cs")]).trim(),
        "1000"
    );
    let info = lines(&cat(&[
        "--info",
        &p("many_fields_100_classes.numpy.cs"),
        &p("particles_1000.csdat.cs"),
    ]));
    assert_eq!(info[0]["format"], "numpy");
    assert_eq!(info[0]["version"], "2.0");
    assert_eq!(info[0]["header_bytes"], 74292);
    assert_eq!(info[0]["data_offset"], 74304);
    assert_eq!(info[0]["row_bytes"], 8426);
    assert_eq!(info[1]["format"], "csdat");
    assert_eq!(info[1]["compression"], "lz4");
    assert_eq!(info[1]["rows"], 1000);
    let legacy = lines(&cat(&["--info", &p("uid_extremes.csdat_snappy.cs")]));
    assert_eq!(legacy[0]["format"], "csdat-legacy");
    assert_eq!(legacy[0]["compression"], "snap");
}

#[test]
fn head_limits_rows() {
    assert_eq!(
        cat(&["-n", "3", &p("particles_1000.csdat.cs")])
            .lines()
            .count(),
        3
    );
    assert_eq!(cat(&["--head", "0", &p("particles_1000.csdat.cs")]), "");
}

#[test]
fn extra_numpy_layouts_read_correctly() {
    let rows = lines(&cat(&[&fixture("numpy-variants/ucs4_fields.npy.cs")
        .display()
        .to_string()]));
    assert_eq!(rows[0]["name/le"], "héllo");
    assert_eq!(rows[1]["name/be"], "日本");
    assert_eq!(rows[2]["name/pair"], serde_json::json!(["é", "ü"]));
    let rows = lines(&cat(&[&fixture("numpy-variants/fortran_order.npy.cs")
        .display()
        .to_string()]));
    assert_eq!(rows[1]["uid"].as_u64(), Some(u64::MAX));
    assert_eq!(rows[1]["x"], serde_json::json!([4.5, -0.0, 1e-7]));
    let out = cat(&[&fixture("numpy-variants/uid_last.npy.cs")
        .display()
        .to_string()]);
    assert!(
        out.starts_with("{\"uid\":9007199254740993,\"blob/idx\":7}\n"),
        "{out}"
    );
    let out = cat(&[&fixture("numpy-variants/no_uid.npy.cs")
        .display()
        .to_string()]);
    assert_eq!(out, "{\"x\":-1}\n{\"x\":2}\n");
}

#[test]
fn head_closing_the_pipe_is_a_quiet_success() {
    let o = sh(&format!(
        "cs-cat {} | head -1 >/dev/null",
        p("many_fields_100_classes.numpy.cs")
    ));
    assert!(o.status.success());
    let o = sh(&format!(
        "cs-cat {f} {f} {f} | head -c 100 >/dev/null",
        f = p("particles_1000.numpy.cs")
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
}

#[test]
fn int64_as_string_survives_jq_which_rounds_plain_numbers() {
    let f = p("uid_extremes.numpy.cs");
    let o = sh(&format!("cs-cat --int64-as-string {f} | jq -r .uid"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "0\n1\n9223372036854775808\n18446744073709551615\n"
    );
    // Without the flag jq 1.6 (Debian 12) prints 18446744073709552000: the README warns about it.
    let plain = cat(&[&f]);
    assert!(plain.contains("{\"uid\":18446744073709551615}"));
}

#[test]
fn completions_are_generated_for_each_shell() {
    for (shell, marker) in [
        ("complete-bash", "complete -F _cs__cat"),
        ("complete-zsh", "#compdef cs-cat"),
        ("complete-fish", "complete -c cs-cat"),
    ] {
        let out = cat(&["--generate", shell]);
        assert!(out.contains(marker), "{shell}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let o = run("cs-cat", &["--no-such-flag"], None);
    assert_eq!(o.status.code(), Some(2));
    let o = run("cs-cat", &["-", "-"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("only once"));
}
