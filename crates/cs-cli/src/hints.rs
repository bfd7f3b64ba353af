//! One-line hints for the usual mix-ups of command-line words: a job folder where a project
//! folder is expected, a `.csg` where a `.cs` file is, a `.cs` where a `.csg` is, a job number
//! (`J8`, `8`) where a path is. Each function looks at what was given (the detection of formats
//! and folders is cs-format's) and returns the error to report instead (exit 1), or none when
//! it is no mix-up it knows. They are called where a tool refuses or fails to open an input, so
//! they change nothing for inputs that work.

use crate::{folder_of, FormatError, InputPath};
use cs_format::project::csg::Csg;
use cs_format::project::{as_job_folder, is_project_dir, job_number, shown};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// For `map_err` where a `.cs` input failed to open: the mix-up it is, if any, in place of
/// the error.
pub fn explain_cs_input(input: &InputPath) -> impl FnOnce(FormatError) -> FormatError + '_ {
    move |e| match input {
        InputPath::Path(path) => cs_file_mixup(path).unwrap_or(e),
        InputPath::Stdin => e,
    }
}

/// For `map_err` where a `.cs` file failed to open: the mix-up it is, if any, in place of the
/// error.
pub fn explain_cs_file(path: &Path) -> impl FnOnce(FormatError) -> FormatError + '_ {
    move |e| cs_file_mixup(path).unwrap_or(e)
}

/// For `map_err` where a `.csg` file failed to load: the mix-up it is, if any, in place of the
/// error.
pub fn explain_csg_file(path: &Path) -> impl FnOnce(FormatError) -> FormatError + '_ {
    move |e| csg_input_mixup(path).unwrap_or(e)
}

/// A file read as a `.cs` file that is a `.csg` result group (the error names its `.cs`
/// files), or a job number that names no file.
pub fn cs_file_mixup(path: &Path) -> Option<FormatError> {
    csg_given_for_cs(path).or_else(|| job_number_mixup(path))
}

/// An input read as a `.csg` that is a `.cs` file, or a job number that names no file.
pub fn csg_input_mixup(path: &Path) -> Option<FormatError> {
    if cs_format::container::starts_like_cs(path) {
        return Some(hint(
            path,
            "is a .cs file (a dataset), not a .csg (result group): csg-edit new makes a group \
             of .cs files",
        ));
    }
    job_number_mixup(path)
}

/// A path that names nothing and reads as a job number (`J8`, `8`): the hint names the job's
/// folder in a project of the current folder when there is one.
pub fn job_number_mixup(path: &Path) -> Option<FormatError> {
    let job = job_number_word(path)?;
    let folders: Vec<String> = projects_holding(&job)
        .iter()
        .map(|p| shown(&p.join(&job)))
        .collect();
    let folder = match folders.is_empty() {
        true => format!("PROJECT/{job}"),
        false => folders.join(" or "),
    };
    Some(hint(
        path,
        &format!(
            "no such file or folder; {job} reads as a job number: name the job's folder ({folder})"
        ),
    ))
}

/// What a tool that takes a project folder takes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectWord {
    /// The project folder alone (`--into P`, `proj-import P`).
    Alone,
    /// The project folder, then job names (`proj-clean P J8`).
    ThenJobs,
}

/// A folder given as a project folder that is a job folder, or a job number that names no
/// folder: the hint is the command line with the project folder (and the job) in its place.
pub fn project_input_mixup(dir: &Path, word: ProjectWord) -> Option<FormatError> {
    if let Some(found) = as_job_folder(dir) {
        let Some(project) = found.project else {
            return Some(hint(
                dir,
                "is a job folder (it has job.json), not a project folder (project.json)",
            ));
        };
        let line = command_line_with(dir, &project, &found.job, word);
        return Some(hint(dir, &format!("looks like a job folder: try `{line}`")));
    }
    let job = job_number_word(dir)?;
    let project = projects_holding(&job)
        .into_iter()
        .next()
        .unwrap_or_else(|| PathBuf::from("PROJECT"));
    let line = command_line_with(dir, &project, &job, word);
    Some(hint(
        dir,
        &format!("no such folder; {job} reads as a job number: try `{line}`"),
    ))
}

/// A CSV header row that shows another mix-up: the error at line 1 says what to do (the caller
/// names the file).
pub fn csv_header_mixup(headers: &[String], delimiter: u8) -> Option<FormatError> {
    use cs_format::text::csv::{header_mixup, HeaderMixup};
    let what = match header_mixup(headers, delimiter)? {
        HeaderMixup::TabSeparated => format!(
            "looks tab-separated (the header row holds tabs, no '{}'): give -t",
            char::from(delimiter)
        ),
        HeaderMixup::Numbers => "the first row holds numbers, not field names: a header row \
                                 is needed (cs-to-csv writes one)"
            .to_string(),
    };
    Some(FormatError::new(cs_format::Place::Line(1), what))
}

