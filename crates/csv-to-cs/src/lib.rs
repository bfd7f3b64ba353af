//! `csv-to-cs`: CSV (as `cs-to-csv` writes it) or JSON-lines (as `cs-cat` writes it) back into
//! a cryoSPARC `.cs` file, numpy or CSDAT, written atomically.

mod rows;
mod uid_check;

use clap::{Parser, ValueEnum};
use cs_cli::{Failure, Outcome};
use cs_format::container::records::{NumpyRecordFile, RecordBuf, RecordLayout};
use cs_format::container::writer::{EncodedRows, OutputFormat, RowSpool};
use cs_format::limits::{check_row_elements, MAX_PRESET_STRING_WIDTH};
use cs_format::{Dataset, Error, Field, FieldType, Kind, Place};
use rayon::prelude::*;
use rows::{Batch, InputKind, RowReader, Target};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use uid_check::TemplateUids;

/// JSON-lines rows read per batch (a CSV batch is a block of whole records).
const BATCH_ROWS: usize = 8192;

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
        let (fields, template) = template(like, &name)?;
        if !args.new_uids {
            template_uids = Some(TemplateUids::load(template, &name));
        }
        Some(fields)
    } else if let Some(schema) = &args.schema {
        Some(read_schema(schema)?)
    } else {
        None
    };

    let kind = args.from.map(|f| match f {
        From::Csv => InputKind::Csv,
        From::Jsonl => InputKind::Jsonl,
    });
    let open_file = |p: &Path| -> Result<Box<dyn Read + Send>, Failure> {
        if p.is_dir() {
            return Err(Error::in_whole_file("is a directory")
                .in_file(&input_name)
                .into());
        }
        let f =
            std::fs::File::open(p).map_err(|e| Error::io(&e, Place::File).in_file(&input_name))?;
        Ok(Box::new(f))
    };
    let input_path = match args.input.as_deref() {
        None | Some("-") => None,
        Some(p) => Some(PathBuf::from(p)),
    };
    // Where the dtypes are not declared, a header of known fields decides them (string widths
    // follow the data); else they are inferred in a first pass over the input, which is then
    // read again: a stream from the copy made in a temporary file as the first pass reads it.
    let mut _spooled_input = None;
    let (fields, reader) = match declared {
        Some(fields) => {
            let input: Box<dyn Read + Send> = match &input_path {
                Some(p) => open_file(p)?,
                None => Box::new(std::io::stdin()),
            };
            (fields, RowReader::new(input, kind, delim, &input_name)?)
        }
        None => {
            let copying = Arc::new(AtomicBool::new(true));
            let (input, again): (Box<dyn Read + Send>, PathBuf) = match &input_path {
                Some(p) => (open_file(p)?, p.clone()),
                None => {
                    let spool_name = spool_dir.display().to_string();
                    let spool_error =
                        |e: std::io::Error| Error::io(&e, Place::File).in_file(&spool_name);
                    let spool = cs_format::temp::file_in(&spool_dir).map_err(spool_error)?;
                    let tee = TeeReader {
                        inner: std::io::stdin(),
                        copy: spool.as_file().try_clone().map_err(spool_error)?,
                        copying: Arc::clone(&copying),
                    };
                    let again = spool.path().to_path_buf();
                    _spooled_input = Some(spool);
                    (Box::new(tee), again)
                }
            };
            let mut reader = RowReader::new(input, kind, delim, &input_name)?;
            match rows::fields_from_header(&reader)? {
                Some(fields) => {
                    copying.store(false, Ordering::Relaxed);
                    (fields, reader)
                }
                None => {
                    let fields = rows::infer_fields(&mut reader)?;
                    check_inferred(&fields).map_err(|e| e.in_file(&input_name))?;
                    let again = RowReader::new(open_file(&again)?, kind, delim, &input_name)?;
                    (fields, again)
                }
            }
        }
    };
    let target = Target::new(fields.clone());
    let uid_field = target
        .fields()
        .iter()
        .position(|f| f.name == "uid" && f.ty.shape.is_empty() && !f.ty.kind.is_string());
    // With --like, every uid must be one of the template's.
    let uid_of = |record: &[u8]| -> Option<u64> {
        let u = uid_field?;
        cs_format::text::cell::integer_as_u64(
            target.fields()[u].ty.kind,
            cs_format::ByteOrder::Little,
            record,
        )
    };
    let in_input = |e: Error| Failure::from(e.in_file(&input_name));
    // A layout error names a field when the input's strings make records too wide; any other
    // (an I/O error) is the temporary file's, in the output's folder.
    let spool_name = spool_dir.display().to_string();
    let layout_error = |e: Error| match e.place {
        Place::Field(_) => in_input(e),
        _ => Failure::from(e.in_file(&spool_name)),
    };
    match args.write.output_format() {
        // numpy: each row is encoded straight into its record of the output file.
        OutputFormat::Numpy => {
            let widths: Vec<usize> = fields.iter().map(|f| first_width(f.ty.kind)).collect();
            let mut file =
                NumpyRecordFile::new(fields, &widths, &spool_dir).map_err(layout_error)?;
            // The records of one batch are written (and their uids checked) while the next
            // batch is converted.
            let mut unwritten: Vec<RecordBuf> = Vec::new();
            let mut uids = template_uids;
            let check_uids = |uids: &mut Option<TemplateUids>,
                              layout: &RecordLayout,
                              records: &[RecordBuf]|
             -> Result<(), Error> {
                let (Some(check), Some(u)) = (uids, uid_field) else {
                    return Ok(());
                };
                let at = layout.offset(u)..layout.offset(u) + target.fields()[u].ty.kind.size();
                for r in records {
                    check.check(r.records(layout).filter_map(|(line, record)| {
                        Some((line, uid_of(record.get(at.clone())?)?))
                    }))?;
                }
                Ok(())
            };
            let converted = for_each_batch(reader, &target, |batch| loop {
                let layout = file.layout().clone();
                let previous = std::mem::take(&mut unwritten);
                let (written, pieces) = rayon::join(
                    || -> Outcome {
                        check_uids(&mut uids, &layout, &previous).map_err(in_input)?;
                        for r in &previous {
                            file.append(r)?;
                        }
                        Ok(())
                    },
                    || -> Vec<Result<Option<RecordBuf>, Error>> {
                        (0..batch.pieces())
                            .into_par_iter()
                            .map(|k| target.records_of_piece(batch, k, &layout))
                            .collect()
                    },
                );
                written?;
                for piece in pieces {
                    match piece.map_err(in_input)? {
                        Some(r) => unwritten.push(r),
                        None => break, // a string longer than its width so far
                    }
                }
                if unwritten.len() == batch.pieces() {
                    return Ok(());
                }
                unwritten.clear();
                let longest = (0..batch.pieces())
                    .into_par_iter()
                    .map(|k| target.longest_strings(batch, k))
                    .try_reduce(Vec::new, |a, b| Ok(elementwise_max(a, b)))
                    .map_err(in_input)?;
                file.widen(&longest).map_err(layout_error)?;
            });
            // Rows converted before an error are checked first: an unknown uid early in the
            // input is reported before a later error.
            check_uids(&mut uids, file.layout(), &unwritten).map_err(in_input)?;
            if let Some(check) = &mut uids {
                check.finish().map_err(in_input)?;
            }
            converted?;
            for r in &unwritten {
                file.append(r)?;
            }
            out.deliver(args.output.force, file.finish().map_err(layout_error)?)
        }
        // CSDAT is column-major: rows are spooled, then written column by column.
        format @ OutputFormat::Csdat { .. } => {
            let mut spool = RowSpool::new(fields, &spool_dir)
                .map_err(|e| e.in_file(&spool_dir.display().to_string()))?;
            let n_fields = target.fields().len();
            let mut uids = template_uids;
            if let Some(check) = &mut uids {
                check.finish().map_err(in_input)?;
            }
            for_each_batch(reader, &target, |batch| {
                let pieces: Vec<Result<(EncodedRows, LinesAndUids), Error>> = (0..batch.pieces())
                    .into_par_iter()
                    .map(|k| {
                        let mut enc = EncodedRows::new(n_fields);
                        let mut lines_and_uids = Vec::new();
                        target.convert_piece(batch, k, &mut |line, cells| {
                            enc.push(target.fields(), cells);
                            if let Some(uid) = uid_field.and_then(|u| uid_of(&cells[u])) {
                                lines_and_uids.push((line, uid));
                            }
                            Ok(())
                        })?;
                        Ok((enc, lines_and_uids))
                    })
                    .collect();
                for piece in pieces {
                    let (rows, lines_and_uids) = piece.map_err(in_input)?;
                    if let Some(check) = &mut uids {
                        check.check(lines_and_uids.into_iter()).map_err(in_input)?;
                    }
                    spool.push_encoded(&rows)?;
                }
                Ok(())
            })?;
            out.write(args.output.force, |mut w| spool.write(format, &mut w))
        }
    }
}

