//! Process behaviour shared by every csutils tool: a tool's whole `main` ([`main`]: parsing,
//! the hidden `--generate` flag that prints the man page or shell completions, exit codes),
//! the argument groups tools share ([`args`]), inputs (`-` is stdin), one buffered locked
//! stdout, quiet exit 0 when the reader of our output goes away, one-line errors
//! `tool: file: place: what`.

pub mod args;
pub mod help;
pub mod hints;
pub mod output;
pub mod signals;

pub use args::{GroupChoice, OutputFile};
pub use output::{folder_of, persist, write_atomically, Output, OutputWriter};

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cs_format::text::convert::ConvertError;
use cs_format::Error;

pub use cs_format::Error as FormatError;

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: bad data or a runtime failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status: bad usage.
pub const EXIT_USAGE: u8 = 2;

/// A failure a tool reports before exiting.
#[derive(Debug)]
pub enum Failure {
    /// Bad data or a runtime problem (exit 1).
    Data(FormatError),
    /// Bad usage (exit 2).
    Usage(String),
    /// Our stdout was closed by its reader: exit 0 quietly.
    BrokenPipe,
    /// Exit 1 without a message (the output already says what was wrong, as `check` does).
    Quiet,
}

impl From<FormatError> for Failure {
    fn from(e: FormatError) -> Self {
        if e.broken_pipe {
            Failure::BrokenPipe
        } else {
            Failure::Data(e)
        }
    }
}

impl From<io::Error> for Failure {
    /// A write error on the output: quiet for a broken pipe; else named by the output an
    /// [`OutputWriter`] names, or standard output.
    fn from(e: io::Error) -> Self {
        let (name, e) = output::named_output_error(&e).unwrap_or(("(stdout)", &e));
        if e.kind() == io::ErrorKind::BrokenPipe {
            Failure::BrokenPipe
        } else {
            Failure::Data(FormatError::io(e, cs_format::Place::File).in_file(name))
        }
    }
}

impl From<ConvertError> for Failure {
    fn from(e: ConvertError) -> Self {
        match e {
            ConvertError::Input(e) => e.into(),
            ConvertError::Output(e) => e.into(),
        }
    }
}

/// A tool's result.
pub type Outcome = Result<(), Failure>;

/// An I/O error on `path`, as a failure that names the path.
pub fn io_failure(e: &io::Error, path: &Path) -> Failure {
    FormatError::io(e, cs_format::Place::File)
        .in_file(&path.display().to_string())
        .into()
}

/// Run a tool's body and turn its outcome into messages and an exit code.
pub fn finish(tool: &str, outcome: Outcome) -> ExitCode {
    match outcome {
        Ok(()) | Err(Failure::BrokenPipe) => ExitCode::from(EXIT_OK),
        Err(Failure::Data(e)) => {
            report(tool, &e.to_string());
            ExitCode::from(EXIT_FAILURE)
        }
        Err(Failure::Usage(msg)) => {
            report(tool, &msg);
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Quiet) => ExitCode::from(EXIT_FAILURE),
    }
}

/// Print `tool: message` on one line of stderr (newlines in the message are folded).
pub fn report(tool: &str, message: &str) {
    let one_line = message.replace('\n', " ");
    let _ = writeln!(io::stderr().lock(), "{tool}: {one_line}");
}

/// One input named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputPath {
    /// `-`: standard input.
    Stdin,
    /// A file path.
    Path(PathBuf),
}

impl InputPath {
    /// Parse a command-line word.
    pub fn from_arg(arg: &str) -> Self {
        if arg == "-" {
            InputPath::Stdin
        } else {
            InputPath::Path(PathBuf::from(arg))
        }
    }

    /// How messages refer to it.
    pub fn display_name(&self) -> String {
        match self {
            InputPath::Stdin => "-".to_string(),
            InputPath::Path(p) => p.display().to_string(),
        }
    }

    /// Open it as a `.cs` dataset.
    pub fn open_dataset(&self) -> Result<cs_format::Dataset, FormatError> {
        match self {
            InputPath::Stdin => {
                let stdin: Box<dyn Read + Send> = Box::new(io::stdin());
                cs_format::Dataset::from_reader(stdin, "-")
            }
            InputPath::Path(p) => cs_format::Dataset::open(p, &self.display_name()),
        }
    }
}

/// `-f/--fields`: which fields, in which order (the patterns [`cs_format::Dataset::select`]
/// resolves).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct FieldChoice {
    /// Fields, in this order: exact names, slot prefixes (ctf = every ctf/… field) or globs
    /// (alignments_class_*/class_posterior). Comma-separated or repeated.
    #[arg(
        short = 'f',
        long = "fields",
        value_name = "FIELDS",
        value_delimiter = ','
    )]
    pub fields: Vec<String>,
}

/// The inputs of a command line: none means stdin.
pub fn inputs_or_stdin(args: &[String]) -> Vec<InputPath> {
    if args.is_empty() {
        vec![InputPath::Stdin]
    } else {
        args.iter().map(|a| InputPath::from_arg(a)).collect()
    }
}

