//! `cs-join`: join `.cs` files, or the outputs of job folders, on `uid`.

use clap::{CommandFactory, Parser};
use cs_cli::{Failure, Generate, InputPath, Outcome, Output, OutputChoice};
use cs_format::ops::join::{join_on_uid, join_to_dataset, JoinMode};
use cs_format::text::convert::ChunkConverter;
use cs_format::text::jsonl::{JsonOptions, JsonRowWriter};
use std::io::Write;
use std::process::ExitCode;

/// Join cryoSPARC .cs files on uid.
#[derive(Debug, Parser)]
#[command(
    name = "cs-join",
    version,
    about = "Join cryoSPARC .cs files (or a job's output) on uid",
    long_about = "Join .cs files on uid and print the result as JSON-lines (as cs-cat prints \
rows), or write it with -o as a .cs file.\n\n\
The default is cryosparc-tools' inner join (Dataset.innerjoin): rows whose uid every input has, in \
the first input's order; the first input's fields, then each later input's new fields; a field \
in several inputs takes the later input's value. --left keeps every row of the first input \
(pyem's rule): a uid another input lacks is an error, or with --fill gets zeros and empty strings.\n\n\
An input may be a job folder with --output NAME: its output's metafiles (from job.json) joined as \
cryoSPARC joins them.\n\n\
Memory: the first input streams; every later input is held in memory (about its file size); the \
joined rows are spooled to a temporary file.",
    after_help = "Examples:\n  cs-join J8/J8_passthrough_particles.cs J8/J8_004_particles.cs | head -2\n  \
cs-join J8 --output particles -o particles.cs\n  \
cs-join --left --fill picks.cs ctf.cs -o merged.cs\n\n\
Exit status: 0 on success, 1 on bad data or an I/O error, 2 on bad usage."
)]
pub struct Args {
    /// .cs files or job folders ("-": one .cs on standard input).
    #[arg(value_name = "FILE", required_unless_present = "generate")]
    pub inputs: Vec<String>,

    /// Output reference: read job folders' output.
    #[command(flatten)]
    pub output: OutputChoice,

    /// Keep every row of the first input.
    #[arg(long)]
    pub left: bool,

    /// With --left: fill what another input lacks with zeros and empty strings.
    #[arg(long, requires = "left")]
    pub fill: bool,

    /// Write the join to this .cs file ("-": standard output, not a terminal) instead of printing
    /// JSON-lines.
    #[arg(short = 'o', long = "out", value_name = "OUT")]
    pub out: Option<String>,

    /// Container and compression of -o.
    #[command(flatten)]
    pub write: cs_cli::WriteFormat,

    /// Replace OUT if it exists.
    #[arg(long)]
    pub force: bool,

    /// -f/--fields.
    #[command(flatten)]
    pub fields: cs_cli::FieldChoice,

    /// JSON-lines: print at most N rows.
    #[arg(short = 'n', long = "head", value_name = "N")]
    pub head: Option<u64>,

    /// JSON-lines: print 64-bit integers as strings (for jq 1.6).
    #[arg(long)]
    pub int64_as_string: bool,

    /// Print the man page or a shell completion script.
    #[arg(long, hide = true, value_enum, value_name = "WHAT")]
    pub generate: Option<Generate>,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    cs_cli::main_with("cs-join", run)
}

/// The clap command (for man pages and completions).
pub fn command() -> clap::Command {
    Args::command()
}

/// Run `cs-join` with parsed arguments.
pub fn run(args: Args) -> Outcome {
    if let Some(what) = args.generate {
        return cs_cli::generate(command(), what);
    }
    let inputs: Vec<InputPath> = args.inputs.iter().map(|a| InputPath::from_arg(a)).collect();
    if inputs.iter().filter(|i| **i == InputPath::Stdin).count() > 1 {
        return Err(Failure::Usage(
            "standard input (-) can be named only once".into(),
        ));
    }
    let out = args
        .out
        .as_deref()
        .map(|o| Output::binary(o, args.force))
        .transpose()?;
    let mut datasets = Vec::new();
    for input in &inputs {
        datasets.push(input.open_with(&args.output)?);
    }
    let mode = if args.left {
        JoinMode::Left { fill: args.fill }
    } else {
        JoinMode::Inner
    };
    if let Some(out) = out {
        if !args.fields.fields.is_empty() || args.head.is_some() {
            return Err(Failure::Usage(
                "-f and -n shape the JSON-lines output, not -o".into(),
            ));
        }
        let spool = join_on_uid(datasets, &out.spool_dir(), mode, &mut |_, _| Ok(()))?;
        let format = args.write.output_format();
        return out.write(args.force, |mut w| spool.write(format, &mut w));
    }
    let joined = join_to_dataset(datasets, mode, &std::env::temp_dir(), "(join)")?;
    let rows = joined.select(&args.fields.fields)?;
    let speller = JsonRowWriter::new(
        rows.fields(),
        JsonOptions {
            int64_as_string: args.int64_as_string,
        },
    );
    let mut stdout = cs_cli::stdout();
    let limit = args.head.unwrap_or(u64::MAX);
    ChunkConverter::default().stream(rows, limit, &speller, &mut stdout)?;
    stdout.flush()?;
    Ok(())
}