/// Say on stderr (a warning) that the inputs `names` of a join that came out empty have no uid
/// in common, when that is why ([`cs_format::ops::join::had_no_uid_in_common`]).
pub fn warn_if_no_uid_in_common(
    tool: &str,
    names: &[String],
    input_rows: &[u64],
    joined_rows: u64,
    mode: cs_format::ops::join::JoinMode,
) {
    if cs_format::ops::join::had_no_uid_in_common(input_rows, joined_rows, mode) {
        crate::report(
            tool,
            &format!(
                "warning: {} have no uid in common: the join is empty",
                names.join(" and ")
            ),
        );
    }
}

/// The error `what` about the file `path`.
fn hint(path: &Path, what: &str) -> FormatError {
    FormatError::in_whole_file(what).in_file(&shown(path))
}

/// A `.csg` given where a `.cs` file was expected: the error names its `.cs` files.
fn csg_given_for_cs(path: &Path) -> Option<FormatError> {
    let csg = Csg::read_if_csg(path)?;
    let dir = folder_of(path);
    let mut files: Vec<String> = Vec::new();
    for result in csg.results.values() {
        let file = Csg::resolve(&dir, &result.metafile)
            .map_or_else(|_| result.metafile.clone(), |p| shown(&p));
        if !files.contains(&file) {
            files.push(file);
        }
    }
    let named = match files.is_empty() {
        true => "it names no .cs file".to_string(),
        false => format!("its .cs files are {}", files.join(", ")),
    };
    Some(hint(
        path,
        &format!(
            "is a .csg (result group), not a .cs file: {named} (csg-edit show {} lists its slots)",
            shown(path)
        ),
    ))
}

/// `J8` when `path` names nothing and is spelled `J8` or `8`.
fn job_number_word(path: &Path) -> Option<String> {
    if std::fs::symlink_metadata(path).is_ok() {
        return None;
    }
    let word = path.to_str()?;
    let number = job_number(word).or_else(|| {
        (word.bytes().all(|b| b.is_ascii_digit()) && !word.is_empty())
            .then(|| word.parse().ok())
            .flatten()
    })?;
    Some(format!("J{number}"))
}

/// The projects among the current folder and its sub-folders that hold a folder `job`, at most
/// three (a folder of many entries is looked through only so far).
fn projects_holding(job: &str) -> Vec<PathBuf> {
    const MOST_ENTRIES: usize = 10_000;
    let holds = |p: &Path| is_project_dir(p) && p.join(job).is_dir();
    let here = PathBuf::from(".");
    if holds(&here) {
        return vec![here];
    }
    let Ok(entries) = std::fs::read_dir(".") else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .take(MOST_ENTRIES)
        .filter_map(|e| e.ok())
        .map(|e| PathBuf::from(e.file_name()))
        .filter(|p| holds(p))
        .collect();
    found.sort();
    found.truncate(3);
    found
}

/// This process's command line with the word `given` replaced by `project` (and `job` after it,
/// for [`ProjectWord::ThenJobs`]); words that the shell would split or expand are quoted.
fn command_line_with(given: &Path, project: &Path, job: &str, word: ProjectWord) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut replaced = false;
    for (i, arg) in std::env::args_os().enumerate() {
        if i == 0 {
            let tool = Path::new(&arg)
                .file_name()
                .map(OsString::from)
                .unwrap_or(arg);
            words.push(tool.to_string_lossy().into_owned());
        } else if !replaced && arg == given.as_os_str() {
            replaced = true;
            words.push(quoted(&shown(project)));
            if word == ProjectWord::ThenJobs {
                words.push(quoted(job));
            }
        } else {
            words.push(quoted(&arg.to_string_lossy()));
        }
    }
    words.join(" ")
}

/// `word` as the shell reads it back: bare when it holds only safe characters, else in single
/// quotes.
fn quoted(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a panic is a failed test

    use super::*;

    #[test]
    fn words_the_shell_would_change_are_quoted() {
        assert_eq!(quoted("CS-t20s-demo/J8"), "CS-t20s-demo/J8");
        assert_eq!(quoted("my project"), "'my project'");
        assert_eq!(quoted("it's"), r"'it'\''s'");
        assert_eq!(quoted(""), "''");
    }

    #[test]
    fn only_a_missing_path_spelled_as_a_job_number_is_one() {
        assert_eq!(job_number_word(Path::new("J8")).as_deref(), Some("J8"));
        assert_eq!(job_number_word(Path::new("12")).as_deref(), Some("J12"));
        for not in ["J8.cs", "j8", "J", "", "x/J8", "-"] {
            assert_eq!(job_number_word(Path::new(not)), None, "{not}");
        }
        // A file named 8 that exists is a file.
        let dir = tempfile::tempdir().unwrap();
        let eight = dir.path().join("8");
        std::fs::write(&eight, b"").unwrap();
        assert_eq!(job_number_word(&eight), None);
    }
}
