//! Help that is complete and helps: every flag a --help names parses on the command it is given
//! to, the completion scripts offer exactly the flags --help shows (never the hidden
//! `--generate`), and `make install` puts stripped binaries, man pages and completions in place.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::help::{accepted_flags, command_tree, flag_owners, help_pages, HelpPage, Owner, TOOLS};
use std::collections::{BTreeMap, BTreeSet};

/// Every command of every tool.
fn all_pages() -> Vec<HelpPage> {
    TOOLS.iter().flat_map(|t| help_pages(t)).collect()
}

#[test]
fn every_flag_a_help_names_parses_on_the_command_it_is_given_to() {
    let pages = all_pages();
    let tree = command_tree(&pages);
    let accepted: BTreeMap<Vec<String>, BTreeSet<String>> = pages
        .iter()
        .map(|p| (p.words.clone(), accepted_flags(&p.long)))
        .collect();
    let mut checked = 0;
    for page in &pages {
        for text in [&page.long, &page.short] {
            for (flag, owner) in flag_owners(text, &page.words, &tree) {
                match owner {
                    Owner::Ours(words) => {
                        assert!(
                            accepted[&words].contains(&flag),
                            "`{} --help` names {flag} for `{}`, which has no such flag",
                            page.name(),
                            words.join(" ")
                        );
                        checked += 1;
                    }
                    // Another program's flag (jq -c, tar --zstd): not ours to check.
                    Owner::Other(_) => {}
                }
            }
        }
    }
    assert!(checked > 300, "only {checked} flag mentions found");
}

#[test]
fn flags_named_in_an_example_belong_to_the_program_they_follow() {
    let pages = all_pages();
    let tree = command_tree(&pages);
    let csg_edit: Vec<String> = vec!["csg-edit".into()];
    let text = "Examples:\n  cs-cat --int64-as-string a.cs | jq -c . \\\n    | csv-to-cs --like a.cs -o b.cs\n  \
        job-pack tar DIR --zstd\n  tar --zstd -tf x\n\nWith --in-place: replace FILE, as \
        cs-cat --schema prints (see --output).";
    let owners = flag_owners(text, &csg_edit, &tree);
    let ours = |w: &[&str]| Owner::Ours(w.iter().map(|s| s.to_string()).collect());
    assert_eq!(
        owners,
        vec![
            ("--int64-as-string".to_string(), ours(&["cs-cat"])),
            ("--like".to_string(), ours(&["csv-to-cs"])),
            ("--zstd".to_string(), ours(&["job-pack", "tar"])),
            ("--zstd".to_string(), Owner::Other("tar".into())),
            ("--in-place".to_string(), ours(&["csg-edit"])),
            ("--schema".to_string(), ours(&["cs-cat"])),
            ("--output".to_string(), ours(&["csg-edit"])),
        ]
    );
}

#[test]
fn accepted_flags_are_the_option_lines_and_their_aliases() {
    let pages = help_pages("cs-to-star");
    let flags = accepted_flags(&pages[0].long);
    for f in [
        "--relion2",
        "--r2",
        "--inverty",
        "--no-flip-y",
        "--help",
        "--version",
    ] {
        assert!(flags.contains(f), "{f}: {flags:?}");
    }
    assert!(!flags.contains("--generate"));
    assert!(!flags.contains("--minphic)"));
    let short = accepted_flags(&pages[0].short);
    assert!(
        short.contains("--r2") && short.contains("--strip-uid"),
        "{short:?}"
    );
}

/// The long flags a completion script declares (not those its descriptions mention): bash's
/// `opts="…"` words, zsh's `'--name[…]'` specs and fish's `-l name`.
fn declared_flags(shell: &str, script: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for line in script.lines() {
        let line = line.trim_start();
        match shell {
            "bash" => {
                if let Some(opts) = line.strip_prefix("opts=\"") {
                    flags.extend(
                        opts.trim_end_matches('"')
                            .split_whitespace()
                            .filter(|w| w.starts_with("--"))
                            .map(str::to_string),
                    );
                }
            }
            "zsh" => {
                let spec = line
                    .strip_prefix('\'')
                    .unwrap_or("")
                    .trim_start_matches('*');
                let spec = match spec.strip_prefix('(') {
                    Some(rest) => rest.split_once(')').map_or("", |(_, s)| s),
                    None => spec,
                };
                if let Some(name) = spec.strip_prefix("--") {
                    let end = name.find(['[', '=', '+', '\'']).unwrap_or(name.len());
                    flags.insert(format!("--{}", &name[..end]));
                }
            }
            _ => {
                let words: Vec<&str> = line.split_whitespace().collect();
                if words.first() == Some(&"complete") {
                    for pair in words.windows(2).filter(|p| p[0] == "-l") {
                        flags.insert(format!("--{}", pair[1]));
                    }
                }
            }
        }
    }
    flags
}

