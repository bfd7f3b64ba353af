//! `cs-to-csv`: a cryoSPARC `.cs` file as RFC 4180 CSV (or TSV).

use clap::{CommandFactory, Parser};
use cs_cli::{Generate, Outcome};
use cs_format::text::convert::ChunkConverter;
use cs_format::text::csv::CsvRowWriter;
use std::io::Write;
use std::process::ExitCode;

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
csv-to-cs reads the result back losslessly.",
    after_help = "Examples:\n  cs-to-csv J8/particles.cs > particles.csv\n  \
cs-to-csv -f uid,ctf/df1_A,ctf/df2_A J8/particles.cs | awk -F, 'NR==1 || $2 > 15000'\n  \
cs-to-csv -t J8/particles.cs | column -t\n\n\
Exit status: 0 on success (also when the reader of the output closes the pipe early), 1 on bad \
data or an I/O error, 2 on bad usage."
)]
pub struct Args {
    /// The .cs file; "-" or none reads standard input.
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

    /// Output reference: read a job folder's output.
    #[command(flatten)]
    pub output: cs_cli::OutputChoice,

    /// Print the man page or a shell completion script.
    #[arg(long, hide = true, value_enum, value_name = "WHAT")]
    pub generate: Option<Generate>,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    cs_cli::main_with("cs-to-csv", run)
}

/// The clap command (for man pages and completions).
pub fn command() -> clap::Command {
    Args::command()
}

/// Run `cs-to-csv` with parsed arguments.
pub fn run(args: Args) -> Outcome {
    if let Some(what) = args.generate {
        return cs_cli::generate(command(), what);
    }
    let delim = cs_cli::delimiter(args.tsv, args.delimiter.as_deref())?;
    let input = cs_cli::InputPath::from_arg(args.file.as_deref().unwrap_or("-"));
    let rows = input.open_with(&args.output)?.select(&args.fields.fields)?;
    let speller = CsvRowWriter::new(delim);
    // One column per element, with or without the header row.
    let header = speller
        .header(rows.fields())
        .map_err(|e| e.in_file(rows.name()))?;
    let mut out = cs_cli::stdout();
    if !args.no_header {
        out.write_all(&header)?;
    }
    let limit = args.head.unwrap_or(u64::MAX);
    ChunkConverter::default().stream(rows, limit, &speller, &mut out)?;
    out.flush()?;
    Ok(())
}