/// Buffered, locked standard output with a large buffer.
pub fn stdout() -> io::BufWriter<io::StdoutLock<'static>> {
    io::BufWriter::with_capacity(1 << 17, io::stdout().lock())
}

/// What the hidden `--generate` flag can print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Generate {
    /// The tool's own man page (roff) on standard output.
    Man,
    /// Every man page: the tool's and one per subcommand (`job-pack-tar.1`, nested the same
    /// way), written into the current folder; their file names on standard output.
    ManPages,
    /// bash completions.
    CompleteBash,
    /// zsh completions.
    CompleteZsh,
    /// fish completions.
    CompleteFish,
}

/// Print the man page or a completion script for `cmd` on stdout, or write every man page.
pub fn generate(cmd: clap::Command, what: Generate) -> Outcome {
    let mut out = stdout();
    match what {
        Generate::Man => {
            if let Some(page) = man_pages(cmd)?.first() {
                out.write_all(&page.roff)?;
            }
        }
        Generate::ManPages => {
            for page in man_pages(cmd)? {
                write_atomically(Path::new(&page.file_name), true, |w| {
                    w.write_all(&page.roff)
                        .map_err(|e| Error::io(&e, cs_format::Place::File))
                })?;
                writeln!(out, "{}", page.file_name)?;
            }
        }
        Generate::CompleteBash => {
            help::write_completions(clap_complete::Shell::Bash, &cmd, &mut out)?
        }
        Generate::CompleteZsh => {
            help::write_completions(clap_complete::Shell::Zsh, &cmd, &mut out)?
        }
        Generate::CompleteFish => {
            help::write_completions(clap_complete::Shell::Fish, &cmd, &mut out)?
        }
    }
    out.flush()?;
    Ok(())
}

/// One man page: its file name (`job-pack-tar.1`) and its roff text.
pub struct ManPage {
    /// The file name, section included.
    pub file_name: String,
    /// The page.
    pub roff: Vec<u8>,
}

/// The man pages of `cmd`: its own first, then one per subcommand, named as git names them
/// (`job-pack-tar`), nested subcommands the same way. The `help` subcommand has none.
pub fn man_pages(cmd: clap::Command) -> io::Result<Vec<ManPage>> {
    let mut cmd = without_help_subcommand(cmd);
    cmd.build();
    let source = format!(
        "{} {}",
        cmd.get_name(),
        cmd.get_version().unwrap_or_default()
    );
    let mut pages = Vec::new();
    add_man_pages(&cmd, None, &source, &mut pages)?;
    Ok(pages)
}

/// `cmd` and its subcommands, at every depth, without clap's `help` subcommand.
fn without_help_subcommand(cmd: clap::Command) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    names
        .iter()
        .fold(cmd.disable_help_subcommand(true), |cmd, name| {
            cmd.mut_subcommand(name, without_help_subcommand)
        })
}

/// Render the page of the built command `cmd` (its display name is `tool-sub`; a subcommand's
/// page ends with SEE ALSO naming its `parent`'s), then those of its subcommands; `source` is
/// the tool and version every page names.
fn add_man_pages(
    cmd: &clap::Command,
    parent: Option<&str>,
    source: &str,
    pages: &mut Vec<ManPage>,
) -> io::Result<()> {
    let man = clap_mangen::Man::new(help::with_aliases_in_help(cmd.clone())).source(source);
    let mut roff = Vec::new();
    man.render(&mut roff)?;
    if let Some(parent) = parent {
        writeln!(roff, ".SH \"SEE ALSO\"\n{}(1)", parent.replace('-', "\\-"))?;
    }
    pages.push(ManPage {
        file_name: man.get_filename(),
        roff,
    });
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name());
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        add_man_pages(sub, Some(name), source, pages)?;
    }
    Ok(())
}

/// The whole `main` of a tool, which is its `Args` (a clap parser) and its `run`: parse the
/// arguments (clap prints help, version and usage errors itself, exit 2), answer the hidden
/// `--generate` from the same definition, or run; then turn the outcome into messages and an
/// exit code. Messages begin with the command's name.
pub fn main<A: clap::Parser>(run: fn(A) -> Outcome) -> ExitCode {
    signals::install();
    let tool = A::command().get_name().to_string();
    match parse_args::<A>() {
        Ok(Parsed::Run(args)) => finish(&tool, run(args)),
        Ok(Parsed::Generate(what)) => finish(&tool, generate(A::command(), what)),
        Err(code) => code,
    }
}

/// The delimiter of `-t/--tsv` and `-d/--delimiter CHAR`: one ASCII character other than a
/// quote or a line break; `\t` means tab; `,` by default.
pub fn delimiter(tsv: bool, given: Option<&str>) -> Result<u8, Failure> {
    if tsv {
        return Ok(b'\t');
    }
    match given {
        None => Ok(b','),
        Some("\\t") | Some("\t") => Ok(b'\t'),
        Some(d) if d.len() == 1 && d.is_ascii() && !matches!(d, "\"" | "\n" | "\r") => {
            Ok(d.as_bytes()[0])
        }
        Some(d) => Err(Failure::Usage(format!(
            "--delimiter must be one ASCII character other than a quote or line break, not '{d}'"
        ))),
    }
}

