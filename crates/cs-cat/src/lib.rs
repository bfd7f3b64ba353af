//! `cs-cat`: print cryoSPARC `.cs` files as JSON-lines, or their schema, row count or
//! container description.

use clap::Parser;
use cs_cli::{Failure, InputPath, Outcome};
use cs_format::text::convert::ChunkConverter;
use cs_format::text::jsonl::{JsonOptions, JsonRowWriter};
use cs_format::{Error, Projection};
use std::io::Write;

/// Print cryoSPARC .cs files (numpy or CSDAT) as JSON-lines.
#[derive(Debug, Parser)]
#[command(
    name = "cs-cat",
    version,
    about = "Print cryoSPARC .cs files (numpy or CSDAT) as JSON-lines",
    long_about = "Print cryoSPARC .cs files (numpy .npy or the CSDAT container, including the legacy \
\\x94CSDAT) as JSON-lines: one compact object per row, keys in field order, uid first.\n\n\
Spelling: integers exact (u64 too); floats as the shortest decimal that reads back to the same \
float32/float64; NaN and infinities as the strings \"NaN\", \"Infinity\", \"-Infinity\"; \
subarrays as nested arrays; complex numbers as [re, im]; strings as UTF-8.\n\n\
Several files print one after another when their schemas (after -f) are equal. A job folder \
stands for one of its output groups with --group NAME (its metafiles joined on uid, as cryoSPARC \
joins them). -o FILE writes to FILE instead of standard output.\n\n\
jq 1.6 reads numbers as doubles and silently rounds uids above 2^53: use --int64-as-string \
when piping into it.",
    after_help = "Examples:\n  cs-cat J8/particles.cs | head -3\n  cs-cat -f uid,ctf J8/particles.cs\n  \
cs-cat --int64-as-string particles.cs | jq -c 'select(.\"ctf/df1_A\" > 15000)'\n  cs-cat --schema particles.cs\n  \
cs-cat --count particles.cs\n  cs-cat J8 --group particles -n 2\n\n\
Exit status: 0 on success (also when the reader of the output closes the pipe early, as head does), \
1 on bad data or an I/O error (one line on stderr: cs-cat: FILE: place: what), 2 on bad usage."
)]
pub struct Args {
    /// .cs files (or job folders, with --group) to read; "-" or none reads standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,

    /// -f/--fields.
    #[command(flatten)]
    pub fields: cs_cli::FieldChoice,

    /// Print one {"name","dtype","shape"} object per field instead of rows (dtype as
    /// cryosparc-tools loads it: strings "|O"). Reads only the header.
    #[arg(long, conflicts_with_all = ["count", "info"])]
    pub schema: bool,

    /// Print the number of rows (the total over all files). Reads only the header.
    #[arg(long, conflicts_with = "info")]
    pub count: bool,

    /// Print one JSON object per file describing its container (format, version, header
    /// length, data offset, rows, row bytes, compression). Never reads column data.
    #[arg(long)]
    pub info: bool,

    /// Print at most N rows (in total over all files).
    #[arg(short = 'n', long = "head", value_name = "N")]
    pub head: Option<u64>,

    /// Print 64-bit integers (uid, *_uid, import_sig, i8/u8 fields) as JSON strings, so that
    /// tools which read numbers as doubles (jq 1.6) cannot round them.
    #[arg(long)]
    pub int64_as_string: bool,

    /// --group/--group-version: read a job folder's output group.
    #[command(flatten)]
    pub group: cs_cli::GroupChoice,

    /// -o/--output and --force: write to a file.
    #[command(flatten)]
    pub output: cs_cli::OutputFile,
}

/// Run `cs-cat` with parsed arguments.
pub fn run(args: Args) -> Outcome {
    let inputs = cs_cli::inputs_or_stdin(&args.files);
    if inputs.iter().filter(|i| **i == InputPath::Stdin).count() > 1 {
        return Err(Failure::Usage(
            "standard input (-) can be named only once".into(),
        ));
    }
    args.group.refuse_group_as_output(&inputs, &args.output)?;
    let mut out = args.output.open_text()?;
    if args.info {
        for input in &inputs {
            let mut ds = input
                .open_with(&args.group)
                .map_err(cs_cli::hints::explain_cs_input(input))?;
            let info = ds.info()?;
            writeln!(out, "{info}")?;
        }
        return out.finish();
    }
    // Open every input's header first, so that a schema mismatch is reported before any row.
    let mut opened: Vec<Projection> = Vec::new();
    for input in &inputs {
        let chosen = input
            .open_with(&args.group)
            .map_err(cs_cli::hints::explain_cs_input(input))?
            .select(&args.fields.fields)?;
        if let Some(first) = opened.first() {
            if let Some(diff) = first.schema().difference(chosen.schema()) {
                return Err(Error::in_whole_file(format!(
                    "schema differs from {}: {diff}",
                    first.name()
                ))
                .in_file(chosen.name())
                .into());
            }
        }
        opened.push(chosen);
    }
    if args.count {
        let total: u64 = opened.iter().map(Projection::rows).sum();
        writeln!(out, "{}", args.head.map_or(total, |h| h.min(total)))?;
        return out.finish();
    }
    if args.schema {
        if let Some(first) = opened.first() {
            for f in first.fields() {
                writeln!(out, "{}", f.schema_json())?;
            }
        }
        return out.finish();
    }
    let opts = JsonOptions {
        int64_as_string: args.int64_as_string,
    };
    let mut left = args.head.unwrap_or(u64::MAX);
    let mut converter = ChunkConverter::default();
    for rows in opened {
        if left == 0 {
            break;
        }
        let speller = JsonRowWriter::new(rows.fields(), opts);
        left -= converter.stream(rows, left, &speller, &mut out)?;
    }
    out.finish()
}
