//! `cs-join`: join `.cs` files, or the outputs of job folders, on `uid`.

use clap::Parser;
use cs_cli::{Failure, GroupChoice, InputPath, Outcome, OutputFile};
use cs_format::ops::join::{join_on_uid, join_to_dataset, JoinMode};
use cs_format::text::convert::ChunkConverter;
use cs_format::text::jsonl::{JsonOptions, JsonRowWriter};
use std::io::Write;

/// Join cryoSPARC .cs files on uid.
#[derive(Debug, Parser)]
#[command(
    name = "cs-join",
    version,
    mut_arg("output", |a| a.help("Write the join as a .cs file to FILE (\"-\": standard output, not a terminal) instead of printing JSON-lines")),
    about = "Join cryoSPARC .cs files (or a job's output) on uid",
    long_about = "Join .cs files on uid and print the result as JSON-lines (as cs-cat prints \
rows), or write it with -o as a .cs file.\n\n\
The default is cryosparc-tools' inner join (Dataset.innerjoin): rows whose uid every input has, in \
the first input's order; the first input's fields, then each later input's new fields; a field \
in several inputs takes the later input's value. --left keeps every row of the first input \
(pyem's rule): a uid another input lacks is an error, or with --fill gets zeros and empty strings.\n\n\
An input may be a job folder with --group NAME: its output group's metafiles (from job.json) \
joined as cryoSPARC joins them.\n\n\
Memory: the first input streams; every later input is held in memory (about its file size); the \
joined rows are spooled to a temporary file.",
    after_help = "Examples:\n  cs-join J8/J8_passthrough_particles.cs J8/J8_004_particles.cs | head -2\n  \
cs-join J8 --group particles -o particles.cs\n  \
cs-join --left --fill picks.cs ctf.cs -o merged.cs\n\n\
Exit status: 0 on success, 1 on bad data or an I/O error, 2 on bad usage."
)]
pub struct Args {
    /// .cs files or job folders ("-": one .cs on standard input).
    #[arg(value_name = "FILE", required = true)]
    pub inputs: Vec<String>,

    /// --group/--group-version: read job folders' output group.
    #[command(flatten)]
    pub group: GroupChoice,

    /// Keep every row of the first input.
    #[arg(long)]
    pub left: bool,

    /// With --left: fill what another input lacks with zeros and empty strings.
    #[arg(long, requires = "left")]
    pub fill: bool,

    /// -o/--output FILE: write the join as a .cs file; --force.
    #[command(flatten)]
    pub output: OutputFile,

    /// Container and compression of -o.
    #[command(flatten)]
    pub write: cs_cli::WriteFormat,

    /// -f/--fields.
    #[command(flatten)]
    pub fields: cs_cli::FieldChoice,

    /// JSON-lines: print at most N rows.
    #[arg(short = 'n', long = "head", value_name = "N")]
    pub head: Option<u64>,

    /// JSON-lines: print 64-bit integers as strings (for jq 1.6).
    #[arg(long)]
    pub int64_as_string: bool,
}

/// Run `cs-join` with parsed arguments.
pub fn run(args: Args) -> Outcome {
    let inputs: Vec<InputPath> = args.inputs.iter().map(|a| InputPath::from_arg(a)).collect();
    if inputs.iter().filter(|i| **i == InputPath::Stdin).count() > 1 {
        return Err(Failure::Usage(
            "standard input (-) can be named only once".into(),
        ));
    }
    args.group.refuse_group_as_output(&inputs, &args.output)?;
    let out = match args.output.output {
        Some(_) => Some(args.output.binary()?),
        None => None,
    };
    let mut datasets = Vec::new();
    for input in &inputs {
        datasets.push(
            input
                .open_with(&args.group)
                .map_err(cs_cli::hints::explain_cs_input(input))?,
        );
    }
    let mode = if args.left {
        JoinMode::Left { fill: args.fill }
    } else {
        JoinMode::Inner
    };
    let names: Vec<String> = datasets.iter().map(|d| d.name().to_string()).collect();
    let input_rows: Vec<u64> = datasets.iter().map(|d| d.rows()).collect();
    let warn_if_empty = |joined_rows: u64| {
        cs_cli::hints::warn_if_no_uid_in_common("cs-join", &names, &input_rows, joined_rows, mode)
    };
    if let Some(out) = out {
        if !args.fields.fields.is_empty() || args.head.is_some() {
            return Err(Failure::Usage(
                "-f and -n shape the JSON-lines output, not -o".into(),
            ));
        }
        let spool = join_on_uid(datasets, &out.spool_dir(), mode, &mut |_, _| Ok(()))?;
        warn_if_empty(spool.rows());
        let format = args.write.output_format();
        return out.write(args.output.force, |mut w| spool.write(format, &mut w));
    }
    let joined = join_to_dataset(datasets, mode, &std::env::temp_dir(), "(join)")?;
    warn_if_empty(joined.rows());
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
