#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! Where every writer's `-o/--output` goes (the tools that write binary data, and those that
//! print text to standard output unless given `-o`): FIFOs and device nodes (made here with `mkfifo` and `mknod`,
//! never a real `/dev` entry) are written in place and survive, with or without `--force`;
//! `-o -` and `-o /dev/stdout` are standard output; binary writers follow a redirected stdout
//! and refuse a terminal (a pty made by `script`); a symlink to a regular file is replaced only
//! with `--force` and its target is never written.

mod common;

use common::{arg, bin, stderr};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The example particles in the repository.
fn example_cs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/particles.cs")
}

/// One writer: its binary and the arguments before `-o OUT`.
struct Writer {
    tool: &'static str,
    args: Vec<String>,
    /// Writes binary data (standard output must not be a terminal).
    binary: bool,
}

/// Every tool that writes a file named by `-o`, with inputs made in `dir`.
fn writers(dir: &Path) -> Vec<Writer> {
    let cs = arg(&example_cs());
    let csv = dir.join("particles.csv");
    let o = Command::new(bin("cs-to-csv")).arg(&cs).output().unwrap();
    assert!(o.status.success());
    std::fs::write(&csv, &o.stdout).unwrap();
    let csg = dir.join("particles.csg");
    let examples = example_cs().parent().unwrap().to_path_buf();
    std::fs::copy(examples.join("particles.csg"), &csg).unwrap();
    std::fs::copy(example_cs(), dir.join("particles.cs")).unwrap();
    let w = |tool, args: &[&str], binary| Writer {
        tool,
        args: args.iter().map(|s| s.to_string()).collect(),
        binary,
    };
    let star = star_input(dir);
    vec![
        w("csv-to-cs", &["--like", &cs, &arg(&csv)], true),
        w("cs-join", &[&cs, &cs], true),
        w("cs-to-parquet", &[&cs], true),
        w(
            "job-pack",
            &["tar", &arg(example_cs().parent().unwrap())],
            true,
        ),
        w("csg-edit", &["set", &arg(&csg), "--title", "subset"], false),
        w("cs-cat", &[&cs], false),
        w("cs-to-csv", &[&cs], false),
        w("cs-to-star", &[&arg(&star)], false),
    ]
}

