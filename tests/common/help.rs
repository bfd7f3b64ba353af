//! The tools' help as a user reads it: every command (each tool and its subcommands at every
//! depth) with its `-h` and `--help` texts, the flags a command accepts (its option lines and
//! their visible aliases) and the flags a text mentions, each with the command it is given to.

use std::collections::{BTreeMap, BTreeSet};

/// Every csutils binary.
pub const TOOLS: [&str; 11] = [
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

/// One command of a tool: its words (`["job-pack", "tar"]`) and its help texts.
pub struct HelpPage {
    /// The tool, then the subcommands leading to this command.
    pub words: Vec<String>,
    /// `--help`.
    pub long: String,
    /// `-h`.
    pub short: String,
}

impl HelpPage {
    /// `job-pack tar`.
    pub fn name(&self) -> String {
        self.words.join(" ")
    }

    /// `job-pack-tar`: the man page's name.
    pub fn page_name(&self) -> String {
        self.words.join("-")
    }
}

/// The help text of `words` with `flag` (`--help` or `-h`); the run must succeed.
fn help_text(words: &[String], flag: &str) -> String {
    let (tool, args) = words.split_first().expect("a tool");
    let mut argv: Vec<&str> = args.iter().map(String::as_str).collect();
    argv.push(flag);
    let o = super::run(tool, &argv, None);
    assert!(
        o.status.success(),
        "{} {flag}: {}",
        words.join(" "),
        super::stderr(&o)
    );
    super::stdout(&o)
}

/// Every command of `tool`, the tool first, then each subcommand and its own subcommands.
pub fn help_pages(tool: &str) -> Vec<HelpPage> {
    let mut pages = Vec::new();
    let mut todo = vec![vec![tool.to_string()]];
    while let Some(words) = todo.pop() {
        let long = help_text(&words, "--help");
        let short = help_text(&words, "-h");
        for sub in subcommands_in_help(&long) {
            let mut deeper = words.clone();
            deeper.push(sub);
            todo.push(deeper);
        }
        pages.push(HelpPage { words, long, short });
    }
    pages
}

/// The subcommands a --help output lists under "Commands:" (clap's own `help` left out).
pub fn subcommands_in_help(help: &str) -> Vec<String> {
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

/// A flag's name at the start of `s` (after its `--`): lowercase letters, digits and `-`.
fn flag_name(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The long flags a command accepts, as its help lists them: the `--name` of each option line
/// (`  -f, --fields <FIELDS>`, `      --schema`) and every `[alias: --x]` / `[aliases: --x, --y]`.
pub fn accepted_flags(help: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for line in help.lines() {
        let option = match line.strip_prefix("  ") {
            Some(rest) if rest.starts_with('-') && rest.as_bytes().get(2) == Some(&b',') => {
                rest.get(4..)
            }
            Some(rest) => rest.strip_prefix("    "),
            None => None,
        };
        if let Some(name) = option.and_then(|o| o.strip_prefix("--")) {
            flags.insert(format!("--{}", flag_name(name)));
        }
        for (at, _) in line.match_indices("[alias") {
            let list = &line[at..line[at..].find(']').map_or(line.len(), |e| at + e)];
            for (dash, _) in list.match_indices("--") {
                flags.insert(format!("--{}", flag_name(&list[dash + 2..])));
            }
        }
    }
    flags
}

/// Every `--flag` a text mentions (a `--` that starts a word, followed by a letter or digit).
pub fn mentioned_flags(text: &str) -> BTreeSet<String> {
    text.match_indices("--")
        .filter(|(at, _)| {
            *at == 0 || !text[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '-')
        })
        .map(|(at, _)| flag_name(&text[at + 2..]))
        .filter(|name| name.starts_with(|c: char| c.is_ascii_alphanumeric()))
        .map(|name| format!("--{name}"))
        .collect()
}

/// Who a flag in a help text is given to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// One of our commands: its words.
    Ours(Vec<String>),
    /// Another program (jq, awk, tar, …), named in a pipeline or at the start of an example.
    Other(String),
}

/// The subcommands of each command of every tool, by the command's words.
pub type CommandTree = BTreeMap<Vec<String>, Vec<String>>;

/// Every command of every tool with its subcommands (from the help pages).
pub fn command_tree(pages: &[HelpPage]) -> CommandTree {
    pages
        .iter()
        .map(|p| (p.words.clone(), subcommands_in_help(&p.long)))
        .collect()
}

/// Each `--flag` mentioned in `text` (the help of command `own`), with its owner: the nearest
/// command named before it in the same clause. A clause ends at a blank line, `|`, `;`, `(`,
/// `)` and a `.`, `:` or `,` followed by a space; a line indented by exactly two spaces (an
/// example, a subcommand listed under Commands:) starts one. A word that is one of our tools
/// names that tool (and the subcommands that follow it); the first word of a clause that starts
/// at `|` or at such a line names a subcommand of `own`, or another program. Otherwise a flag
/// belongs to `own`.
pub fn flag_owners(text: &str, own: &[String], tree: &CommandTree) -> Vec<(String, Owner)> {
    let mut found = Vec::new();
    for paragraph in text.split("\n\n") {
        let mut owner = Owner::Ours(own.to_vec());
        let mut command_position = false;
        for (piece, starts_clause) in clauses(paragraph) {
            if starts_clause.is_some() {
                owner = Owner::Ours(own.to_vec());
                command_position = starts_clause == Some(true);
            }
            let words: Vec<&str> = piece.split_whitespace().collect();
            let mut i = 0;
            while i < words.len() {
                let word = words[i];
                if word.contains("--") {
                    for flag in mentioned_flags(word) {
                        found.push((flag, owner.clone()));
                    }
                } else if let Some((ours, used)) = our_command(&words[i..], tree) {
                    owner = Owner::Ours(ours);
                    i += used - 1;
                } else if command_position {
                    owner = match subcommand_of(own, word, tree) {
                        Some(sub) => Owner::Ours(sub),
                        None => Owner::Other(word.to_string()),
                    };
                }
                command_position = false;
                i += 1;
            }
        }
    }
    found
}

/// The pieces of a paragraph between clause ends, each with how it starts: `None` (it goes on
/// from the previous piece: a line break inside a clause), `Some(true)` (a clause whose first
/// word is a command: after `|`, or an example line) or `Some(false)` (another clause).
fn clauses(paragraph: &str) -> Vec<(String, Option<bool>)> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut start = Some(false);
    let mut flush = |current: &mut String, start: &mut Option<bool>, next: Option<bool>| {
        pieces.push((std::mem::take(current), *start));
        *start = next;
    };
    for line in paragraph.lines() {
        let example =
            line.starts_with("  ") && line[2..].starts_with(|c: char| c.is_ascii_alphanumeric());
        if example {
            flush(&mut current, &mut start, Some(true));
        } else {
            flush(&mut current, &mut start, None);
        }
        let chars: Vec<char> = line.chars().collect();
        for (k, &c) in chars.iter().enumerate() {
            let spaced = chars.get(k + 1).is_none_or(|n| n.is_whitespace());
            match c {
                '|' => flush(&mut current, &mut start, Some(true)),
                ';' | '(' | ')' => flush(&mut current, &mut start, Some(false)),
                '.' | ':' | ',' if spaced => flush(&mut current, &mut start, Some(false)),
                _ => current.push(c),
            }
        }
        current.push(' ');
    }
    flush(&mut current, &mut start, None);
    pieces
}

/// One of our commands named by the first words of `words` (`job-pack tar …`): its words and how
/// many words name it.
fn our_command(words: &[&str], tree: &CommandTree) -> Option<(Vec<String>, usize)> {
    let tool = words.first()?;
    if !TOOLS.contains(tool) {
        return None;
    }
    let mut command = vec![tool.to_string()];
    for word in &words[1..] {
        match subcommand_of(&command, word, tree) {
            Some(deeper) => command = deeper,
            None => break,
        }
    }
    let used = command.len();
    Some((command, used))
}

/// `command word` when `word` is a subcommand of `command`.
fn subcommand_of(command: &[String], word: &str, tree: &CommandTree) -> Option<Vec<String>> {
    let subs = tree.get(command)?;
    subs.iter().any(|s| s == word).then(|| {
        let mut deeper = command.to_vec();
        deeper.push(word.to_string());
        deeper
    })
}
