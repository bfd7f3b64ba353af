//! `csg-edit` end to end: the fixture group round-trips byte for byte, `show` resolves paths,
//! `check` finds each problem class, `new` rebuilds the fixture's content, `set` runs the subset
//! workflow, bad input is refused with file and key, and the examples/Makefile rules work.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::{cs_fixture, run, sh, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A temp folder with the fixture group and its .cs file.
fn fixture_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for f in ["particles_1000.example.csg", "particles_1000.numpy.cs"] {
        std::fs::copy(cs_fixture(f), dir.path().join(f)).unwrap();
    }
    let csg = dir.path().join("particles_1000.example.csg");
    (dir, csg)
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

fn check_records(args: &[&str]) -> (Option<i32>, Vec<Value>) {
    let o = run("csg-edit", args, None);
    let recs = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (o.status.code(), recs)
}

#[test]
fn fixture_round_trips_byte_for_byte() {
    let (_d, csg) = fixture_dir();
    let o = run("csg-edit", &["set", &p(&csg)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout == std::fs::read(cs_fixture("particles_1000.example.csg")).unwrap());
}

#[test]
fn show_resolves_metafiles_against_the_csg_folder() {
    let (d, csg) = fixture_dir();
    let o = run("csg-edit", &["show", &p(&csg)], None);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let side: Value = serde_json::from_slice(
        &std::fs::read(cs_fixture("particles_1000.example.csg.json")).unwrap(),
    )
    .unwrap();
    let want = &side["parsed_as_strings"];
    assert_eq!(v["created"], want["created"]);
    assert_eq!(v["version"], want["version"]);
    assert_eq!(v["group"], want["group"]);
    for (slot, r) in want["results"].as_object().unwrap() {
        assert_eq!(v["results"][slot]["metafile"], r["metafile"]);
        assert_eq!(
            v["results"][slot]["num_items"].to_string(),
            r["num_items"].as_str().unwrap()
        );
        assert_eq!(v["results"][slot]["type"], r["type"]);
        let path = v["results"][slot]["path"].as_str().unwrap();
        assert_eq!(
            Path::new(path),
            d.path()
                .join(side["resolved_metafiles"][slot].as_str().unwrap())
        );
    }
}

#[test]
fn check_is_silent_on_a_clean_group() {
    let (_d, csg) = fixture_dir();
    let (code, recs) = check_records(&["check", &p(&csg)]);
    assert_eq!(code, Some(0));
    assert!(recs.is_empty());
}

#[test]
fn check_reports_each_problem_class() {
    let (d, csg) = fixture_dir();
    let text = std::fs::read_to_string(&csg).unwrap();
    let write = |name: &str, t: String| {
        let f = d.path().join(name);
        std::fs::write(&f, t).unwrap();
        p(&f)
    };
    // num_items wrong, metafile missing, a directory, not a .cs, slot absent, type mismatch.
    let wrong_count = write(
        "count.csg",
        text.replacen("num_items: 1000", "num_items: 999", 1),
    );
    let missing = write(
        "missing.csg",
        text.replacen("'>particles_1000.numpy.cs'", "'>nope.cs'", 1),
    );
    std::fs::create_dir(d.path().join("adir.cs")).unwrap();
    let directory = write(
        "dir.csg",
        text.replacen("'>particles_1000.numpy.cs'", "'>adir.cs'", 1),
    );
    std::fs::write(d.path().join("text.cs"), "not a dataset").unwrap();
    let not_cs = write(
        "notcs.csg",
        text.replacen("'>particles_1000.numpy.cs'", "'>text.cs'", 1),
    );
    let slot = write(
        "slot.csg",
        text.replace("  pick_stats:\n", "  quality_stats:\n"),
    );
    let ty = write(
        "type.csg",
        text.replace("type: particle.blob", "type: volume.blob"),
    );
    let escape = write(
        "escape.csg",
        text.replacen(
            "'>particles_1000.numpy.cs'",
            "'>../particles_1000.numpy.cs'",
            1,
        ),
    );
    for (file, problem) in [
        (&wrong_count, "num_items"),
        (&missing, "missing"),
        (&directory, "not_a_file"),
        (&not_cs, "not_cs"),
        (&slot, "slot_fields"),
        (&ty, "type"),
        (&escape, "bad_path"),
    ] {
        let (code, recs) = check_records(&["check", file]);
        assert_eq!(code, Some(1), "{file}");
        assert!(
            recs.iter()
                .any(|r| r["problem"] == problem && r["file"] == file.as_str()),
            "{problem}: {recs:?}"
        );
    }
    // Duplicated uids: a file with a repeated row.
    let dup_cs = d.path().join("dup.cs");
    let o = sh(&format!(
        "(cs-cat -n 2 {f}; cs-cat -n 1 {f}) | csv-to-cs --like {f} -o {o}",
        f = p(&cs_fixture("particles_1000.numpy.cs")),
        o = p(&dup_cs)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let dup = write(
        "dup.csg",
        text.replace("'>particles_1000.numpy.cs'", "'>dup.cs'")
            .replace("num_items: 1000", "num_items: 3"),
    );
    let (code, recs) = check_records(&["check", &dup]);
    assert_eq!(code, Some(1));
    assert_eq!(recs.len(), 5, "one record per slot: {recs:?}");
    assert!(
        recs.iter().all(|r| r["problem"] == "duplicate_uids"),
        "{recs:?}"
    );
    // Several files: every problem of every file.
    let (code, recs) = check_records(&["check", &p(&csg), &wrong_count, &ty]);
    assert_eq!(code, Some(1));
    assert_eq!(recs.len(), 2, "{recs:?}");
}

#[test]
fn new_rebuilds_the_fixture_group() {
    let (d, csg) = fixture_dir();
    let out = d.path().join("new.csg");
    let o = run(
        "csg-edit",
        &[
            "new",
            "-o",
            &p(&out),
            "--name",
            "particles",
            "--type",
            "particle",
            "--title",
            "All particles",
            "--description",
            "All particles that were processed, including alignments",
            &p(&d.path().join("particles_1000.numpy.cs")),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let (code, recs) = check_records(&["check", &p(&out)]);
    assert_eq!((code, recs.len()), (Some(0), 0));
    let strip = |t: String| {
        t.lines()
            .filter(|l| !l.starts_with("created:") && !l.starts_with("version:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(std::fs::read_to_string(&out).unwrap()),
        strip(std::fs::read_to_string(&csg).unwrap())
    );
    // An existing output is refused without --force.
    let o = run(
        "csg-edit",
        &[
            "new",
            "-o",
            &p(&out),
            "--name",
            "x",
            "--type",
            "particle",
            &p(&d.path().join("particles_1000.numpy.cs")),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("exists"));
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains("name: particles"));
    // --force replaces it, and the long name --output is the same flag.
    let o = run(
        "csg-edit",
        &[
            "new",
            "--output",
            &p(&out),
            "--force",
            "--name",
            "x",
            "--type",
            "particle",
            &p(&d.path().join("particles_1000.numpy.cs")),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&out).unwrap().contains("name: x"));
}

#[test]
fn subset_workflow_through_the_real_binaries() {
    let (d, csg) = fixture_dir();
    let cs = d.path().join("particles_1000.numpy.cs");
    let o = sh(&format!(
        "cd {dir} && cs-cat --int64-as-string {cs} | jq -c 'select(.[\"ctf/df1_A\"] > 15000)' | csv-to-cs --like {cs} -o subset.cs \
         && csg-edit set {csg} --metafile subset.cs --num-items auto -o subset.csg && csg-edit check subset.csg && cs-cat --count subset.cs",
        dir = p(d.path()),
        cs = p(&cs),
        csg = p(&csg)
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let n = stdout(&o).trim().to_string();
    let text = std::fs::read_to_string(d.path().join("subset.csg")).unwrap();
    assert!(text.contains("metafile: '>subset.cs'"), "{text}");
    assert!(text.contains(&format!("num_items: {n}\n")), "{text}");
    assert_eq!(text.matches("'>subset.cs'").count(), 5);
}

#[test]
fn set_in_place_and_slot_metafiles() {
    let (d, csg) = fixture_dir();
    std::fs::copy(
        d.path().join("particles_1000.numpy.cs"),
        d.path().join("other.cs"),
    )
    .unwrap();
    let other = format!("blob={}", p(&d.path().join("other.cs")));
    let o = run(
        "csg-edit",
        &[
            "set",
            &p(&csg),
            "--metafile",
            &other,
            "--title",
            "Re-titled",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // All slots pointed at the same file, so all move with blob.
    assert_eq!(stdout(&o).matches("'>other.cs'").count(), 5);
    let o = sh(&format!(
        "cd {} && csg-edit set -i particles_1000.example.csg --name picked --num-items 7",
        p(d.path())
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&csg).unwrap();
    assert!(
        text.contains("  name: picked\n") && text.contains("num_items: 7\n"),
        "{text}"
    );
}

#[test]
fn set_metafile_moves_the_slots_sharing_a_file_and_asks_which_when_they_do_not_share_one() {
    let (d, csg) = fixture_dir();
    for f in ["passthrough.cs", "subset.cs"] {
        std::fs::copy(d.path().join("particles_1000.numpy.cs"), d.path().join(f)).unwrap();
    }
    // location and pick_stats in a passthrough file, the other three slots in the main file.
    let text = std::fs::read_to_string(&csg).unwrap();
    let mut parts: Vec<String> = text.split("  location:").map(str::to_string).collect();
    parts[1] = parts[1].replace("'>particles_1000.numpy.cs'", "'>passthrough.cs'");
    let text = parts.join("  location:");
    std::fs::write(&csg, &text).unwrap();
    let subset = p(&d.path().join("subset.cs"));
    let set = |args: &[&str]| {
        let mut all = vec!["set", csg.to_str().unwrap()];
        all.extend_from_slice(args);
        run("csg-edit", &all, None)
    };

    let o = set(&["--metafile", &format!("location={subset}")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.matches("'>subset.cs'").count(), 2, "{out}");
    assert_eq!(
        out.matches("'>particles_1000.numpy.cs'").count(),
        3,
        "{out}"
    );
    assert!(!out.contains("passthrough.cs"), "{out}");

    let usage = |o: &std::process::Output, needle: &str| {
        let e = stderr(o);
        assert_eq!(o.status.code(), Some(2), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.contains(needle), "{needle:?} in {e}");
        assert!(stdout(o).is_empty());
    };
    usage(
        &set(&["--metafile", &subset]),
        "point at 2 files; say which with SLOT=PATH",
    );
    usage(
        &set(&["--metafile", &format!("nope={subset}")]),
        "no slot 'nope'",
    );
    usage(
        &set(&["--num-items", "many"]),
        "--num-items takes a whole number or 'auto', not 'many'",
    );
    assert_eq!(std::fs::read_to_string(&csg).unwrap(), text, "untouched");

    // Written into another folder, every metafile is named from there and still found.
    std::fs::create_dir(d.path().join("sub")).unwrap();
    let moved = d.path().join("sub/moved.csg");
    let o = set(&["-o", moved.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let written = std::fs::read_to_string(&moved).unwrap();
    assert!(!written.contains("'>"), "{written}");
    let (code, problems) = check_records(&["check", moved.to_str().unwrap()]);
    assert_eq!((code, problems.len()), (Some(0), 0), "{problems:?}");
}

fn refused(text: &str, args_after: &[&str], needles: &[&str]) {
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(
        cs_fixture("particles_1000.numpy.cs"),
        d.path().join("particles_1000.numpy.cs"),
    )
    .unwrap();
    std::fs::create_dir(d.path().join("adir.cs")).unwrap();
    let f = d.path().join("g.csg");
    std::fs::write(&f, text).unwrap();
    let mut args = vec!["set", "-i"];
    let fs = p(&f);
    args.push(&fs);
    args.extend_from_slice(args_after);
    let o = run("csg-edit", &args, None);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.starts_with(&format!("csg-edit: {fs}: ")), "{e}");
    for n in needles {
        assert!(e.contains(n), "{n:?} in {e}");
    }
    assert_eq!(std::fs::read_to_string(&f).unwrap(), text, "untouched");
}

#[test]
fn bad_input_is_refused_with_file_and_key() {
    let good = std::fs::read_to_string(cs_fixture("particles_1000.example.csg")).unwrap();
    refused("group: [unclosed\n", &[], &["line 1"]);
    refused(
        &good.replace("results:", "resultz:"),
        &[],
        &["missing key `results`"],
    );
    refused(
        &good.replacen("num_items: 1000", "num_items: many", 1),
        &[],
        &["line ", "results.alignments3D.num_items"],
    );
    refused(
        &good.replacen("num_items: 1000", "num_items: -3", 1),
        &[],
        &["results.alignments3D.num_items"],
    );
    refused(
        &good.replace("'>particles_1000.numpy.cs'", "'>adir.cs'"),
        &["--num-items", "auto"],
        &["adir.cs", "directory"],
    );
    refused(
        &good.replacen("'>particles_1000.numpy.cs'", "'>../x.cs'", 1),
        &[],
        &["key results.alignments3D.metafile", "climbs out"],
    );
}

#[test]
fn examples_makefile_builds_once_and_leaves_no_half_made_target() {
    let d = tempfile::tempdir().unwrap();
    for f in ["Makefile", "particles.cs", "particles.csg"] {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples")
                .join(f),
            d.path().join(f),
        )
        .unwrap();
    }
    let o = sh(&format!("make -C {} all check", p(d.path())));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let made = std::fs::read_to_string(d.path().join("subset.csg")).unwrap();
    assert!(made.contains("'>subset.cs'"));
    // A re-run has nothing to do.
    let o = sh(&format!("make -q -C {} all", p(d.path())));
    assert!(
        o.status.success(),
        "make -q says the targets are up to date"
    );
    // A failing run leaves no target behind.
    std::fs::remove_file(d.path().join("subset.cs")).unwrap();
    std::fs::remove_file(d.path().join("subset.csg")).unwrap();
    std::fs::write(d.path().join("particles.cs"), b"\x93NUMPY broken").unwrap();
    let o = sh(&format!("make -C {} all", p(d.path())));
    assert!(!o.status.success());
    assert!(!d.path().join("subset.cs").exists() && !d.path().join("subset.csg").exists());
    let leftovers: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 3, "{leftovers:?}");
}

/// A `.csg` of one `blob` slot in `metafile`.
fn group_csg(metafile: &str) -> String {
    format!(
        "group:\n  name: particles\n  type: particle\nresults:\n  blob:\n    metafile: '{metafile}'\n    num_items: 3\n    type: particle.blob\n"
    )
}

#[test]
fn csg_whose_metafile_is_a_fifo_is_refused_at_once() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("f.csg"), group_csg(">m.cs")).unwrap();
    let o = common::sh_capped(
        d.path(),
        common::MEMORY_CAP_KB,
        "mkfifo m.cs && timeout 20 csg-edit check f.csg",
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    let lines = common::json_lines(&o);
    assert_eq!(lines.len(), 1, "{}", stdout(&o));
    assert_eq!(lines[0]["file"], "f.csg");
    assert_eq!(lines[0]["slot"], "blob");
    assert_eq!(lines[0]["problem"], "not_a_file");
    let detail = lines[0]["detail"].as_str().unwrap();
    assert!(detail.contains("m.cs is a FIFO"), "{detail}");
    let o = common::run_capped(d.path(), "csg-edit set f.csg --num-items auto");
    common::refused(
        &o,
        "csg-edit",
        "f.csg",
        &["key results.blob.metafile", "is a FIFO"],
    );
    let o = common::run_capped(d.path(), "cs-cat m.cs");
    common::refused(&o, "cs-cat", "m.cs", &["is a FIFO"]);
}

#[test]
fn csg_nested_thousands_deep_is_refused_by_line_at_once() {
    // 100,000 nested brackets: 200 kB that the YAML parser takes minutes over.
    let d = tempfile::tempdir().unwrap();
    let n = 100_000;
    let deep = format!(
        "{}extra: {}{}\n",
        group_csg(">m.cs"),
        "[".repeat(n),
        "]".repeat(n)
    );
    std::fs::write(d.path().join("deep.csg"), deep).unwrap();
    let needles = ["line 9", "YAML nested more than 64 levels deep"];
    let o = common::run_capped(d.path(), "csg-edit show deep.csg");
    common::refused(&o, "csg-edit", "deep.csg", &needles);
    let o = common::run_capped(d.path(), "csg-edit check deep.csg");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = common::json_lines(&o);
    assert_eq!(lines.len(), 1, "{}", stdout(&o));
    assert_eq!(lines[0]["problem"], "unreadable_csg");
    let detail = lines[0]["detail"].as_str().unwrap();
    assert!(needles.iter().all(|n| detail.contains(n)), "{detail}");
}
