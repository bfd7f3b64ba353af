//! The committed man pages are what the binaries generate (run `make man` after changing help).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

#[test]
fn committed_man_pages_match_the_binaries() {
    for tool in [
        "cs-cat",
        "cs-to-csv",
        "csv-to-cs",
        "csg-edit",
        "proj-du",
        "proj-clean",
        "job-pack",
        "proj-import",
        "cs-join",
        "cs-to-parquet",
        "cs-to-star",
    ] {
        let o = common::run(tool, &["--generate", "man"], None);
        assert!(o.status.success(), "{tool}");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("man/{tool}.1"));
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            o.stdout == committed,
            "man/{tool}.1 is stale: run `make man`"
        );
    }
}
