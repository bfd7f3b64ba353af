//! `.csg` result-group files (FORMATS.md §9): the model, parsing (every scalar kept as the text
//! it was written as), and writing in cryoSPARC's layout, which is PyYAML's `yaml.dump` with
//! sorted keys, block style, 80-column folding and its quoting rules.

use crate::error::{Error, Place, Result};
use crate::limits::MAX_YAML_DEPTH;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// True when a result of type `result_type` (`particle.blob`) can belong to a group of type
/// `group_type`: the datatype before the dot is the group's, or `volume` in a `mask` or
/// `volume_multi` group (cryoSPARC's refinement mask output holds `volume.blob`).
pub fn result_type_fits(group_type: &str, result_type: &str) -> bool {
    let Some((datatype, slot)) = result_type.split_once('.') else {
        return false;
    };
    !slot.is_empty()
        && (datatype == group_type
            || (datatype == "volume" && matches!(group_type, "mask" | "volume_multi")))
}

/// The largest file [`Csg::read_if_csg`] reads: a `.csg` names a few slots in a few hundred
/// bytes; one of a megabyte is something else.
pub const MAX_CSG_BYTES: u64 = 1 << 20;

/// A result group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Csg {
    /// When it was written (kept as text; cryoSPARC writes a YAML timestamp).
    pub created: Option<String>,
    /// The group.
    pub group: CsgGroup,
    /// One entry per result slot, by slot name.
    pub results: BTreeMap<String, CsgResult>,
    /// The version of the program that wrote it (kept as text: `1.10` stays `1.10`).
    pub version: Option<String>,
    /// Top-level keys this model does not know (writing would drop them).
    #[serde(flatten)]
    pub unknown: BTreeMap<String, yaml_serde::Value>,
}

/// The `group` mapping.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CsgGroup {
    /// Description (optional in third-party files).
    pub description: Option<String>,
    /// Output (group) name, e.g. `particles`.
    pub name: String,
    /// Title (optional in third-party files).
    pub title: Option<String>,
    /// Datatype, e.g. `particle`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Keys of `group` this model does not know.
    #[serde(flatten)]
    pub unknown: BTreeMap<String, yaml_serde::Value>,
}

/// One result slot.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CsgResult {
    /// The `.cs` file; a leading `>` means relative to the folder holding the `.csg`.
    pub metafile: String,
    /// Rows in the metafile.
    pub num_items: u64,
    /// `<group type>.<slot dtype>`, e.g. `particle.blob`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Keys of a result this model does not know.
    #[serde(flatten)]
    pub unknown: BTreeMap<String, yaml_serde::Value>,
}

impl Csg {
    /// Parse a `.csg` document. Errors name the line and the key. A document nested deeper
    /// than [`MAX_YAML_DEPTH`] is refused at the line that goes deeper, before it is parsed.
    pub fn parse(text: &str) -> Result<Csg> {
        if let Some(line) = line_too_deep(text) {
            return Err(Error::new(
                Place::Line(line),
                format!(
                    "YAML nested more than {MAX_YAML_DEPTH} levels deep (a .csg is 3 levels deep)"
                ),
            ));
        }
        yaml_serde::from_str::<Csg>(text).map_err(|e| {
            let what = e.to_string();
            let what = match what.find(" at line ") {
                Some(i) => what[..i].to_string(),
                None => what,
            };
            let what = what.replace("missing field `", "missing key `");
            match e.location() {
                Some(l) => Error::new(Place::Line(l.line() as u64), what),
                None => Error::in_whole_file(what),
            }
        })
    }

    /// The group `path` holds when it is a regular file of at most [`MAX_CSG_BYTES`] that parses
    /// as a `.csg`; none otherwise (never opens a FIFO or a device, never reads more).
    pub fn read_if_csg(path: &Path) -> Option<Csg> {
        use std::io::Read;
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_file() || meta.len() > MAX_CSG_BYTES {
            return None;
        }
        let mut text = String::new();
        std::fs::File::open(path)
            .ok()?
            .take(MAX_CSG_BYTES)
            .read_to_string(&mut text)
            .ok()?;
        Csg::parse(&text).ok()
    }

