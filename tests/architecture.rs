#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! The house keeps its rules (ARCHITECTURE.md): no tool uses another tool, the format crate uses
//! no crate of ours, its layers point one way, process behaviour holds no archive or format
//! engine, every tool is wired once, and no function runs over 80 lines without saying why.

use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The crate folders under crates/, by name.
fn crates() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repository().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Library crates every tool may use; the rest of crates/ are tools.
const LIBRARIES: &[&str] = &["cs-format", "cs-cli", "cs-archive"];

fn tools() -> Vec<String> {
    crates()
        .into_iter()
        .filter(|c| !LIBRARIES.contains(&c.as_str()))
        .collect()
}

/// The names of the `[dependencies]` of a crate's Cargo.toml.
fn dependencies(krate: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repository().join("crates").join(krate).join("Cargo.toml"))
        .unwrap();
    let mut deps = Vec::new();
    let mut in_deps = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if in_deps && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap().trim();
            deps.push(name.to_string());
        }
    }
    deps
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_tool_depends_on_another_tool() {
    let tools = tools();
    for tool in &tools {
        for dep in dependencies(tool) {
            assert!(
                !tools.contains(&dep),
                "{tool} depends on the tool {dep}: move what both need down"
            );
        }
    }
}

#[test]
fn the_format_crate_uses_no_crate_of_ours_and_no_process_crate() {
    let deps = dependencies("cs-format");
    for ours in crates() {
        assert!(!deps.contains(&ours), "cs-format depends on {ours}");
    }
    for process in ["clap", "clap_mangen", "clap_complete", "signal-hook", "tar"] {
        assert!(
            !deps.iter().any(|d| d == process),
            "cs-format depends on {process}"
        );
    }
}

#[test]
fn process_behaviour_holds_no_archive_reader() {
    let deps = dependencies("cs-cli");
    for archive in ["tar", "flate2", "zstd", "bzip2", "liblzma"] {
        assert!(
            !deps.iter().any(|d| d == archive),
            "cs-cli depends on {archive}: archives live in cs-archive"
        );
    }
}

#[test]
fn format_layers_point_one_way() {
    let src = repository().join("crates/cs-format/src");
    for lower in ["container", "text"] {
        let mut files = Vec::new();
        rust_files(&src.join(lower), &mut files);
        assert!(!files.is_empty(), "cs-format/src/{lower} is missing");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for higher in ["crate::ops", "crate::project"] {
                assert!(
                    !text.contains(higher),
                    "{} uses {higher}: the {lower} layer sits below it",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn every_tool_is_its_args_and_its_run() {
    for tool in tools() {
        let dir = repository().join("crates").join(&tool);
        let main = std::fs::read_to_string(dir.join("main.rs")).unwrap();
        let code: Vec<&str> = main
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
            .collect();
        assert!(
            code.len() <= 3,
            "{tool}/main.rs is more than the shared wiring: {code:?}"
        );
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        for wiring in [
            "pub fn main()",
            "fn command()",
            "cs_cli::generate(",
            "hide = true, value_enum",
        ] {
            assert!(
                !lib.contains(wiring),
                "{tool}/src/lib.rs has its own wiring ({wiring}): use cs-cli's"
            );
        }
    }
}

/// Functions (outside tests) longer than `limit` lines that do not say why on the line before
/// them (a comment holding "long:"), as (file, line, name, lines).
fn long_functions(file: &Path, limit: usize) -> Vec<(usize, String, usize)> {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let test_start = lines
        .iter()
        .position(|l| l.trim() == "#[cfg(test)]")
        .unwrap_or(lines.len());
    let mut found = Vec::new();
    let mut i = 0;
    while i < test_start {
        let Some(name) = fn_name(lines[i]) else {
            i += 1;
            continue;
        };
        let end = body_end(&lines, i);
        let len = end - i + 1;
        let excused = i > 0 && lines[i - 1].contains("long:");
        if len > limit && !excused {
            found.push((i + 1, name, len));
        }
        i = end + 1;
    }
    found
}

/// The name of the function a line starts, if it starts one.
fn fn_name(line: &str) -> Option<String> {
    let t = line.trim_start();
    let t = t
        .strip_prefix("pub(crate) ")
        .or(t.strip_prefix("pub(super) "))
        .unwrap_or(t);
    let t = t.strip_prefix("pub ").unwrap_or(t);
    let t = t.strip_prefix("const ").unwrap_or(t);
    let rest = t.strip_prefix("fn ")?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The line on which the item starting at `start` ends (its closing brace, or its `;`).
fn body_end(lines: &[&str], start: usize) -> usize {
    let mut depth = 0i64;
    let mut opened = false;
    for (j, line) in lines.iter().enumerate().skip(start) {
        let code = strip_strings(line);
        for c in code.chars() {
            match c {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
        if opened && depth == 0 {
            return j;
        }
        if !opened && code.trim_end().ends_with(';') {
            return j;
        }
    }
    lines.len() - 1
}

/// A line without its string and char literals and its `//` comment.
fn strip_strings(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(s) = chars.next() {
                    match s {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' => {
                // A char literal ('{', '\'') or a lifetime ('a): skip a literal only.
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with('\\') {
                    for s in chars.by_ref() {
                        if s == '\'' {
                            break;
                        }
                    }
                } else if rest.chars().nth(1) == Some('\'') {
                    chars.next();
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'/') => break,
            _ => out.push(c),
        }
    }
    out
}

#[test]
fn no_function_runs_over_80_lines_without_saying_why() {
    let mut files = Vec::new();
    rust_files(&repository().join("crates"), &mut files);
    let mut long = Vec::new();
    for file in &files {
        for (line, name, len) in long_functions(file, 80) {
            let rel = file
                .strip_prefix(repository())
                .unwrap()
                .display()
                .to_string();
            long.push(format!("{rel}:{line} {name} ({len} lines)"));
        }
    }
    assert!(
        long.is_empty(),
        "functions over 80 lines (split them, or say why in a `// long: …` comment above):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_long_function_finder_counts_what_a_reader_counts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.rs");
    let body = "    let s = \"}}}\"; let c = '}';\n".repeat(85);
    let excused = "    let x = 1;\n".repeat(85);
    std::fs::write(
        &file,
        format!(
            "fn short() {{\n}}\npub fn long_one<'a>(x: &'a str) {{\n{body}}}\n\
             // long: one table, read top to bottom\nfn excused() {{\n{excused}}}\n"
        ),
    )
    .unwrap();
    let found = long_functions(&file, 80);
    assert_eq!(found, vec![(3, "long_one".to_string(), 87)]);
}

#[test]
fn the_architecture_names_every_crate_and_layer() {
    let text = std::fs::read_to_string(repository().join("ARCHITECTURE.md")).unwrap();
    for krate in crates() {
        assert!(
            text.contains(&krate),
            "ARCHITECTURE.md does not name {krate}"
        );
    }
    for layer in ["container/", "text/", "project/", "ops/"] {
        assert!(
            text.contains(layer),
            "ARCHITECTURE.md does not name {layer}"
        );
        assert!(
            repository()
                .join("crates/cs-format/src")
                .join(layer)
                .is_dir(),
            "ARCHITECTURE.md names cs-format/src/{layer}, which does not exist"
        );
    }
}
