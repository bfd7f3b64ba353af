//! `cs-to-csv`: a cryoSPARC `.cs` file as RFC 4180 CSV (or TSV).

use clap::Parser;
use cs_cli::Outcome;
use cs_format::text::convert::ChunkConverter;
use cs_format::text::csv::CsvRowWriter;
use std::io::Write;

/// Convert a cryoSPARC .cs file to CSV.
#[derive(Debug, Parser)]
#[command(
    name = "cs-to-csv",
    version,
    about = "Convert a cryoSPARC .cs file (numpy or CSDAT) to CSV or TSV",
    long_about = "Convert a cryoSPARC .cs file (numpy or CSDAT) to RFC 4180 CSV on standard output: \
a header row of field names, then one row per record.\n\n\
Subarray fields are flattened in C order, one column per element, named with one index per \
dimension: alignments3D/pose[0], alignments3D/pose[1], …; a 2-D field x gives x[0][0], x[0][1], ….\n\n\
Cells are spelled as cs-cat spells them: integers exact, floats as the shortest decimal that \
reads back to the same value, NaN, Infinity and -Infinity bare, complex numbers as [re,im], \
strings as UTF-8 (quoted only when they hold the delimiter, a quote or a line break). \
csv-to-cs reads the result back losslessly.\n\n\
A job folder stands for one of its output groups with --group NAME (its metafiles joined on uid, \
as cryoSPARC joins them). -o FILE writes to FILE instead of standard output.",
    after_help = "Examples:\n  cs-to-csv J8/particles.cs > particles.csv\n  \
cs-to-csv -f uid,ctf/df1_A,ctf/df2_A J8/particles.cs | awk -F, 'NR==1 || $2 > 15000'\n  \
cs-to-csv -t J8/particles.cs | column -t\n  cs-to-csv J8 --group particles -o particles.csv\n\n\
Exit status: 0 on success (also when the reader of the output closes the pipe early), 1 on bad \
data or an I/O error, 2 on bad usage."
)]
pub struct Args {
    /// The .cs file (or a job folder, with --group); "-" or none reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,

    /// -f/--fields.
    #[command(flatten)]
    pub fields: cs_cli::FieldChoice,

    /// Tab-separated output (same as -d '\t').
    #[arg(short = 't', long, conflicts_with = "delimiter")]
    pub tsv: bool,

    /// Field delimiter: one ASCII character ("\t" for tab).
    #[arg(short = 'd', long, value_name = "CHAR")]
    pub delimiter: Option<String>,

    /// Leave out the header row.
    #[arg(long)]
    pub no_header: bool,

    /// Write at most N rows.
    #[arg(short = 'n', long = "head", value_name = "N")]
    pub head: Option<u64>,

    /// --group/--group-version: read a job folder's output group.
    #[command(flatten)]
    pub group: cs_cli::GroupChoice,

    /// -o/--output and --force: write to a file.
    #[command(flatten)]
    pub output: cs_cli::OutputFile,
}

/// Run `cs-to-csv` with parsed arguments.
pub fn run(args: Args) -> Outcome {
    let delim = cs_cli::delimiter(args.tsv, args.delimiter.as_deref())?;
    let input = cs_cli::InputPath::from_arg(args.file.as_deref().unwrap_or("-"));
    args.group
        .refuse_group_as_output(std::slice::from_ref(&input), &args.output)?;
    let mut out = args.output.open_text()?;
    let rows = input
        .open_with(&args.group)
        .map_err(cs_cli::hints::explain_cs_input(&input))?
        .select(&args.fields.fields)?;
    let speller = CsvRowWriter::new(delim);
    // One column per element, with or without the header row.
    let header = speller
        .header(rows.fields())
        .map_err(|e| e.in_file(rows.name()))?;
    if !args.no_header {
        out.write_all(&header)?;
    }
    let limit = args.head.unwrap_or(u64::MAX);
    ChunkConverter::default().stream(rows, limit, &speller, &mut out)?;
    out.finish()
}