    /// The keys of the document this model does not know, as `a.b` paths (writing drops them).
    pub fn unknown_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.unknown.keys().cloned().collect();
        keys.extend(self.group.unknown.keys().map(|k| format!("group.{k}")));
        for (slot, r) in &self.results {
            keys.extend(r.unknown.keys().map(|k| format!("results.{slot}.{k}")));
        }
        keys
    }

    /// The document in cryoSPARC's (PyYAML's) layout.
    pub fn to_yaml(&self) -> String {
        let mut y = Yaml::default();
        if let Some(c) = &self.created {
            y.entry(0, "created", c, is_timestamp(c));
        }
        y.key(0, "group");
        if let Some(d) = &self.group.description {
            y.entry(2, "description", d, false);
        }
        y.entry(2, "name", &self.group.name, false);
        if let Some(t) = &self.group.title {
            y.entry(2, "title", t, false);
        }
        y.entry(2, "type", &self.group.ty, false);
        if self.results.is_empty() {
            y.out.push_str("results: {}\n");
        } else {
            y.key(0, "results");
            for (slot, r) in &self.results {
                y.key(2, slot);
                y.entry(4, "metafile", &r.metafile, false);
                y.entry(4, "num_items", &r.num_items.to_string(), true);
                y.entry(4, "type", &r.ty, false);
            }
        }
        if let Some(v) = &self.version {
            y.entry(0, "version", v, false);
        }
        y.out
    }

    /// The path a metafile names, for a `.csg` in folder `dir`: `>` paths are relative to `dir`
    /// and may not climb out of it; other relative paths are taken relative to `dir` too.
    pub fn resolve(dir: &Path, metafile: &str) -> std::result::Result<PathBuf, String> {
        let rel = metafile.strip_prefix('>').unwrap_or(metafile);
        let p = Path::new(rel);
        if p.is_absolute() {
            if metafile.starts_with('>') {
                return Err(format!("'{metafile}': a '>' path must be relative"));
            }
            return Ok(p.to_path_buf());
        }
        let mut depth: i64 = 0;
        for c in p.components() {
            match c {
                Component::ParentDir => depth -= 1,
                Component::Normal(_) => depth += 1,
                _ => {}
            }
            if depth < 0 && metafile.starts_with('>') {
                return Err(format!(
                    "'{metafile}' climbs out of the folder holding the .csg"
                ));
            }
        }
        Ok(dir.join(p))
    }
}

/// Nesting levels of a YAML document as a scan sees them: block levels by indentation (and
/// `- ` items), flow levels by `[` `{` outside quoted scalars, block scalars and comments.
#[derive(Default)]
struct YamlDepth {
    /// The columns that open the block levels enclosing the current line.
    block: Vec<usize>,
    /// Open flow collections.
    flow: usize,
    /// The quote of a quoted scalar still open at the end of the last line.
    quote: Option<u8>,
    /// The indentation of the line that opened a `|` or `>` block scalar, while in one.
    block_scalar: Option<usize>,
}

impl YamlDepth {
    fn depth(&self) -> usize {
        self.block.len() + self.flow
    }

    /// Take in one line; returns its deepest nesting.
    fn line(&mut self, b: &[u8]) -> usize {
        let indent = b.iter().take_while(|&&c| c == b' ').count();
        let blank = b.get(indent).is_none_or(|&c| c == b'#');
        if let Some(opener) = self.block_scalar {
            if blank || indent > opener {
                return self.depth();
            }
            self.block_scalar = None;
        }
        let mut i = 0;
        if self.quote.is_none() && self.flow == 0 {
            if blank {
                return self.depth();
            }
            while self.block.last().is_some_and(|&c| c >= indent) {
                self.block.pop();
            }
            self.block.push(indent);
            i = indent;
            // `- - x`: each item marker opens a level.
            while b.get(i) == Some(&b'-') && matches!(b.get(i + 1), None | Some(b' ')) {
                i += 1;
                while b.get(i) == Some(&b' ') {
                    i += 1;
                }
                self.block.push(i);
            }
        }
        let mut deepest = self.depth();
        self.scan(b, i, indent, &mut deepest);
        deepest
    }

