#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! The repository tests itself alone: no file refers to a folder beside the checkout, and every
//! fixture folder says where its files came from.

use std::path::{Path, PathBuf};

/// Folders that are built or downloaded here, not part of the repository.
const NOT_OURS: &[&str] = &["target", ".git", "bench-data", "corpus", "artifacts"];

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file of the repository (the working tree without what builds and runs make).
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            if !NOT_OURS.contains(&name.as_str()) && !name.starts_with(".venv") {
                files(&entry.path(), out);
            }
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
}

#[test]
fn no_file_refers_to_a_folder_beside_the_checkout() {
    // Spelled in pieces so that this file does not match itself.
    let beside = ["..", "/", "shared"].concat();
    let variable = ["CSUTILS", "_", "SHARED"].concat();
    let mut all = Vec::new();
    files(&repository(), &mut all);
    assert!(all.len() > 100, "walked only {} files", all.len());
    let offending: Vec<String> = all
        .iter()
        .filter(|p| {
            let bytes = std::fs::read(p).unwrap();
            [&beside, &variable]
                .iter()
                .any(|needle| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .map(|p| p.strip_prefix(repository()).unwrap().display().to_string())
        .collect();
    assert!(
        offending.is_empty(),
        "these files refer to {beside} or ${variable}: {offending:?}"
    );
}

#[test]
fn every_fixture_folder_has_its_provenance() {
    let root = repository().join("tests/fixtures");
    assert!(root.join("README.md").is_file());
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let has_readme = path.join("README.md").is_file();
            let has_script = std::fs::read_dir(&path)
                .unwrap()
                .any(|e| e.unwrap().path().extension().is_some_and(|x| x == "py"));
            assert!(
                has_readme || has_script,
                "{}: no README.md or generating script",
                path.display()
            );
        }
    }
}
