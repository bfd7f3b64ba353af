//! `csv-to-cs`: CSV (as `cs-to-csv` writes it) or JSON-lines (as `cs-cat` writes it) back into
//! a cryoSPARC `.cs` file, numpy or CSDAT, written atomically.

mod fields;
mod input;
mod rows;
mod uid_check;
mod write;

use clap::{Parser, ValueEnum};
use cs_cli::Outcome;
use cs_format::container::writer::OutputFormat;
use cs_format::Field;
use input::{Input, Rows};
use rows::InputKind;
use std::path::PathBuf;
use uid_check::TemplateUids;
use write::Conversion;

/// Input syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum From {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// Convert CSV or JSON-lines into a cryoSPARC .cs file.
#[derive(Debug, Parser)]
#[command(
    name = "csv-to-cs",
    version,
    mut_arg("output", |a| a.help("The file to write (default: standard output, refused when it is \
        a terminal); a device or FIFO is written in place")),
    about = "Convert CSV or JSON-lines back into a cryoSPARC .cs file",
    long_about = "Read CSV (as cs-to-csv writes it) or JSON-lines (as cs-cat writes it) and write a \
cryoSPARC .cs file. The input syntax is detected (a first non-blank character '{' means \
JSON-lines) unless --from says.\n\n\
Field types come from, in this order: --like TEMPLATE.cs (its field order and dtypes; input \
columns may come in any order), --schema FILE (the JSON-lines cs-cat --schema prints), or \
inference: cryoSPARC's known fields (uid <u8, blob/idx <u4, blob/shape <u4 x2, ctf/* <f4, …), \
then columns of integers <i8, other numbers <f8, anything else text. Text fields get width = \
longest UTF-8 value + 1, as cryosparc-tools writes them.\n\n\
With --like, every uid must exist in the template unless --new-uids is given: a uid that is \
not there usually means a JSON tool rounded it (jq 1.6 reads numbers as doubles; use \
cs-cat --int64-as-string).\n\n\
The output appears only when complete (temporary file in the same folder, then rename); an \
existing output is refused without --force. Without -o the .cs goes to standard output (csv-to-cs \
IN.csv > out.cs) unless that is a terminal; a device or FIFO named by -o is written in place, never \
replaced.",
    after_help = "Examples:\n  cs-cat --int64-as-string J8/particles.cs | jq -c 'select(.\"ctf/df1_A\" > 15000)' \\\n    \
| csv-to-cs --like J8/particles.cs -o subset.cs\n  \
cs-to-csv J8/particles.cs | awk -F, 'NR==1 || $2 < 100' | csv-to-cs --like J8/particles.cs -o subset.cs\n  \
csv-to-cs --schema schema.jsonl table.csv -o out.cs --format csdat\n\n\
Exit status: 0 on success, 1 on bad data or an I/O error (csv-to-cs: INPUT:LINE: field NAME: what; \
no output is written), 2 on bad usage."
)]
pub struct Args {
    /// CSV or JSON-lines input; "-" or none reads standard input.
    #[arg(value_name = "INPUT")]
    pub input: Option<String>,

    /// -o/--output FILE (default: standard output, refused when it is a terminal); --force.
    #[command(flatten)]
    pub output: cs_cli::OutputFile,

    /// Input syntax (default: detected).
    #[arg(long, value_enum, value_name = "SYNTAX")]
    pub from: Option<From>,

    /// Take field order and dtypes from this .cs file.
    #[arg(long, value_name = "TEMPLATE", conflicts_with = "schema")]
    pub like: Option<PathBuf>,

    /// Take field order and dtypes from this JSON-lines schema (cs-cat --schema output).
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,

    /// With --like: allow uids that the template does not have.
    #[arg(long)]
    pub new_uids: bool,

    /// Output container and compression.
    #[command(flatten)]
    pub write: cs_cli::WriteFormat,

    /// Tab-separated input.
    #[arg(short = 't', long, conflicts_with = "delimiter")]
    pub tsv: bool,

    /// CSV field delimiter: one ASCII character ("\t" for tab).
    #[arg(short = 'd', long, value_name = "CHAR")]
    pub delimiter: Option<String>,
}

/// Run `csv-to-cs` with parsed arguments.
pub fn run(args: Args) -> Outcome {
    let delim = cs_cli::delimiter(args.tsv, args.delimiter.as_deref())?;
    let out = args.output.binary()?;
    let spool_dir = out.spool_dir();
    let input_name = args.input.clone().unwrap_or_else(|| "-".into());

    // Where the dtypes come from.
    let mut template_uids: Option<TemplateUids> = None;
    let declared: Option<Vec<Field>> = if let Some(like) = &args.like {
        let name = like.display().to_string();
        let (fields, template) = fields::template(like, &name)?;
        if !args.new_uids {
            template_uids = Some(TemplateUids::load(template, &name));
        }
        Some(fields)
    } else if let Some(schema) = &args.schema {
        Some(fields::read_schema(schema)?)
    } else {
        None
    };

    let input = Input {
        path: match args.input.as_deref() {
            None | Some("-") => None,
            Some(p) => Some(PathBuf::from(p)),
        },
        name: input_name,
        kind: args.from.map(|f| match f {
            From::Csv => InputKind::Csv,
            From::Jsonl => InputKind::Jsonl,
        }),
        delimiter: delim,
    };
    let Rows {
        fields,
        reader,
        spooled_input: _spooled_input,
    } = input.rows(declared, &spool_dir)?;
    let conversion = Conversion::new(fields.clone(), &input.name, &spool_dir);
    match args.write.output_format() {
        OutputFormat::Numpy => {
            let file = conversion.numpy_file(fields, reader, template_uids)?;
            out.deliver(args.output.force, file)
        }
        format @ OutputFormat::Csdat { .. } => {
            let spool = conversion.row_spool(fields, reader, template_uids)?;
            out.write(args.output.force, |mut w| spool.write(format, &mut w))
        }
    }
}