    /// Follow quotes and flow brackets from `i` to the end of the line.
    fn scan(&mut self, b: &[u8], mut i: usize, indent: usize, deepest: &mut usize) {
        let mut value_start = self.quote.is_none();
        while i < b.len() {
            let c = b[i];
            if let Some(q) = self.quote {
                // `\x` in double quotes and `''` in single quotes are not the end.
                let escaped = (c == b'\\' && q == b'"')
                    || (c == q && q == b'\'' && b.get(i + 1) == Some(&b'\''));
                if escaped {
                    i += 1;
                } else if c == q {
                    self.quote = None;
                    value_start = false;
                }
                i += 1;
                continue;
            }
            let opens_value = value_start || self.flow > 0;
            match c {
                b' ' | b'\t' => {}
                b'#' if i == 0 || matches!(b[i - 1], b' ' | b'\t') => return,
                b'\'' | b'"' if opens_value => self.quote = Some(c),
                b'[' | b'{' if opens_value => {
                    self.flow += 1;
                    *deepest = (*deepest).max(self.depth());
                    value_start = true;
                }
                b']' | b'}' if self.flow > 0 => {
                    self.flow -= 1;
                    value_start = false;
                }
                b',' if self.flow > 0 => value_start = true,
                b':' if matches!(b.get(i + 1), None | Some(b' ' | b'\t')) => value_start = true,
                // An anchor or a tag comes before the value it names.
                b'&' | b'!' if value_start => {
                    while i + 1 < b.len() && !matches!(b[i + 1], b' ' | b'\t') {
                        i += 1;
                    }
                }
                b'|' | b'>' if value_start && self.flow == 0 => {
                    self.block_scalar = Some(indent);
                    return;
                }
                _ => value_start = false,
            }
            i += 1;
        }
    }
}

/// The first line (1-based) at which `text` is nested deeper than [`MAX_YAML_DEPTH`].
fn line_too_deep(text: &str) -> Option<u64> {
    let mut depth = YamlDepth::default();
    text.lines()
        .position(|line| depth.line(line.as_bytes()) > MAX_YAML_DEPTH)
        .map(|i| i as u64 + 1)
}

/// Writes YAML text the way PyYAML's emitter does for our fixed structure.
#[derive(Default)]
struct Yaml {
    out: String,
}

/// PyYAML's default `width`.
const BEST_WIDTH: usize = 80;

impl Yaml {
    fn key(&mut self, indent: usize, key: &str) {
        self.out.push_str(&" ".repeat(indent));
        self.out.push_str(&scalar_text(key, false).0);
        self.out.push_str(":\n");
    }

    /// `key: value`; `raw` writes the value as it is (numbers, timestamps).
    fn entry(&mut self, indent: usize, key: &str, value: &str, raw: bool) {
        let line_start = self.out.len();
        self.out.push_str(&" ".repeat(indent));
        self.out.push_str(&scalar_text(key, false).0);
        self.out.push(':');
        if raw {
            self.out.push(' ');
            self.out.push_str(value);
            self.out.push('\n');
            return;
        }
        let (text, style) = scalar_text(value, true);
        let column = self.out[line_start..].chars().count();
        self.out.push(' ');
        match style {
            Style::Plain | Style::Single => fold(
                &mut self.out,
                &text,
                column + 1,
                indent + 2,
                style == Style::Single,
            ),
            Style::Double => self.out.push_str(&text),
        }
        self.out.push('\n');
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
}

/// Write `text` (already quoted when `quoted`) starting at `column`, replacing a single space
/// by a line break and `indent` spaces once the line is past 80 columns (PyYAML's folding).
fn fold(out: &mut String, text: &str, mut column: usize, indent: usize, quoted: bool) {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if c == '\n' && quoted {
            // PyYAML writes a run of k line breaks as k + 1, then the indentation.
            out.push('\n');
            while i < n && chars[i] == '\n' {
                out.push('\n');
                i += 1;
            }
            out.push_str(&" ".repeat(indent));
            column = indent;
            continue;
        }
        let single_space =
            c == ' ' && i + 1 < n && chars[i + 1] != ' ' && (i == 0 || chars[i - 1] != ' ');
        let inside = !quoted || (i > 1 && i + 2 < n);
        if single_space && column > BEST_WIDTH && inside && i > 0 {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            column = indent;
        } else {
            out.push(c);
            column += 1;
        }
        i += 1;
    }
}

