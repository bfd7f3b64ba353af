#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! Every recipe of the README's "Use cases" section, run as written.

mod common;

use common::{arg, project_tree, sh, stderr, stdout};

/// The ```sh blocks of the README section `## Use cases`.
fn recipes() -> Vec<String> {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let start = readme
        .find("\n## Use cases\n")
        .expect("a Use cases section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(i) = rest.find("```sh\n") {
        let body = &rest[i + 6..];
        let end = body.find("```").unwrap();
        blocks.push(body[..end].to_string());
        rest = &body[end + 3..];
    }
    blocks
}

#[test]
fn every_use_case_recipe_runs() {
    let blocks = recipes();
    assert_eq!(blocks.len(), 7, "seven use cases");
    for (i, block) in blocks.iter().enumerate() {
        let (keep, project) = project_tree();
        let (_keep2, other) = project_tree();
        let archive = keep.path().join("archive");
        std::fs::create_dir(&archive).unwrap();
        let script = format!(
            "set -euo pipefail\nexport PROJ={} OTHER={} ARCHIVE={} CSUTILS_INSTANCE={}\n{block}",
            arg(&project),
            arg(&other),
            arg(&archive),
            arg(&keep.path().join("instance"))
        );
        let o = sh(&script);
        assert!(
            o.status.success(),
            "recipe {} failed:\n{block}\nstdout: {}\nstderr: {}",
            i + 1,
            stdout(&o),
            stderr(&o)
        );
    }
}
