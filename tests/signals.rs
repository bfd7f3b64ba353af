#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! Signals and kills while a file is being written: SIGINT/SIGTERM/SIGHUP remove the temporary
//! file and exit 128 + the signal; after a `kill -9` the temporary file stays, and the next run
//! that writes into that folder removes it (its maker is gone), never a live one.

mod common;

use common::{arg, bin, stderr};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn example_cs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/particles.cs")
}

/// The example particles as CSV, `copies` times over (about 65 kB a copy).
fn big_csv(copies: usize) -> Vec<u8> {
    let o = Command::new(bin("cs-to-csv"))
        .arg(example_cs())
        .output()
        .unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    let (header, rows) = text.split_once('\n').unwrap();
    let mut out = format!("{header}\n").into_bytes();
    for _ in 0..copies {
        out.extend_from_slice(rows.as_bytes());
    }
    out
}

fn temp_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".csutils-"))
        .collect()
}

/// csv-to-cs writing `dir/out.cs` from a stdin that is fed `csv` and then kept open, once its
/// temporary file exists.
fn writer_with_a_temporary_file(dir: &Path, csv: Vec<u8>) -> Child {
    let mut child = Command::new(bin("csv-to-cs"))
        .args([
            "--like",
            &arg(&example_cs()),
            "-o",
            &arg(&dir.join("out.cs")),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        let _ = stdin.write_all(&csv);
        // Keep stdin open (the writer waits for more rows) until the process is gone.
        std::thread::sleep(Duration::from_secs(60));
    });
    let start = Instant::now();
    while temp_names(dir).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no temporary file appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn send(child: &Child, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn sigint_sigterm_and_sighup_remove_the_temporary_file_and_exit_128_plus_the_signal() {
    let csv = big_csv(100);
    for (signal, code) in [("-INT", 130), ("-TERM", 143), ("-HUP", 129)] {
        let d = tempfile::tempdir().unwrap();
        let child = writer_with_a_temporary_file(d.path(), csv.clone());
        send(&child, signal);
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(code), "{signal}: {}", stderr(&o));
        assert!(
            temp_names(d.path()).is_empty(),
            "{signal}: temporary file left"
        );
        assert!(!d.path().join("out.cs").exists());
    }
}

#[test]
fn after_kill_9_the_next_run_in_the_folder_removes_the_orphan_but_not_a_live_one() {
    let csv = big_csv(100);
    let d = tempfile::tempdir().unwrap();
    let killed = writer_with_a_temporary_file(d.path(), csv.clone());
    send(&killed, "-KILL");
    let _ = killed.wait_with_output().unwrap();
    let orphans = temp_names(d.path());
    assert_eq!(orphans.len(), 1, "kill -9 leaves its temporary file");
    // A live writer in the same folder keeps its own temporary file through the sweep.
    let live = writer_with_a_temporary_file(d.path(), csv);
    let csv_path = d.path().join("in.csv");
    std::fs::write(&csv_path, big_csv(1)).unwrap();
    let o = Command::new(bin("csv-to-cs"))
        .args([
            "--like",
            &arg(&example_cs()),
            "-o",
            &arg(&d.path().join("b.cs")),
        ])
        .arg(&csv_path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let left = temp_names(d.path());
    assert!(
        !left.contains(&orphans[0]),
        "the orphan is still there: {left:?}"
    );
    assert_eq!(
        left.len(),
        1,
        "the live writer's file must survive: {left:?}"
    );
    send(&live, "-TERM");
    let o = live.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(143));
    assert!(temp_names(d.path()).is_empty());
}

#[test]
fn a_write_past_the_file_size_limit_is_an_error_that_leaves_nothing_behind() {
    let (keep, project) = common::project_tree();
    let out = keep.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // ulimit -f counts 1024-byte blocks: 200 KiB, well under the project's size.
    let o = common::sh(&format!(
        "ulimit -f 200 && job-pack tar {} -o {}",
        arg(&project),
        arg(&out.join("p.tar"))
    ));
    assert_eq!(o.status.code(), Some(1), "not killed by SIGXFSZ: {o:?}");
    let line = stderr(&o);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.starts_with(&format!("job-pack: {}", arg(&out.join("p.tar"))))
            && line.contains("File too large"),
        "{line}"
    );
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert!(left.is_empty(), "no output and no temporary file: {left:?}");
}

#[test]
fn a_text_tool_killed_while_writing_o_file_leaves_neither_file_nor_temporary() {
    let cs = std::fs::read(example_cs()).unwrap();
    for (tool, signal, code) in [("cs-cat", "-TERM", 143), ("cs-to-csv", "-INT", 130)] {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("rows.txt");
        let mut child = Command::new(bin(tool))
            .args(["-", "--output", &arg(&out)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Half the file, then stdin stays open: the tool waits for the other rows.
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&cs[..cs.len() / 2]).unwrap();
        let start = Instant::now();
        while temp_names(d.path()).is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{tool}: no temporary file"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        send(&child, signal);
        let o = child.wait_with_output().unwrap();
        drop(stdin);
        assert_eq!(o.status.code(), Some(code), "{tool}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{tool}: rows went to stdout");
        assert!(
            temp_names(d.path()).is_empty(),
            "{tool}: temporary file left"
        );
        assert!(!out.exists(), "{tool}: a half-written output");
    }
}

#[test]
fn a_text_output_past_the_file_size_limit_is_one_line_naming_it_and_nothing_is_left() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("rows.csv");
    // ulimit -f counts 1024-byte blocks: 8 KiB, under the example's CSV (about 65 kB).
    let o = common::sh(&format!(
        "ulimit -f 8 && cs-to-csv {} -o {}",
        arg(&example_cs()),
        arg(&out)
    ));
    assert_eq!(o.status.code(), Some(1), "not killed by SIGXFSZ: {o:?}");
    let line = stderr(&o);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.starts_with(&format!("cs-to-csv: {}: ", arg(&out))) && line.contains("File too large"),
        "{line}"
    );
    let left: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
    assert!(left.is_empty(), "no output and no temporary file: {left:?}");
}