/// How PyYAML (default settings: no unicode, width 80) writes a string scalar.
fn scalar_text(s: &str, _value: bool) -> (String, Style) {
    if s.is_empty() {
        return ("''".into(), Style::Single);
    }
    let special = s.chars().any(|c| !(c == '\n' || (' '..='~').contains(&c)));
    if special {
        return (double_quoted(s), Style::Double);
    }
    if s.contains('\n') {
        return (format!("'{}'", s.replace('\'', "''")), Style::Single);
    }
    if plain_allowed(s) && resolves_to_str(s) {
        return (s.to_string(), Style::Plain);
    }
    (format!("'{}'", s.replace('\'', "''")), Style::Single)
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if (' '..='~').contains(&c) => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// PyYAML's `analyze_scalar` rules for a plain scalar in block context.
fn plain_allowed(s: &str) -> bool {
    let b = s.as_bytes();
    if b[0] == b' ' || b[b.len() - 1] == b' ' {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    for (i, &c) in b.iter().enumerate() {
        let next_ws = b.get(i + 1).is_none_or(|&n| n == b' ');
        let prev_ws = i > 0 && b[i - 1] == b' ';
        if i == 0 {
            if b"#,[]{}&*!|>'\"%@`".contains(&c) {
                return false;
            }
            if (c == b'?' || c == b':' || c == b'-') && next_ws {
                return false;
            }
        } else {
            if c == b':' && next_ws {
                return false;
            }
            if c == b'#' && prev_ws {
                return false;
            }
        }
    }
    true
}

/// True when a plain scalar would read back as a string under YAML 1.1 (PyYAML's resolvers).
fn resolves_to_str(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", "<<", "=",
    ];
    if WORDS.contains(&s) || is_timestamp(s) {
        return false;
    }
    let t = s.strip_prefix(['-', '+']).unwrap_or(s).replace('_', "");
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit());
    // int: decimal, 0b, 0x, octal, sexagesimal
    if digits(&t)
        || t.strip_prefix("0x")
            .is_some_and(|h| !h.is_empty() && h.bytes().all(|c| c.is_ascii_hexdigit()))
        || t.strip_prefix("0b")
            .is_some_and(|h| !h.is_empty() && h.bytes().all(|c| c == b'0' || c == b'1'))
        || (t.contains(':') && t.split(':').all(digits))
    {
        return false;
    }
    // float: needs a dot (YAML 1.1 as PyYAML implements it), or .inf / .nan
    let lower = t.to_ascii_lowercase();
    if lower == ".inf" || lower == ".nan" {
        return false;
    }
    if let Some((m, e)) = t
        .split_once(['e', 'E'])
        .map(|(m, e)| (m, Some(e)))
        .or(Some((&t[..], None)))
    {
        let mant_ok = m.contains('.') && {
            let (a, b) = m.split_once('.').unwrap_or((m, ""));
            (a.is_empty() || a.bytes().all(|c| c.is_ascii_digit() || c == b':'))
                && b.bytes().all(|c| c.is_ascii_digit())
                && !(a.is_empty() && b.is_empty())
        };
        let exp_ok = e.is_none_or(|e| {
            let e = e.strip_prefix(['-', '+']).unwrap_or("");
            digits(e)
        });
        if mant_ok && exp_ok {
            return false;
        }
    }
    true
}

