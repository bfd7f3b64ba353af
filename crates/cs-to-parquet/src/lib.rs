//! `cs-to-parquet`: a `.cs` file (or a job's output) as Parquet or an Arrow IPC stream, one
//! record batch per chunk, so memory stays flat.

use arrow_array::builder::StringBuilder;
use arrow_array::{
    ArrayRef, FixedSizeListArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array,
    Int8Array, RecordBatch, UInt16Array, UInt32Array, UInt64Array, UInt8Array,
};
use arrow_schema::{DataType, Field as ArrowField, Schema as ArrowSchema};
use clap::{Parser, ValueEnum};
use cs_cli::{GroupChoice, InputPath, Outcome, OutputFile};
use cs_format::text::cell::{decode_number, Scalar};
use cs_format::{Chunk, Error, Field, Kind, Place};
use rayon::prelude::*;
use std::io::Write;
use std::sync::Arc;

/// Column compression of Parquet output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Codec {
    /// Snappy (what pyarrow writes by default).
    Snappy,
    /// Zstandard.
    Zstd,
    /// None.
    None,
}

/// Write a .cs file (or a job's output) as Parquet or an Arrow IPC stream.
#[derive(Debug, Parser)]
#[command(
    name = "cs-to-parquet",
    version,
    mut_arg("output", |a| a.help("The file to write (default: standard output, refused when it is \
        a terminal); a device or FIFO is written in place")),
    about = "Write cryoSPARC .cs data (or a job's output) as Parquet or an Arrow IPC stream",
    long_about = "Write a .cs file, or a job folder's output group (--group NAME), as Parquet (default) \
or, with --arrow, an Arrow IPC stream, for DuckDB, polars, pandas and pyarrow.\n\n\
Types: integers and floats keep their width and signedness (u64 uids exact); strings are UTF-8 \
(Parquet dictionary-encodes them where it pays); complex numbers are fixed-size lists [re, im]; \
subarrays are fixed-size lists, nested for 2-D and 3-D, in C order. No value is null.\n\n\
One record batch (one Parquet row group) per chunk of about 4 MB of records: memory stays flat.",
    after_help = "Examples:\n  cs-to-parquet J8/J8_004_particles.cs -o particles.parquet\n  \
cs-to-parquet J8 --group particles -o particles.parquet\n  \
duckdb -c \"select count(*) from 'particles.parquet' where \\\"ctf/df1_A\\\" > 15000\"\n  \
cs-to-parquet --arrow particles.cs -o - | python3 -c 'import pyarrow as pa, sys; print(pa.ipc.open_stream(sys.stdin.buffer).read_all().num_rows)'\n\n\
Exit status: 0 on success, 1 on bad data or an I/O error (no output file is left), 2 on bad usage."
)]
pub struct Args {
    /// The .cs file or job folder ("-" or none: a .cs on standard input).
    #[arg(value_name = "FILE")]
    pub file: Option<String>,

    /// --group/--group-version: read a job folder's output group.
    #[command(flatten)]
    pub group: GroupChoice,

    /// -f/--fields.
    #[command(flatten)]
    pub fields: cs_cli::FieldChoice,

    /// Write an Arrow IPC stream instead of Parquet.
    #[arg(long)]
    pub arrow: bool,

    /// Parquet column compression (the word csv-to-cs and cs-join use for theirs).
    #[arg(long, value_enum, default_value = "snappy", value_name = "CODEC")]
    pub compress: Codec,

    /// -o/--output FILE (default: standard output, refused when it is a terminal); --force.
    #[command(flatten)]
    pub output: OutputFile,
}

/// The Arrow type of one element of a field (complex: a pair).
fn element_type(kind: Kind) -> DataType {
    match kind {
        Kind::I8 => DataType::Int8,
        Kind::I16 => DataType::Int16,
        Kind::I32 => DataType::Int32,
        Kind::I64 => DataType::Int64,
        Kind::U8 => DataType::UInt8,
        Kind::U16 => DataType::UInt16,
        Kind::U32 => DataType::UInt32,
        Kind::U64 => DataType::UInt64,
        Kind::F32 => DataType::Float32,
        Kind::F64 => DataType::Float64,
        Kind::C64 => pair(DataType::Float32),
        Kind::C128 => pair(DataType::Float64),
        Kind::Bytes(_) | Kind::Ucs4(_) | Kind::HeapStr => DataType::Utf8,
    }
}

