//! The committed man pages are what the binaries generate (run `make man` after changing help):
//! a page per tool and one per subcommand, every page they name exists, and every flag the
//! tools' --help shows is in a page.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const TOOLS: [&str; 11] = [
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
];

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

/// The subcommands a --help output lists under "Commands:" (clap's own `help` left out).
fn subcommands_in_help(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l[2..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// The `--flags` a --help text mentions, leaving out visible aliases (`[alias: --r2]`), which
/// clap_mangen does not render.
fn long_flags(help: &str) -> BTreeSet<String> {
    let text: String = help
        .lines()
        .filter(|l| !l.trim_start().starts_with("[alias"))
        .collect::<Vec<_>>()
        .join("\n");
    text.match_indices("--")
        .filter(|(at, _)| *at == 0 || !text[..*at].ends_with(|c: char| c.is_alphanumeric()))
        .map(|(at, _)| {
            let rest = &text[at + 2..];
            let end = rest
                .find(|c: char| !(c.is_ascii_lowercase() || c == '-'))
                .unwrap_or(rest.len());
            format!("--{}", &rest[..end])
        })
        .filter(|f| f.len() > 2)
        .collect()
}

/// Check that every flag `words --help` shows is in `page`, then do the same for each
/// subcommand `words` has, in `page-sub.1`.
fn assert_flags_in_pages(words: &[String], page: &str) -> usize {
    let (tool, args) = words.split_first().unwrap();
    let mut argv: Vec<&str> = args.iter().map(String::as_str).collect();
    argv.push("--help");
    let o = common::run(tool, &argv, None);
    assert!(o.status.success(), "{words:?} --help");
    let help = common::stdout(&o);
    let text = page_text(&format!("{page}.1"));
    let mut checked = 0;
    for flag in long_flags(&help) {
        assert!(
            text.contains(&flag),
            "{} shows {flag} but man/{page}.1 does not",
            words.join(" ")
        );
        checked += 1;
    }
    for sub in subcommands_in_help(&help) {
        let mut deeper = words.to_vec();
        deeper.push(sub.clone());
        checked += assert_flags_in_pages(&deeper, &format!("{page}-{sub}"));
    }
    checked
}

#[test]
fn every_flag_of_every_subcommand_is_in_its_man_page() {
    let mut checked = 0;
    for tool in TOOLS {
        checked += assert_flags_in_pages(&[tool.to_string()], tool);
    }
    assert!(checked >= 100, "only {checked} flags found in --help");
    for (page, flag) in [
        ("job-pack-tar", "--strict"),
        ("job-pack-import", "--allow-missing"),
        ("job-pack-import", "--link"),
        ("job-pack-import-group", "--into"),
        ("job-pack-import", "--workspace"),
        ("job-pack-export", "--group"),
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