/// A YAML 1.1 timestamp (date, or date and time), as PyYAML's resolver matches it.
pub fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    if b.len() < 10 || !digits(0..4) || b[4] != b'-' {
        return false;
    }
    let rest = &s[5..];
    let mut parts = rest.splitn(2, '-');
    let (Some(m), Some(tail)) = (parts.next(), parts.next()) else {
        return false;
    };
    if m.is_empty() || m.len() > 2 || !m.bytes().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let day_len = tail.bytes().take_while(u8::is_ascii_digit).count();
    if day_len == 0 || day_len > 2 {
        return false;
    }
    let time = &tail[day_len..];
    if time.is_empty() {
        return m.len() == 2 && day_len == 2;
    }
    let time = time.trim_start_matches(['T', 't', ' ', '\t']);
    let hh = time.bytes().take_while(u8::is_ascii_digit).count();
    let t = time.as_bytes();
    (1..=2).contains(&hh)
        && t.get(hh) == Some(&b':')
        && t.get(hh + 1..hh + 3)
            .is_some_and(|x| x.iter().all(u8::is_ascii_digit))
        && t.get(hh + 3) == Some(&b':')
        && t.get(hh + 4..hh + 6)
            .is_some_and(|x| x.iter().all(u8::is_ascii_digit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csg_is_three_levels_deep() {
        let text = "group:\n  name: p\nresults:\n  blob:\n    metafile: '>a.cs'\n";
        let mut depth = YamlDepth::default();
        let levels: Vec<usize> = text.lines().map(|l| depth.line(l.as_bytes())).collect();
        assert_eq!(levels, [1, 2, 1, 2, 3]);
    }

    #[test]
    fn deep_flow_nesting_is_refused_at_its_line() {
        let deep = format!(
            "group:\n  name: p\nextra: {}{}\n",
            "[".repeat(70),
            "]".repeat(70)
        );
        assert_eq!(line_too_deep(&deep), Some(3));
        let e = Csg::parse(&deep).unwrap_err();
        assert_eq!(e.place, Place::Line(3));
        assert!(e.what.contains("more than 64 levels"), "{}", e.what);
        let split = format!("extra:\n{}\n", "  [\n".repeat(70));
        assert_eq!(
            line_too_deep(&split),
            Some(64),
            "line 2 opens a block level and a flow"
        );
        let tagged = format!("extra: !!seq &a {}\n", "[".repeat(70));
        assert_eq!(line_too_deep(&tagged), Some(1));
    }

    #[test]
    fn deep_block_nesting_is_refused_at_its_line() {
        let deep: String = (0..70)
            .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
            .collect();
        assert_eq!(line_too_deep(&deep), Some(65));
        let items: String = (0..70).map(|i| format!("{}- \n", " ".repeat(i))).collect();
        assert_eq!(
            line_too_deep(&items),
            Some(64),
            "the first line opens two levels"
        );
        let compact = format!("{}x\n", "- ".repeat(70));
        assert_eq!(line_too_deep(&compact), Some(1));
    }

    #[test]
    fn brackets_in_scalars_and_comments_are_not_nesting() {
        let many = "[".repeat(100);
        for text in [
            format!("title: '{many}'\n"),
            format!("title: \"{many}\"\n"),
            format!("title: a{many}\n"),
            format!("title: ok # {many}\n"),
            format!("title: 'it''s {many}\n  more {many}'\n"),
            format!("description: |\n  {many}\n  {many}\nname: x\n"),
        ] {
            assert_eq!(line_too_deep(&text), None, "{text}");
        }
    }

    #[test]
    fn scalars_are_quoted_as_pyyaml_quotes_them() {
        assert_eq!(
            scalar_text(">J1_particles.cs", true).0,
            "'>J1_particles.cs'"
        );
        assert_eq!(scalar_text("particle.blob", true).0, "particle.blob");
        assert_eq!(scalar_text("v4.6.0", true).0, "v4.6.0");
        assert_eq!(scalar_text("1.10", true).0, "'1.10'");
        assert_eq!(scalar_text("1000", true).0, "'1000'");
        assert_eq!(scalar_text("yes", true).0, "'yes'");
        assert_eq!(scalar_text("", true).0, "''");
        assert_eq!(scalar_text("a: b", true).0, "'a: b'");
        assert_eq!(scalar_text("it's", true).0, "it's");
        assert_eq!(scalar_text("'q'", true).0, "'''q'''");
        assert_eq!(scalar_text("Ünï", true).0, "\"\\xDCn\\xEF\"");
        assert_eq!(scalar_text("2024-06-01", true).0, "'2024-06-01'");
    }

    #[test]
    fn timestamps_are_recognised() {
        assert!(is_timestamp("2024-06-01 12:00:00.123456"));
        assert!(is_timestamp("2024-09-23 21:07:31.234595"));
        assert!(is_timestamp("2024-06-01"));
        assert!(!is_timestamp("2024-06-01x"));
        assert!(!is_timestamp("v4.6.0"));
    }

    #[test]
    fn long_plain_values_fold_at_80_columns() {
        let mut y = Yaml::default();
        let long = "word ".repeat(30);
        y.entry(2, "description", long.trim_end(), false);
        let lines: Vec<&str> = y.out.lines().collect();
        assert!(lines.len() > 1);
        assert!(lines[1].starts_with("    word"));
        assert!(lines[0].chars().count() > 80 && lines[0].chars().count() < 86);
    }

    #[test]
    fn metafile_paths_resolve_inside_the_folder() {
        let d = Path::new("/p/exports");
        assert_eq!(
            Csg::resolve(d, ">J1/a.cs").unwrap(),
            Path::new("/p/exports/J1/a.cs")
        );
        assert!(Csg::resolve(d, ">../a.cs").is_err());
        assert!(Csg::resolve(d, ">J1/../../a.cs").is_err());
        assert_eq!(
            Csg::resolve(d, "/abs/a.cs").unwrap(),
            Path::new("/abs/a.cs")
        );
    }
}
