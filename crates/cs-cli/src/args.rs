//! Argument groups that several tools share, so that a flag means one thing everywhere: the
//! output file (`-o/--output FILE`, `--force`) and a job folder's output group (`--group NAME`,
//! `--group-version N`).

use std::path::Path;

use crate::output::{Output, OutputWriter};
use crate::{Failure, FormatError, InputPath};

/// `-o/--output FILE` and `--force`: the file a tool writes, atomically.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct OutputFile {
    /// Write to FILE instead of standard output ("-": standard output). FILE appears only when
    /// complete; a device or FIFO is written in place.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<String>,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

impl OutputFile {
    /// The name given, `-` (standard output) when none.
    pub fn name(&self) -> &str {
        self.output.as_deref().unwrap_or("-")
    }

    /// Where text goes, checked before any work ([`Output::text`]).
    pub fn text(&self) -> Result<Output, Failure> {
        Output::text(self.name(), self.force)
    }

    /// Where binary data goes, checked before any work: as [`OutputFile::text`], but standard
    /// output is refused when it is a terminal ([`Output::binary`]).
    pub fn binary(&self) -> Result<Output, Failure> {
        Output::binary(self.name(), self.force)
    }

    /// Open the text output for writing; [`OutputWriter::finish`] completes it.
    pub fn open_text(&self) -> Result<OutputWriter, Failure> {
        self.text()?.open(self.force)
    }
}

/// `--group NAME` and `--group-version N`: which output group of a job folder to read, for
/// inputs that are job folders. (`--version` stays the program's version, as in every Unix
/// tool.)
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct GroupChoice {
    /// For a job folder: the output group to read (particles, volume, …), its metafiles joined
    /// on uid as cryoSPARC joins them.
    #[arg(long = "group", value_name = "NAME")]
    pub group: Option<String>,
    /// For a job folder: the group's version (default: the final one).
    #[arg(long = "group-version", value_name = "N", requires = "group")]
    pub group_version: Option<u64>,
}

impl GroupChoice {
    /// Stop (usage, exit 2) when `-o/--output VALUE` was surely meant as `--group VALUE`: no
    /// `--group` is given, VALUE is not an existing file, and it names an output group of a job
    /// folder among `inputs` (`--output` named the group before it named the output file).
    pub fn refuse_group_as_output(
        &self,
        inputs: &[InputPath],
        output: &OutputFile,
    ) -> Result<(), Failure> {
        let (None, Some(value)) = (&self.group, &output.output) else {
            return Ok(());
        };
        if std::fs::symlink_metadata(value).is_ok() {
            return Ok(());
        }
        for input in inputs {
            let InputPath::Path(dir) = input else {
                continue;
            };
            if names_a_group_of(dir, value) {
                return Err(Failure::Usage(format!(
                    "{}: --output {value} names an output group of this job folder, not a file \
                     to write: did you mean --group {value}?",
                    input.display_name()
                )));
            }
        }
        Ok(())
    }
}

/// True when `dir` is a job folder whose job.json names an output group `name`.
fn names_a_group_of(dir: &Path, name: &str) -> bool {
    cs_format::project::is_job_dir(dir)
        && cs_format::project::read_job(dir)
            .is_ok_and(|job| job.output_names().iter().any(|n| n == name))
}

impl InputPath {
    /// Open a `.cs` file, or, for a job folder, its output group `choice.group` at
    /// `choice.group_version` ([`cs_format::project::open_group`]).
    pub fn open_with(&self, choice: &GroupChoice) -> Result<cs_format::Dataset, FormatError> {
        let name = self.display_name();
        let dir = match self {
            InputPath::Path(dir) if cs_format::project::is_job_dir(dir) => dir,
            _ if choice.group.is_some() => {
                return Err(FormatError::in_whole_file(
                    "--group needs a job folder (one holding job.json)",
                )
                .in_file(&name))
            }
            _ => return self.open_dataset(),
        };
        let Some(group) = &choice.group else {
            let job = cs_format::project::read_job(dir)?;
            return Err(FormatError::in_whole_file(format!(
                "is a job folder: give --group NAME ({})",
                job.output_names().join(", ")
            ))
            .in_file(&name));
        };
        cs_format::project::open_group(dir, group, choice.group_version)
    }

    /// Like [`InputPath::open_with`], for a tool that reads its input twice
    /// ([`cs_format::Dataset::reopen`]): standard input is first copied to a nameless
    /// temporary file (gone when the process ends, however it ends).
    pub fn open_rereadable(&self, choice: &GroupChoice) -> Result<cs_format::Dataset, FormatError> {
        if *self != InputPath::Stdin || choice.group.is_some() {
            return self.open_with(choice);
        }
        let io_err = |e: &std::io::Error| FormatError::io(e, cs_format::Place::File).in_file("-");
        let mut spool = tempfile::tempfile().map_err(|e| io_err(&e))?;
        std::io::copy(&mut std::io::stdin().lock(), &mut spool).map_err(|e| io_err(&e))?;
        cs_format::Dataset::from_file(spool, "-")
    }
}