fn item(dt: DataType) -> Arc<ArrowField> {
    Arc::new(ArrowField::new("item", dt, false))
}

fn pair(dt: DataType) -> DataType {
    DataType::FixedSizeList(item(dt), 2)
}

/// The Arrow type of a field: its element type in fixed-size lists, outermost dimension first.
fn field_type(f: &Field) -> DataType {
    f.ty.shape
        .iter()
        .rev()
        .fold(element_type(f.ty.kind), |dt, &n| {
            DataType::FixedSizeList(item(dt), n as i32)
        })
}

fn arrow_err(e: impl std::fmt::Display) -> Error {
    Error::in_whole_file(format!("cannot build the Arrow data: {e}"))
}

/// The flat values of one column of a chunk (every element of every row, C order).
fn leaf_values(chunk: &Chunk, col: usize, f: &Field) -> cs_format::Result<ArrayRef> {
    let (kind, order) = (f.ty.kind, f.ty.order);
    let n = f.ty.count();
    let esize = kind.size();
    macro_rules! numbers {
        ($array:ty, $variant:ident, $t:ty) => {{
            let mut v: Vec<$t> = Vec::with_capacity(chunk.rows * n);
            for row in 0..chunk.rows {
                for e in chunk.raw(row, col).chunks_exact(esize) {
                    if let Scalar::$variant(x) = decode_number(kind, order, e) {
                        v.push(x as $t);
                    }
                }
            }
            Arc::new(<$array>::from(v)) as ArrayRef
        }};
    }
    Ok(match kind {
        Kind::I8 => numbers!(Int8Array, Int, i8),
        Kind::I16 => numbers!(Int16Array, Int, i16),
        Kind::I32 => numbers!(Int32Array, Int, i32),
        Kind::I64 => numbers!(Int64Array, Int, i64),
        Kind::U8 => numbers!(UInt8Array, UInt, u8),
        Kind::U16 => numbers!(UInt16Array, UInt, u16),
        Kind::U32 => numbers!(UInt32Array, UInt, u32),
        Kind::U64 => numbers!(UInt64Array, UInt, u64),
        Kind::F32 => numbers!(Float32Array, F32, f32),
        Kind::F64 => numbers!(Float64Array, F64, f64),
        Kind::C64 | Kind::C128 => {
            let mut re_im32 = Vec::new();
            let mut re_im64 = Vec::new();
            for row in 0..chunk.rows {
                for e in chunk.raw(row, col).chunks_exact(esize) {
                    match decode_number(kind, order, e) {
                        Scalar::C64(a, b) => re_im32.extend([a, b]),
                        Scalar::C128(a, b) => re_im64.extend([a, b]),
                        _ => {}
                    }
                }
            }
            let (values, dt): (ArrayRef, DataType) = if kind == Kind::C64 {
                (Arc::new(Float32Array::from(re_im32)), DataType::Float32)
            } else {
                (Arc::new(Float64Array::from(re_im64)), DataType::Float64)
            };
            Arc::new(FixedSizeListArray::try_new(item(dt), 2, values, None).map_err(arrow_err)?)
        }
        Kind::Bytes(_) | Kind::Ucs4(_) | Kind::HeapStr => {
            let mut b = StringBuilder::with_capacity(chunk.rows * n, chunk.rows * n * 16);
            for row in 0..chunk.rows {
                for i in 0..n {
                    match chunk.scalar(row, col, i)? {
                        Scalar::Str(s) => b.append_value(s),
                        _ => b.append_value(""),
                    }
                }
            }
            Arc::new(b.finish())
        }
    })
}

/// One column of a chunk as an Arrow array of the field's type.
fn column(chunk: &Chunk, col: usize, f: &Field) -> cs_format::Result<ArrayRef> {
    let mut array = leaf_values(chunk, col, f)?;
    let mut dt = element_type(f.ty.kind);
    for &n in f.ty.shape.iter().rev() {
        array = Arc::new(
            FixedSizeListArray::try_new(item(dt.clone()), n as i32, array, None)
                .map_err(arrow_err)?,
        );
        dt = DataType::FixedSizeList(item(dt), n as i32);
    }
    Ok(array)
}

/// Something record batches are written to.
trait BatchSink {
    fn write_batch(&mut self, batch: &RecordBatch) -> cs_format::Result<()>;
    fn finish(self: Box<Self>) -> cs_format::Result<()>;
}