/// The example particles with only the fields that have a STAR column, so that cs-to-star
/// says nothing on stderr (the tests below want one line there when a write fails).
fn star_input(dir: &Path) -> PathBuf {
    let star = dir.join("star.cs");
    let fields = "blob/path,blob/idx,blob/shape,blob/psize_A,ctf/exp_group_id,ctf/accel_kv,\
        ctf/cs_mm,ctf/amp_contrast,ctf/df1_A,ctf/df2_A,ctf/df_angle_rad,ctf/phase_shift_rad,\
        ctf/tilt_A,ctf/anisomag,ctf/bfactor,alignments3D/split,alignments3D/shift,\
        alignments3D/pose,alignments3D/psize_A,alignments3D/class,location/micrograph_path,\
        location/micrograph_shape,location/center_x_frac,location/center_y_frac";
    let o = common::sh(&format!(
        "cs-to-csv -f {fields} '{}' | csv-to-cs -o '{}'",
        example_cs().display(),
        star.display()
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    star
}

/// Run a writer with `--output out` (the long name of `-o`, which the tools' own tests use)
/// and `--force`, stdout to `stdout`.
fn run_to(w: &Writer, out: Option<&str>, force: bool, stdout: Stdio) -> Output {
    let mut cmd = Command::new(bin(w.tool));
    cmd.args(&w.args);
    if let Some(out) = out {
        cmd.args(["--output", out]);
    }
    if force {
        cmd.arg("--force");
    }
    cmd.stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// The bytes a writer puts in a new regular file.
fn reference(w: &Writer, dir: &Path) -> Vec<u8> {
    let file = dir.join(format!("reference-{}", w.tool));
    let o = run_to(w, Some(&arg(&file)), false, Stdio::piped());
    assert!(o.status.success(), "{}: {}", w.tool, stderr(&o));
    let bytes = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    assert!(!bytes.is_empty());
    bytes
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(ok.success());
}

fn mknod_char(path: &Path, major: u32, minor: u32) {
    let ok = Command::new("mknod")
        .arg(path)
        .args(["c", &major.to_string(), &minor.to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "mknod {path:?}");
}

/// Names in `dir`, sorted (no temporary file may be left behind).
fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Write into `fifo` while a thread reads it; returns the tool's result and the bytes read.
fn through_fifo(w: &Writer, out: &Path, fifo: &Path, force: bool) -> (Output, Vec<u8>) {
    let fifo = fifo.to_path_buf();
    let reader = std::thread::spawn(move || std::fs::read(fifo).unwrap());
    let o = run_to(w, Some(&arg(out)), force, Stdio::piped());
    (o, reader.join().unwrap())
}

#[test]
fn every_writer_writes_into_a_fifo_and_the_fifo_survives() {
    let d = tempfile::tempdir().unwrap();
    for w in writers(d.path()) {
        let want = reference(&w, d.path());
        for force in [false, true] {
            let fifo = d.path().join(format!("pipe-{}", w.tool));
            mkfifo(&fifo);
            let (o, got) = through_fifo(&w, &fifo, &fifo, force);
            assert!(o.status.success(), "{} {force}: {}", w.tool, stderr(&o));
            assert!(
                got == want,
                "{} --force={force}: FIFO got other bytes",
                w.tool
            );
            let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
            assert!(kind.is_fifo(), "{}: the FIFO was replaced", w.tool);
            std::fs::remove_file(&fifo).unwrap();
        }
    }
}

#[test]
fn a_symlink_to_a_fifo_is_followed() {
    let d = tempfile::tempdir().unwrap();
    let w = &writers(d.path())[0];
    let want = reference(w, d.path());
    let fifo = d.path().join("pipe");
    mkfifo(&fifo);
    let link = d.path().join("out.cs");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    let (o, got) = through_fifo(w, &link, &fifo, false);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(got == want);
    let link_kind = std::fs::symlink_metadata(&link).unwrap().file_type();
    assert!(link_kind.is_symlink());
}

#[test]
fn a_device_node_is_written_in_place_and_never_replaced() {
    let d = tempfile::tempdir().unwrap();
    let writers = writers(d.path());
    let before = names_in(d.path());
    // A null device (1,3) takes every byte; a full device (1,7) fails every write. Both made
    // here with mknod.
    let null = d.path().join("null-node");
    let full = d.path().join("full-node");
    mknod_char(&null, 1, 3);
    mknod_char(&full, 1, 7);
    for w in &writers {
        for force in [false, true] {
            let o = run_to(w, Some(&arg(&null)), force, Stdio::piped());
            assert!(o.status.success(), "{}: {}", w.tool, stderr(&o));
            let o = run_to(w, Some(&arg(&full)), force, Stdio::piped());
            assert_eq!(o.status.code(), Some(1), "{} into a full device", w.tool);
            let e = stderr(&o);
            assert!(
                e.lines().count() == 1 && e.contains(&arg(&full)) && e.contains("No space left"),
                "{}: {e}",
                w.tool
            );
            for node in [&null, &full] {
                let m = std::fs::symlink_metadata(node).unwrap();
                assert!(
                    m.file_type().is_char_device(),
                    "{}: {node:?} replaced",
                    w.tool
                );
            }
        }
    }
    let mut after = before.clone();
    after.extend(["full-node".to_string(), "null-node".to_string()]);
    after.sort();
    assert_eq!(
        names_in(d.path()),
        after,
        "a temporary file was left behind"
    );
}

#[test]
fn dash_and_dev_stdout_are_standard_output_piped_or_redirected() {
    let d = tempfile::tempdir().unwrap();
    for w in writers(d.path()) {
        let want = reference(&w, d.path());
        for out in ["-", "/dev/stdout"] {
            let o = run_to(&w, Some(out), false, Stdio::piped());
            assert!(o.status.success(), "{} -o {out}: {}", w.tool, stderr(&o));
            assert!(o.stdout == want, "{} -o {out}: other bytes", w.tool);
            // Standard output redirected to a regular file, as `> FILE` does.
            let file = d.path().join("redirected");
            let sink = std::fs::File::create(&file).unwrap();
            let o = run_to(&w, Some(out), false, Stdio::from(sink));
            assert!(
                o.status.success(),
                "{} -o {out} > FILE: {}",
                w.tool,
                stderr(&o)
            );
            assert!(std::fs::read(&file).unwrap() == want, "{} > FILE", w.tool);
        }
    }
}

#[test]
fn binary_writers_without_o_follow_a_redirected_stdout() {
    let d = tempfile::tempdir().unwrap();
    for w in writers(d.path()).iter().filter(|w| w.binary) {
        if w.tool == "cs-join" {
            continue; // without -o it prints JSON-lines, tested with cs-join
        }
        let want = reference(w, d.path());
        let file = d.path().join("redirected");
        let sink = std::fs::File::create(&file).unwrap();
        let o = run_to(w, None, false, Stdio::from(sink));
        assert!(o.status.success(), "{} > FILE: {}", w.tool, stderr(&o));
        assert!(std::fs::read(&file).unwrap() == want, "{} > FILE", w.tool);
    }
}

#[test]
fn binary_output_to_a_terminal_is_refused_with_what_to_do() {
    let d = tempfile::tempdir().unwrap();
    for w in writers(d.path()).iter().filter(|w| w.binary) {
        // `script` runs the tool on a new pty; its own log goes to a file in the temp folder.
        let mut line = format!("'{}'", bin(w.tool).display());
        for a in &w.args {
            line.push_str(&format!(" '{a}'"));
        }
        if w.tool == "cs-join" {
            line.push_str(" -o -");
        }
        let log = d.path().join("typescript");
        let o = Command::new("script")
            .args(["-q", "-e", "-c", &line])
            .arg(&log)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(o.status.code(), Some(2), "{}: {shown}", w.tool);
        assert!(
            shown.contains("refusing to write binary output to a terminal")
                && shown.contains("-o FILE")
                && shown.contains("redirect"),
            "{}: {shown}",
            w.tool
        );
    }
}

#[test]
fn a_symlink_to_a_file_is_replaced_only_with_force_and_its_target_never_written() {
    let d = tempfile::tempdir().unwrap();
    for w in writers(d.path()) {
        let want = reference(&w, d.path());
        let target = d.path().join("precious");
        std::fs::write(&target, b"keep me").unwrap();
        let link = d.path().join("out");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let o = run_to(&w, Some(&arg(&link)), false, Stdio::piped());
        assert_eq!(o.status.code(), Some(1), "{}", w.tool);
        assert!(stderr(&o).contains("--force"), "{}: {}", w.tool, stderr(&o));
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        let o = run_to(&w, Some(&arg(&link)), true, Stdio::piped());
        assert!(o.status.success(), "{}: {}", w.tool, stderr(&o));
        assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
        assert!(std::fs::read(&link).unwrap() == want, "{}", w.tool);
        assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
        std::fs::remove_file(&link).unwrap();
        std::fs::remove_file(&target).unwrap();
    }
}

#[test]
fn a_regular_file_is_replaced_only_with_force() {
    let d = tempfile::tempdir().unwrap();
    for w in writers(d.path()) {
        let want = reference(&w, d.path());
        let out = d.path().join("existing");
        std::fs::write(&out, b"old").unwrap();
        let o = run_to(&w, Some(&arg(&out)), false, Stdio::piped());
        assert_eq!(o.status.code(), Some(1), "{}", w.tool);
        assert!(stderr(&o).contains("exists (use --force to replace it)"));
        assert_eq!(std::fs::read(&out).unwrap(), b"old");
        let o = run_to(&w, Some(&arg(&out)), true, Stdio::piped());
        assert!(o.status.success(), "{}: {}", w.tool, stderr(&o));
        assert!(std::fs::read(&out).unwrap() == want, "{}", w.tool);
        std::fs::remove_file(&out).unwrap();
    }
}