/// Fields inferred from a header row or from JSON arrays: shapes within cryosparc-tools'
/// limits, sizes that fit 64 bits, and elements per row within
/// [`MAX_ROW_ELEMENTS`](cs_format::limits::MAX_ROW_ELEMENTS). The error names the field.
fn check_inferred(fields: &[Field]) -> Result<(), Error> {
    for f in fields {
        FieldType::checked(f.ty.kind, f.ty.order, f.ty.shape.clone())
            .map_err(|what| Error::new(Place::Field(f.name.clone()), what))?;
    }
    check_row_elements(fields)
}

/// The (line, uid) of each row of a piece.
type LinesAndUids = Vec<(u64, u64)>;

/// The width a string field is first laid out with: its declared `|S` width (a template's is
/// usually exact) up to [`MAX_PRESET_STRING_WIDTH`], else 1 (the first rows widen it).
fn first_width(kind: Kind) -> usize {
    let declared = match kind {
        Kind::Bytes(n) => n,
        Kind::Ucs4(n) => n.saturating_add(1),
        _ => 1,
    };
    declared.min(MAX_PRESET_STRING_WIDTH)
}

fn elementwise_max(mut a: Vec<usize>, b: Vec<usize>) -> Vec<usize> {
    if a.len() < b.len() {
        a.resize(b.len(), 0);
    }
    for (x, y) in a.iter_mut().zip(b) {
        *x = (*x).max(y);
    }
    a
}

