//! The committed man pages are what the binaries generate (run `make man` after changing help):
//! a page per tool and one per subcommand, every page they name exists, and every flag the
//! tools' --help shows is in a page.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::help::{help_pages, mentioned_flags, TOOLS};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn man_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("man")
}

/// The file names of the committed pages.
fn committed_pages() -> BTreeSet<String> {
    std::fs::read_dir(man_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".1"))
        .collect()
}

/// A committed page as text with roff's `\-` read as `-`.
fn page_text(name: &str) -> String {
    let roff =
        std::fs::read_to_string(man_dir().join(name)).unwrap_or_else(|e| panic!("man/{name}: {e}"));
    roff.replace("\\-", "-")
}

#[test]
fn committed_man_pages_are_every_page_the_binaries_write() {
    let mut generated = BTreeSet::new();
    for tool in TOOLS {
        let dir = tempfile::tempdir().unwrap();
        let o = common::sh(&format!(
            "cd '{}' && {tool} --generate man-pages",
            dir.path().display()
        ));
        assert!(o.status.success(), "{tool}: {}", common::stderr(&o));
        let listed: Vec<String> = common::stdout(&o).lines().map(str::to_string).collect();
        assert_eq!(listed.first(), Some(&format!("{tool}.1")), "{tool}");
        let mut written: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        written.sort();
        let mut listed_sorted = listed.clone();
        listed_sorted.sort();
        assert_eq!(written, listed_sorted, "{tool}: files written vs listed");
        for name in listed {
            let page = std::fs::read(dir.path().join(&name)).unwrap();
            let committed = std::fs::read(man_dir().join(&name)).unwrap_or_default();
            assert!(page == committed, "man/{name} is stale: run `make man`");
            generated.insert(name);
        }
    }
    assert_eq!(
        committed_pages(),
        generated,
        "man/ holds pages no binary writes (or lacks some): run `make man`"
    );
}

#[test]
fn generate_man_prints_the_tools_own_committed_page() {
    for tool in TOOLS {
        let o = common::run(tool, &["--generate", "man"], None);
        assert!(o.status.success(), "{tool}");
        let committed = std::fs::read(man_dir().join(format!("{tool}.1"))).unwrap();
        assert!(
            o.stdout == committed,
            "man/{tool}.1 is stale: run `make man`"
        );
    }
}

#[test]
fn every_page_a_man_page_names_exists() {
    let pages = committed_pages();
    let mut named = 0;
    for page in &pages {
        let text = page_text(page);
        for (at, _) in text.match_indices("(1)") {
            let start = text[..at]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .map_or(0, |i| i + 1);
            let name = &text[start..at];
            if TOOLS.iter().any(|t| name.starts_with(t)) {
                named += 1;
                assert!(
                    pages.contains(&format!("{name}.1")),
                    "man/{page} names {name}(1), which is not in man/"
                );
            }
        }
    }
    assert!(named >= 13, "expected the subcommand pages to be named");
}

#[test]
fn every_command_at_every_depth_has_its_committed_page() {
    let mut commands = BTreeSet::new();
    for tool in TOOLS {
        for page in help_pages(tool) {
            commands.insert(format!("{}.1", page.page_name()));
        }
    }
    assert!(commands.contains("job-pack-import-group.1"), "{commands:?}");
    assert_eq!(
        committed_pages(),
        commands,
        "man/ vs the commands --help lists"
    );
}

#[test]
fn every_flag_of_every_subcommand_is_in_its_man_page() {
    let mut checked = 0;
    for tool in TOOLS {
        for help in help_pages(tool) {
            let page = help.page_name();
            let text = page_text(&format!("{page}.1"));
            for flag in mentioned_flags(&help.long) {
                assert!(
                    text.contains(&flag),
                    "{} --help shows {flag} but man/{page}.1 does not",
                    help.name()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 100, "only {checked} flags found in --help");
    for (page, flag) in [
        ("job-pack-tar", "--strict"),
        ("job-pack-import", "--allow-missing"),
        ("job-pack-import", "--link"),
        ("job-pack-import-group", "--into"),
        ("job-pack-import", "--workspace"),
        ("job-pack-export", "--group"),
        ("cs-to-star", "--no-flip-y"),
        ("cs-to-star", "--r2"),
    ] {
        assert!(
            page_text(&format!("{page}.1")).contains(flag),
            "{page}: {flag}"
        );
    }
}

#[test]
fn generate_needs_no_other_argument_and_completions_never_offer_it() {
    for tool in TOOLS {
        for shell in ["complete-bash", "complete-zsh", "complete-fish"] {
            let o = common::run(tool, &["--generate", shell], None);
            assert!(o.status.success(), "{tool} {shell}: {}", common::stderr(&o));
            let script = common::stdout(&o);
            assert!(script.contains(tool), "{tool} {shell}");
            assert!(
                !script.contains("generate"),
                "{tool} {shell} offers --generate"
            );
        }
    }
    // Alone on the line: with other arguments it is a usage error.
    let o = common::run("cs-cat", &["--generate", "man", "x.cs"], None);
    assert_eq!(o.status.code(), Some(2), "{}", common::stderr(&o));
}