/// What a command line asks for.
enum Parsed<A> {
    /// A run with these arguments.
    Run(A),
    /// The hidden `--generate WHAT`.
    Generate(Generate),
}

/// The id of the hidden `--generate` argument, which every tool takes.
const GENERATE: &str = "generate";

/// Parse the command line of a tool with the hidden `--generate` added (alone on the line: it
/// needs none of the tool's required arguments), printing clap's help, version or usage errors
/// itself (usage errors exit 2). The tool's own definition never holds `--generate`, so its
/// man page and completions do not offer it.
fn parse_args<A: clap::Parser>() -> Result<Parsed<A>, ExitCode> {
    let generate_arg = clap::Arg::new(GENERATE)
        .long(GENERATE)
        .hide(true)
        .exclusive(true)
        .value_name("WHAT")
        .value_parser(clap::value_parser!(Generate))
        .help("Print the man page or a shell completion script");
    let mut cmd = A::command().arg(generate_arg);
    let parsed = cmd
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(
            |mut matches| match matches.remove_one::<Generate>(GENERATE) {
                Some(what) => Ok(Parsed::Generate(what)),
                None => A::from_arg_matches_mut(&mut matches).map(Parsed::Run),
            },
        );
    parsed.map_err(|e| {
        let e = e.format(&mut cmd);
        let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        let _ = e.print();
        ExitCode::from(code)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_accepts_one_ascii_character_or_tab() {
        assert_eq!(delimiter(false, None).ok(), Some(b','));
        assert_eq!(delimiter(true, None).ok(), Some(b'\t'));
        assert_eq!(delimiter(false, Some("\\t")).ok(), Some(b'\t'));
        assert_eq!(delimiter(false, Some(";")).ok(), Some(b';'));
        for bad in ["\"", "ab", "é", "\n"] {
            assert!(
                matches!(delimiter(false, Some(bad)), Err(Failure::Usage(_))),
                "{bad:?}"
            );
        }
    }
}

/// A count of work done, shown on stderr as `label: N …` and refreshed a few times a second,
/// only when stderr is a terminal. The line is cleared when the progress is dropped.
pub struct Progress {
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Start showing `label: N unit`.
    pub fn start(label: &str, unit: &str) -> Progress {
        use std::io::IsTerminal;
        let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        if !io::stderr().is_terminal() {
            return Progress {
                count,
                stop: None,
                thread: None,
            };
        }
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let shown = count.clone();
        let (label, unit) = (label.to_string(), unit.to_string());
        let thread = std::thread::spawn(move || {
            let tick = std::time::Duration::from_millis(200);
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(tick) {
                let n = shown.load(std::sync::atomic::Ordering::Relaxed);
                let _ = write!(io::stderr().lock(), "\r{label}: {n} {unit}\x1b[K");
            }
            let _ = write!(io::stderr().lock(), "\r\x1b[K");
        });
        Progress {
            count,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// The counter the work advances.
    pub fn counter(&self) -> &std::sync::atomic::AtomicU64 {
        &self.count
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A byte count for people, in powers of 1024 as `du -h` prints them: `512B`, `1.5K`, `2.3G`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.1}{}", UNITS[unit])
    } else {
        format!("{v:.0}{}", UNITS[unit])
    }
}

#[cfg(test)]
mod human_tests {
    #[test]
    fn human_bytes_uses_binary_units() {
        assert_eq!(super::human_bytes(0), "0B");
        assert_eq!(super::human_bytes(1023), "1023B");
        assert_eq!(super::human_bytes(1536), "1.5K");
        assert_eq!(super::human_bytes(2_310_683), "2.2M");
        assert_eq!(super::human_bytes(50 << 30), "50G");
    }
}

/// The container of a written `.cs` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// numpy .npy, what cryoSPARC writes.
    Numpy,
    /// The CSDAT container.
    Csdat,
}

/// Column compression of CSDAT output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compress {
    /// LZ4 blocks (every column but uid).
    Lz4,
    /// Uncompressed.
    None,
}

/// `--format` and `--compress` of the tools that write `.cs` files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct WriteFormat {
    /// Output container.
    #[arg(long, value_enum, default_value = "numpy", value_name = "FORMAT")]
    pub format: Format,
    /// Column compression of --format csdat.
    #[arg(long, value_enum, default_value = "lz4", value_name = "CODEC")]
    pub compress: Compress,
}

impl WriteFormat {
    /// The writer's format.
    pub fn output_format(self) -> cs_format::container::writer::OutputFormat {
        match self.format {
            Format::Numpy => cs_format::container::writer::OutputFormat::Numpy,
            Format::Csdat => cs_format::container::writer::OutputFormat::Csdat {
                lz4: self.compress == Compress::Lz4,
            },
        }
    }
}