/// Read the input in batches on one thread while `convert` handles the previous batch on
/// this one (in parallel pieces); batches come in input order, so the first error in the input
/// wins.
fn for_each_batch(
    mut reader: RowReader,
    target: &Target,
    mut convert: impl FnMut(&Batch) -> Outcome,
) -> Outcome {
    std::thread::scope(|scope| -> Outcome {
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Batch>(1);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Batch>();
        let read = scope.spawn(move || -> Outcome {
            loop {
                let mut batch = empty_rx.try_recv().unwrap_or_default();
                if reader.read_batch(target, BATCH_ROWS, &mut batch)? == 0 {
                    return Ok(());
                }
                if full_tx.send(batch).is_err() {
                    return Ok(()); // the converter stopped on an error
                }
            }
        });
        let converted = (|| -> Outcome {
            for batch in full_rx {
                convert(&batch)?;
                let _ = empty_tx.send(batch);
            }
            Ok(())
        })();
        let read_result = read
            .join()
            .unwrap_or_else(|_| Err(Failure::Usage("the input reader thread failed".into())));
        converted?;
        read_result
    })
}

/// The template's fields (numbers little-endian), and the template opened.
fn template(path: &Path, name: &str) -> Result<(Vec<Field>, Dataset), Failure> {
    let ds = Dataset::open(path, name).map_err(cs_cli::hints::explain_cs_file(path))?;
    check_row_elements(&ds.schema().fields).map_err(|e| e.in_file(name))?;
    let fields: Vec<Field> = ds
        .schema()
        .fields
        .iter()
        .map(|f| Field {
            name: f.name.clone(),
            ty: FieldType {
                kind: f.ty.kind,
                order: cs_format::ByteOrder::Little,
                shape: f.ty.shape.clone(),
            },
        })
        .collect();
    Ok((fields, ds))
}

fn read_schema(path: &Path) -> Result<Vec<Field>, Failure> {
    let name = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io(&e, Place::File).in_file(&name))?;
    let mut fields = Vec::new();
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let place = Place::Line(i as u64 + 1);
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| Error::new(place.clone(), format!("not JSON: {e}")).in_file(&name))?;
        let f = Field::from_schema_json(&v).map_err(|e| Error::new(place, e).in_file(&name))?;
        fields.push(f);
        lines.push(i as u64 + 1);
    }
    if fields.is_empty() {
        return Err(Error::in_whole_file("the schema lists no fields")
            .in_file(&name)
            .into());
    }
    // The schema's lines are few; the columns its shapes would lay out must be too.
    check_row_elements(&fields).map_err(|mut e| {
        if let Place::Field(field) = &e.place {
            let at = fields.iter().position(|f| &f.name == field);
            let line = at.map_or(0, |i| lines[i]);
            e.place = Place::LineField {
                line,
                field: field.clone(),
            };
        }
        e.in_file(&name)
    })?;
    Ok(fields)
}

/// A stream that also writes what is read from it to `copy` while `copying` holds.
struct TeeReader<R> {
    inner: R,
    copy: std::fs::File,
    copying: Arc<AtomicBool>,
}

impl<R: Read> Read for TeeReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.copying.load(Ordering::Relaxed) {
            self.copy.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}