/// A tool's completion script for `shell`.
fn completion(tool: &str, shell: &str) -> String {
    let o = common::run(tool, &["--generate", &format!("complete-{shell}")], None);
    assert!(o.status.success(), "{tool} {shell}: {}", common::stderr(&o));
    common::stdout(&o)
}

#[test]
fn completion_scripts_offer_exactly_the_flags_help_shows() {
    for tool in TOOLS {
        let shown: BTreeSet<String> = help_pages(tool)
            .iter()
            .flat_map(|p| accepted_flags(&p.long))
            .collect();
        assert!(shown.len() > 2, "{tool}: {shown:?}");
        for shell in ["bash", "zsh", "fish"] {
            let script = completion(tool, shell);
            assert_eq!(declared_flags(shell, &script), shown, "{tool} {shell}");
            assert!(
                !script.contains("generate"),
                "{tool} {shell} offers the hidden --generate"
            );
        }
    }
}

/// What bash offers for the command line `words` (the last one being completed), with the
/// tool's `--generate complete-bash` script sourced and its function (`complete -p`) called as
/// bash calls it.
fn bash_offers(tool: &str, words: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("completion.bash");
    std::fs::write(&script, completion(tool, "bash")).unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let o = common::sh(&format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE=\"${{COMP_WORDS[*]}}\"\n\
         COMP_POINT=${{#COMP_LINE}}\nset -- $(complete -p {tool})\n\
         while [ \"$1\" != -F ]; do shift; done\n\
         \"$2\" {tool} \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
    ));
    assert!(o.status.success(), "{}", common::stderr(&o));
    common::stdout(&o)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_real_flags_and_subcommands_but_not_the_hidden_one() {
    assert_eq!(
        bash_offers("cs-cat", &["cs-cat", "--int"]),
        ["--int64-as-string"]
    );
    assert!(bash_offers("cs-cat", &["cs-cat", "--gen"]).is_empty());
    assert_eq!(
        bash_offers("job-pack", &["job-pack", "tar", "--zs"]),
        ["--zstd"]
    );
    let subs = bash_offers("job-pack", &["job-pack", "imp"]);
    assert_eq!(subs, ["import", "import-group"]);
    assert_eq!(
        bash_offers("job-pack", &["job-pack", "import-group", "--in"]),
        ["--into"]
    );
    assert_eq!(
        bash_offers("proj-import", &["proj-import", "list", "--ta"]),
        ["--table"]
    );
}

/// Run `make install-built` with the test's binaries into a fresh PREFIX.
fn make_install() -> (tempfile::TempDir, std::path::PathBuf) {
    let prefix = tempfile::tempdir().unwrap();
    let bin_dir = common::bin("cs-cat").parent().unwrap().to_path_buf();
    let o = std::process::Command::new("make")
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .arg("install-built")
        .arg(format!("BIN={}", bin_dir.display()))
        .arg(format!("PREFIX={}", prefix.path().display()))
        .output()
        .expect("make");
    assert!(
        o.status.success(),
        "make install-built: {}",
        common::stderr(&o)
    );
    let root = prefix.path().to_path_buf();
    (prefix, root)
}

#[test]
fn make_install_puts_stripped_binaries_man_pages_and_completions_in_place() {
    let (_keep, prefix) = make_install();
    let man = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    for page in std::fs::read_dir(&man).unwrap() {
        let page = page.unwrap();
        let installed = prefix.join("share/man/man1").join(page.file_name());
        assert_eq!(
            std::fs::read(&installed).unwrap(),
            std::fs::read(page.path()).unwrap(),
            "{}",
            installed.display()
        );
    }
    for tool in TOOLS {
        let binary = prefix.join("bin").join(tool);
        let o = std::process::Command::new(&binary)
            .arg("--version")
            .output()
            .unwrap();
        assert!(common::stdout(&o).starts_with(tool), "{}", binary.display());
        let file = std::process::Command::new("file").arg(&binary).output();
        if let Ok(file) = file {
            let said = common::stdout(&file);
            assert!(said.contains(", stripped"), "{said}");
        }
        for (shell, path) in [
            ("bash", format!("share/bash-completion/completions/{tool}")),
            ("zsh", format!("share/zsh/site-functions/_{tool}")),
            (
                "fish",
                format!("share/fish/vendor_completions.d/{tool}.fish"),
            ),
        ] {
            let installed = std::fs::read_to_string(prefix.join(&path)).unwrap();
            assert_eq!(installed, completion(tool, shell), "{path}");
        }
    }
}
