#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

pub mod help;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// A file or folder of this repository's `tests/fixtures/` (see its README for provenance).
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A file of `tests/fixtures/cs/` (written by cryosparc-tools).
pub fn cs_fixture(name: &str) -> PathBuf {
    fixture("cs").join(name)
}

/// Every `.cs` fixture file, sorted.
pub fn all_cs_fixtures() -> Vec<PathBuf> {
    let dir = fixture("cs");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cs"))
        .collect();
    v.sort();
    assert!(
        v.len() >= 20,
        "expected the cs fixtures in {}",
        dir.display()
    );
    v
}

/// The path of one of our binaries.
pub fn bin(name: &str) -> PathBuf {
    let var = format!("CARGO_BIN_EXE_{name}");
    PathBuf::from(std::env::var(&var).unwrap_or_else(|_| panic!("{var} not set")))
}

/// Run a binary with arguments and optional stdin bytes.
pub fn run(name: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(bin(name));
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    if let Some(data) = stdin {
        let mut sin = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = sin.write_all(&data);
        });
    }
    child.wait_with_output().expect("wait")
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Run a shell pipeline with bash `set -o pipefail`, the target dir's binaries first on PATH.
pub fn sh(script: &str) -> Output {
    let dir = bin("cs-cat").parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .arg("-c")
        .arg(format!("set -o pipefail\n{script}"))
        .env("PATH", path)
        .output()
        .expect("bash")
}

/// A fresh copy of fixture tree A (`raw/` and `CS-t20s-demo/`) in a temporary folder; returns
/// the folder (kept alive by the guard) and the project path.
pub fn project_tree() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let tar = fixture("projects/projects.tar");
    let o = Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(dir.path())
        .output()
        .expect("tar");
    assert!(
        o.status.success(),
        "tar: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let project = dir.path().join("CS-t20s-demo");
    (dir, project)
}

/// `tests/fixtures/projects/EXPECTED.json`: what a correct tool reports on fixture tree A.
pub fn expected_projects() -> serde_json::Value {
    let path = fixture("projects/EXPECTED.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// JSON-lines output as values.
pub fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A path as a string argument.
pub fn arg(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// One raw ustar entry: a 512-byte header, then the data padded to 512 bytes.
pub fn tar_entry(name: &str, kind: u8, link: &str, data: &[u8], claimed: Option<usize>) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    let size = format!("{:011o}", claimed.unwrap_or(data.len()));
    h[124..135].copy_from_slice(size.as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// Every entry under `dir`, links not followed: `path -> "dir MODE"`, `"file MODE SHA-256"` or
/// `"link TARGET"`. Two equal snapshots mean nothing under `dir` was added, removed, rewritten
/// or relinked (byte for byte).
pub fn tree_snapshot(dir: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    use sha2::Digest;
    use std::os::unix::fs::PermissionsExt;
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(at) = todo.pop() {
        for e in std::fs::read_dir(&at).unwrap() {
            let path = e.unwrap().path();
            let rel = path.strip_prefix(dir).unwrap().display().to_string();
            let md = std::fs::symlink_metadata(&path).unwrap();
            let mode = md.permissions().mode() & 0o7777;
            let what = if md.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&path).unwrap().display())
            } else if md.is_dir() {
                todo.push(path.clone());
                format!("dir {mode:o}")
            } else {
                let bytes = std::fs::read(&path).unwrap();
                format!("file {mode:o} {:x}", sha2::Sha256::digest(&bytes))
            };
            out.insert(rel, what);
        }
    }
    out
}

/// The memory cap of a run that reads a bad size, in kB for `ulimit -v`: about 1 GB of
/// virtual memory, so that a regression which allocates by a declared size fails instead of
/// exhausting the machine. The tools need about 40 MB of it on the fixtures (measured on 2
/// cores, debug build).
pub const MEMORY_CAP_KB: u64 = 1_000_000;

/// Run `script` (bash, our binaries first on PATH) in folder `dir` under a memory cap of
/// `cap_kb`; give each command of the script its own `timeout`.
pub fn sh_capped(dir: &std::path::Path, cap_kb: u64, script: &str) -> Output {
    sh(&format!(
        "cd '{}' && ulimit -v {cap_kb} && {script}",
        dir.display()
    ))
}

/// Run one command line in `dir` under [`MEMORY_CAP_KB`] and a 20 s timeout.
pub fn run_capped(dir: &std::path::Path, command: &str) -> Output {
    sh_capped(dir, MEMORY_CAP_KB, &format!("timeout 20 {command}"))
}

/// A failure of `tool` on `file`: exit 1, exactly one line on stderr that starts with
/// `tool: file:` and holds every needle. Returns the line.
pub fn failed(o: &Output, tool: &str, file: &str, needles: &[&str]) -> String {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit 1 expected: {e}");
    assert_eq!(e.lines().count(), 1, "one line expected: {e}");
    assert!(!e.contains("panicked"), "{e}");
    assert!(
        e.starts_with(&format!("{tool}: {file}:")),
        "names {file}: {e}"
    );
    for n in needles {
        assert!(e.contains(n), "expected {n:?} in: {e}");
    }
    e
}

/// A refusal: a [`failed`] run that wrote nothing on stdout.
pub fn refused(o: &Output, tool: &str, file: &str, needles: &[&str]) -> String {
    assert!(o.stdout.is_empty(), "nothing on stdout: {}", stdout(o));
    failed(o, tool, file, needles)
}

/// The uids of a `.cs` file as `cs-cat --int64-as-string` prints them (all 64 bits).
pub fn uids(path: &std::path::Path) -> Vec<String> {
    let o = run(
        "cs-cat",
        &["--int64-as-string", "-f", "uid", &arg(path)],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    json_lines(&o)
        .iter()
        .map(|v| v["uid"].as_str().unwrap().to_string())
        .collect()
}

/// The JSON-lines records of one `kind`.
pub fn records<'a>(all: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    all.iter().filter(|r| r["kind"] == kind).collect()
}

/// The `job` records, by job uid.
pub fn job_records(
    all: &[serde_json::Value],
) -> std::collections::BTreeMap<String, serde_json::Value> {
    records(all, "job")
        .into_iter()
        .map(|r| (r["job"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}