struct ParquetSink<W: Write + Send>(parquet::arrow::ArrowWriter<W>);

impl<W: Write + Send> BatchSink for ParquetSink<W> {
    fn write_batch(&mut self, batch: &RecordBatch) -> cs_format::Result<()> {
        self.0.write(batch).map_err(write_err)
    }
    fn finish(self: Box<Self>) -> cs_format::Result<()> {
        self.0.close().map(|_| ()).map_err(write_err)
    }
}

struct ArrowSink<W: Write>(arrow_ipc::writer::StreamWriter<W>);

impl<W: Write> BatchSink for ArrowSink<W> {
    fn write_batch(&mut self, batch: &RecordBatch) -> cs_format::Result<()> {
        self.0.write(batch).map_err(write_err)
    }
    fn finish(mut self: Box<Self>) -> cs_format::Result<()> {
        self.0.finish().map_err(write_err)
    }
}

/// An Arrow or Parquet writer's error, spelled as an I/O error is ("External: " and Rust's
/// "(os error N)" left out).
fn write_err(e: impl std::fmt::Display) -> Error {
    let text = e.to_string();
    let text = text.strip_prefix("External: ").unwrap_or(&text);
    let text = text.find(" (os error").map_or(text, |i| &text[..i]);
    let mut err = Error::new(Place::File, format!("cannot write: {text}"));
    err.broken_pipe = text.contains("Broken pipe");
    err
}

/// Run `cs-to-parquet` with parsed arguments.
pub fn run(args: Args) -> Outcome {
    let input = InputPath::from_arg(args.file.as_deref().unwrap_or("-"));
    args.group
        .refuse_group_as_output(std::slice::from_ref(&input), &args.output)?;
    let out = args.output.binary()?;
    let rows = input
        .open_with(&args.group)
        .map_err(cs_cli::hints::explain_cs_input(&input))?
        .select(&args.fields.fields)?;
    let name = rows.name().to_string();
    let schema = Arc::new(ArrowSchema::new(
        rows.fields()
            .iter()
            .map(|f| ArrowField::new(&f.name, field_type(f), false))
            .collect::<Vec<_>>(),
    ));
    let compression = match args.compress {
        Codec::Snappy => parquet::basic::Compression::SNAPPY,
        Codec::Zstd => parquet::basic::Compression::ZSTD(Default::default()),
        Codec::None => parquet::basic::Compression::UNCOMPRESSED,
    };
    let arrow = args.arrow;
    let convert = |w: Box<dyn WriteSend + '_>| -> cs_format::Result<()> {
        let mut sink: Box<dyn BatchSink + '_> = if arrow {
            Box::new(ArrowSink(
                arrow_ipc::writer::StreamWriter::try_new(w, &schema).map_err(write_err)?,
            ))
        } else {
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(compression)
                .build();
            Box::new(ParquetSink(
                parquet::arrow::ArrowWriter::try_new(w, schema.clone(), Some(props))
                    .map_err(write_err)?,
            ))
        };
        // One thread reads chunks and builds their arrays while this one encodes the previous
        // batch; at most two batches wait.
        let mut chunks = rows.chunks(cs_format::CHUNK_BYTES)?;
        std::thread::scope(|scope| -> cs_format::Result<()> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<cs_format::Result<RecordBatch>>(2);
            let schema = schema.clone();
            scope.spawn(move || {
                let fields = chunks.fields().clone();
                while let Some(chunk) = chunks.next_chunk() {
                    let batch = chunk.and_then(|chunk| {
                        let columns = fields
                            .par_iter()
                            .enumerate()
                            .map(|(i, f)| column(&chunk, i, f))
                            .collect::<cs_format::Result<Vec<_>>>()?;
                        chunks.recycle(chunk);
                        RecordBatch::try_new(schema.clone(), columns).map_err(arrow_err)
                    });
                    let failed = batch.is_err();
                    if tx.send(batch).is_err() || failed {
                        return;
                    }
                }
            });
            for batch in rx {
                sink.write_batch(&batch.map_err(|e| e.in_file(&name))?)?;
            }
            Ok(())
        })?;
        sink.finish()
    };
    out.write(args.output.force, |w| convert(Box::new(w)))
}

/// A writer that can move between threads (the Parquet writer asks for it).
trait WriteSend: Write + Send {}
impl<T: Write + Send> WriteSend for T {}
