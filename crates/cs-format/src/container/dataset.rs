//! Opening a `.cs` file of either container and streaming its rows in chunks.

use crate::container::csdat::{self, Codec, ColumnExtent, CsdatHeader};
use crate::container::dtype::{Field, Schema};
use crate::container::input::Input;
use crate::container::numpy::{self, NumpyHeader};
use crate::error::{Error, Place, Result};
use crate::text::cell::{self, Scalar};
use serde_json::{json, Value};
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// Bytes of stored records read per chunk: large enough to amortise a read and to keep every
/// thread of the text engine busy, small enough to stay in cache-sized pieces.
pub const CHUNK_BYTES: usize = 4 << 20;

/// Which container a `.cs` file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// numpy `.npy` (what `Dataset.save` writes by default).
    Numpy,
    /// `\x95CSDAT` (cryosparc-tools ≥ 4.4).
    Csdat,
    /// `\x94CSDAT` (cryosparc-tools 4.1–4.3).
    CsdatLegacy,
}

impl Container {
    /// Short name used in `--info` output.
    pub fn name(self) -> &'static str {
        match self {
            Container::Numpy => "numpy",
            Container::Csdat => "csdat",
            Container::CsdatLegacy => "csdat-legacy",
        }
    }
}

enum Layout {
    Numpy(NumpyHeader),
    Csdat(CsdatHeader),
}

/// An opened `.cs` dataset: header parsed, data not yet read.
pub struct Dataset {
    name: String,
    /// Decoded CSDAT bytes above which columns are read chunk by chunk (see [`Dataset::set_spill_bytes`]).
    spill_bytes: u64,
    input: Input,
    schema: Schema,
    /// For each field of `schema`, its index in stored order.
    stored_index: Vec<usize>,
    layout: Layout,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset")
            .field("name", &self.name)
            .field("rows", &self.rows())
            .finish()
    }
}

impl Dataset {
    /// Open a regular file and read its header. `name` is how errors refer to it. Anything else
    /// (a FIFO, a device, a socket, a folder) is refused before it is opened, so that nothing
    /// waits on a FIFO that no one writes.
    pub fn open(path: &Path, name: &str) -> Result<Self> {
        let err = |e: &std::io::Error| Error::io(e, Place::File).in_file(name);
        let refuse = |meta: &std::fs::Metadata| match not_regular(meta) {
            Some(what) => Err(Error::in_whole_file(what).in_file(name)),
            None => Ok(()),
        };
        refuse(&std::fs::metadata(path).map_err(|e| err(&e))?)?;
        let file = File::open(path).map_err(|e| err(&e))?;
        // Checked again on what was opened: the path may have changed in between.
        let meta = file.metadata().map_err(|e| err(&e))?;
        refuse(&meta)?;
        Self::from_input(Input::file(file, meta.len()), name).map_err(|e| e.in_file(name))
    }

    /// A dataset known by its first bytes (`head`) and its length `len` only, as a file inside
    /// an archive is: its header and row count, checked as [`Dataset::open`] checks them.
    /// Reading rows past `head` fails.
    pub fn from_head(head: Vec<u8>, len: u64, name: &str) -> Result<Self> {
        Self::from_input(Input::head(head, len), name).map_err(|e| e.in_file(name))
    }

    /// Read an open file from its start (a spooled copy of standard input, a temporary
    /// join). `name` is how errors refer to it.
    pub fn from_file(file: File, name: &str) -> Result<Self> {
        let len = file
            .metadata()
            .map_err(|e| Error::io(&e, Place::File).in_file(name))?
            .len();
        Self::from_input(Input::file(file, len), name).map_err(|e| e.in_file(name))
    }

    /// The same dataset again, to be read from its first row: for a tool that reads its input
    /// twice. Standard input can be read once: spool it to a file first.
    pub fn reopen(&self) -> Result<Self> {
        let input = self
            .input
            .reopen()
            .ok_or_else(|| {
                Error::in_whole_file("is a stream, which can be read once (internal error)")
            })?
            .map_err(|e| Error::io(&e, Place::File))
            .map_err(|e| e.in_file(&self.name))?;
        let mut again = Self::from_input(input, &self.name).map_err(|e| e.in_file(&self.name))?;
        again.spill_bytes = self.spill_bytes;
        Ok(again)
    }

    /// Read a dataset arriving on a stream (stdin). NUMPY data is streamed; a CSDAT stream is
    /// read into memory (its string heap comes last).
    pub fn from_reader(reader: Box<dyn Read + Send>, name: &str) -> Result<Self> {
        let mut input = Input::stream(reader);
        let mut magic = [0u8; 6];
        let got = input.read_upto(&mut magic).map_err(|e| e.in_file(name))?;
        if got == 6 && (&magic == csdat::MAGIC || &magic == csdat::LEGACY_MAGIC) {
            let mut all = magic.to_vec();
            all.extend(input.read_rest().map_err(|e| e.in_file(name))?);
            return Self::from_input(Input::memory(all, 0), name).map_err(|e| e.in_file(name));
        }
        Self::with_magic(input, &magic[..got], name).map_err(|e| e.in_file(name))
    }

    fn from_input(mut input: Input, name: &str) -> Result<Self> {
        let mut magic = [0u8; 6];
        let got = input.read_upto(&mut magic)?;
        Self::with_magic(input, &magic[..got], name)
    }

    fn with_magic(mut input: Input, magic: &[u8], name: &str) -> Result<Self> {
        if magic.is_empty() {
            return Err(Error::at_byte(0, "empty file, not a .cs file"));
        }
        let layout = if magic == numpy::MAGIC {
            let h = numpy::read_header(&mut input)?;
            check_numpy_rows(&h, input.len())?;
            Layout::Numpy(h)
        } else if magic == csdat::MAGIC || magic == csdat::LEGACY_MAGIC {
            Layout::Csdat(csdat::read_header(
                &mut input,
                magic == csdat::LEGACY_MAGIC,
            )?)
        } else {
            return Err(Error::at_byte(0, bad_magic(magic)));
        };
        let stored: &[Field] = match &layout {
            Layout::Numpy(h) => &h.fields,
            Layout::Csdat(h) => &h.fields,
        };
        // cryosparc-tools always puts `uid` first.
        let mut stored_index: Vec<usize> = (0..stored.len()).collect();
        if let Some(u) = stored.iter().position(|f| f.name == "uid") {
            stored_index.remove(u);
            stored_index.insert(0, u);
        }
        let schema = Schema {
            fields: stored_index.iter().map(|&i| stored[i].clone()).collect(),
        };
        Ok(Dataset {
            name: name.to_string(),
            spill_bytes: SPILL_BYTES,
            input,
            schema,
            stored_index,
            layout,
        })
    }

    /// Above this many decoded bytes of selected CSDAT columns, read them chunk by chunk from
    /// the file or from temporary files instead of decoding them into memory (default 64 MB).
    pub fn set_spill_bytes(&mut self, bytes: u64) {
        self.spill_bytes = bytes;
    }

    /// How errors refer to this dataset.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The fields, `uid` first, then in stored order.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Number of rows the header declares.
    pub fn rows(&self) -> u64 {
        match &self.layout {
            Layout::Numpy(h) => h.rows,
            Layout::Csdat(h) => h.rows,
        }
    }

    /// The container.
    pub fn container(&self) -> Container {
        match &self.layout {
            Layout::Numpy(_) => Container::Numpy,
            Layout::Csdat(h) if h.legacy => Container::CsdatLegacy,
            Layout::Csdat(_) => Container::Csdat,
        }
    }

    /// Call `f` with every uid, in row order. Returns false (and reads nothing) when the
    /// dataset has no integer `uid` field.
    pub fn for_each_uid(self, mut f: impl FnMut(u64)) -> Result<bool> {
        let Some(u) = self.schema.index_of("uid") else {
            return Ok(false);
        };
        let ty = self.schema.fields[u].ty.clone();
        if !ty.shape.is_empty() || ty.kind.is_string() {
            return Ok(false);
        }
        let mut chunks = self.chunks(&[u], CHUNK_BYTES)?;
        while let Some(chunk) = chunks.next() {
            let chunk = chunk?;
            for row in 0..chunk.rows {
                if let Some(v) = cell::integer_as_u64(ty.kind, ty.order, chunk.raw(row, 0)) {
                    f(v);
                }
            }
            chunks.recycle(chunk);
        }
        Ok(true)
    }

    /// Call `f` with every value of every string field named `…/path` (the data files a
    /// metafile names: `blob/path`, `movie_blob/path`, `map/path`, …), in row order.
    pub fn for_each_path(self, mut f: impl FnMut(&str)) -> Result<()> {
        let select: Vec<usize> = (0..self.schema.fields.len())
            .filter(|&i| self.schema.fields[i].names_data_files())
            .collect();
        if select.is_empty() {
            return Ok(());
        }
        let mut chunks = self.chunks(&select, CHUNK_BYTES)?;
        while let Some(chunk) = chunks.next() {
            let chunk = chunk?;
            for row in 0..chunk.rows {
                for col in 0..select.len() {
                    for i in 0..chunk.fields()[col].ty.count() {
                        if let Scalar::Str(s) = chunk.scalar(row, col, i)? {
                            f(&s);
                        }
                    }
                }
            }
            chunks.recycle(chunk);
        }
        Ok(())
    }

    /// A description of the container as one JSON object. For CSDAT files this walks the
    /// column size prefixes (seeks only) to find the string heap; it never reads column data.
    pub fn info(&mut self) -> Result<Value> {
        let name = self.name.clone();
        self.info_inner().map_err(|e| e.in_file(&name))
    }

    fn info_inner(&mut self) -> Result<Value> {
        let rows = self.rows();
        let file_bytes = self.input.len();
        let fields = self.schema.fields.len();
        match &self.layout {
            Layout::Numpy(h) => Ok(json!({
                "file": self.name,
                "format": "numpy",
                "version": format!("{}.{}", h.version.0, h.version.1),
                "header_bytes": h.header_len,
                "data_offset": h.data_offset,
                "rows": rows,
                "row_bytes": h.itemsize,
                "fields": fields,
                "fortran_order": h.fortran_order,
                "compression": null,
                "compressed_fields": 0,
                "file_bytes": file_bytes,
            })),
            Layout::Csdat(h) => {
                let h = h.clone();
                let mut heap = Value::Null;
                if self.input.is_seekable() {
                    self.input.seek_to(h.data_offset)?;
                    let heap_offset =
                        csdat::walk_columns(&mut self.input, &h, |_, _, _| Ok(false))?;
                    heap = json!({
                        "offset": heap_offset,
                        "bytes": file_bytes.map(|l| l.saturating_sub(heap_offset)),
                    });
                }
                Ok(json!({
                    "file": self.name,
                    "format": self.container().name(),
                    "version": null,
                    "header_bytes": h.header_len,
                    "data_offset": h.data_offset,
                    "rows": rows,
                    "row_bytes": h.fields.iter().map(|f| f.ty.size()).sum::<usize>(),
                    "fields": fields,
                    "compression": h.compression,
                    "compressed_fields": h.codecs.iter().filter(|c| **c != Codec::None).count(),
                    "file_bytes": file_bytes,
                    "heap": heap,
                }))
            }
        }
    }

    /// Stream the rows of the fields at `select` (indices into [`Dataset::schema`]) in chunks of
    /// about `chunk_bytes` of stored data. Tools choose fields with [`Dataset::select`] and read
    /// the [`Projection`](crate::Projection)'s chunks.
    pub(crate) fn chunks(self, select: &[usize], chunk_bytes: usize) -> Result<Chunks> {
        let name = self.name.clone();
        self.chunks_inner(select, chunk_bytes)
            .map_err(|e| e.in_file(&name))
    }

    fn chunks_inner(mut self, select: &[usize], chunk_bytes: usize) -> Result<Chunks> {
        let fields: Arc<[Field]> = select
            .iter()
            .map(|&i| self.schema.fields[i].clone())
            .collect();
        let stored: Vec<usize> = select.iter().map(|&i| self.stored_index[i]).collect();
        let rows = self.rows();
        let source = match &self.layout {
            Layout::Numpy(h) => {
                let offsets = stored.iter().map(|&i| h.offsets[i]).collect();
                ChunkSource::Records {
                    itemsize: h.itemsize,
                    offsets,
                    data_offset: h.data_offset,
                }
            }
            Layout::Csdat(h) => {
                let h = h.clone();
                let (columns, heap) = load_columns(&mut self.input, &h, &stored, self.spill_bytes)?;
                ChunkSource::Columns { columns, heap }
            }
        };
        let row_bytes = match &source {
            ChunkSource::Records { itemsize, .. } => *itemsize,
            ChunkSource::Columns { .. } => fields.iter().map(|f| f.ty.size()).sum(),
        };
        let rows_per_chunk = (chunk_bytes / row_bytes.max(1)).max(1);
        Ok(Chunks {
            name: self.name.into(),
            input: self.input,
            fields,
            source,
            rows,
            next_row: 0,
            rows_per_chunk,
            spare: None,
        })
    }
}

/// What is wrong with reading a `.cs` file from something that is not a regular file
/// (`is a FIFO (named pipe), not a regular file`), or None for a regular file.
pub fn not_regular(meta: &std::fs::Metadata) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let kind = if t.is_file() {
        return None;
    } else if t.is_dir() {
        return Some("is a directory, not a .cs file".into());
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "a special file"
    };
    Some(format!("is {kind}, not a regular file"))
}

/// The rows a numpy header declares must have bytes behind them: their total size must fit
/// 64 bits and, when the input's length is known, lie within it; rows of 0 bytes (which no byte
/// of any file could show) are refused, and so are rows wider than
/// [`MAX_RECORD_BYTES`](crate::limits::MAX_RECORD_BYTES) (a 0-row file's header still reads).
fn check_numpy_rows(h: &NumpyHeader, len: Option<u64>) -> Result<()> {
    let at = |what: String| Err(Error::at_byte(h.data_offset, what));
    if h.rows > 0 && h.itemsize == 0 {
        return at(format!(
            "header declares {} rows of 0 bytes: a row count that no byte of the file stands behind",
            h.rows
        ));
    }
    let Some(need) = h.rows.checked_mul(h.itemsize as u64) else {
        return at(format!(
            "header declares {} rows of {} bytes: their size overflows 64 bits",
            h.rows, h.itemsize
        ));
    };
    let have = len.map(|len| len.saturating_sub(h.data_offset));
    if let Some(have) = have.filter(|&have| need > have) {
        return at(format!(
            "header declares {} rows of {} bytes ({need} bytes), but the file holds {have} bytes of data: truncated inside row {}",
            h.rows,
            h.itemsize,
            have / (h.itemsize.max(1) as u64)
        ));
    }
    if h.rows > 0 {
        crate::limits::check_record_bytes(&h.fields)?;
    }
    Ok(())
}

fn bad_magic(magic: &[u8]) -> String {
    if magic.starts_with(b"versio") {
        return "not a .cs file: this looks like a Git LFS pointer (run `git lfs pull`)".into();
    }
    let hex: Vec<String> = magic.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "not a .cs file: starts with {} (expected \\x93NUMPY or \\x95CSDAT)",
        hex.join(" ")
    )
}

/// Where one selected CSDAT column's decoded bytes are.
enum ColumnData {
    /// Decoded, in memory.
    Memory(Arc<Vec<u8>>),
    /// Stored uncompressed in the input at this offset: read chunk by chunk.
    At(u64),
    /// Decoded into a temporary file (large files): read chunk by chunk.
    Spilled(std::fs::File),
}

/// Above this many decoded bytes of selected columns, compressed columns are decoded one at a
/// time into temporary files instead of memory, so that memory stays bounded by one column.
const SPILL_BYTES: u64 = 64 << 20;

/// Decoded columns (in selection order) and the string heap when one is needed.
type LoadedColumns = (Vec<ColumnData>, Option<Arc<Vec<u8>>>);

/// Prepare the selected columns of a CSDAT file and, if any is a string column, load the heap.
fn load_columns(
    input: &mut Input,
    h: &CsdatHeader,
    stored: &[usize],
    spill_bytes: u64,
) -> Result<LoadedColumns> {
    let total: u64 = stored
        .iter()
        .map(|&i| h.rows.saturating_mul(h.fields[i].ty.size() as u64))
        .fold(0u64, u64::saturating_add);
    let spill = total > spill_bytes;
    let seekable = input.is_seekable();
    let mut wanted: Vec<Option<ColumnData>> = (0..h.fields.len()).map(|_| None).collect();
    input.seek_to(h.data_offset)?;
    let keep = |i: usize, input: &mut Input, ext: ColumnExtent| -> Result<bool> {
        if !stored.contains(&i) {
            return Ok(false);
        }
        let field = &h.fields[i];
        if h.codecs[i] == Codec::None && seekable && spill {
            csdat::check_stored_size(field, h.rows, ext.stored, ext.offset - 4)?;
            wanted[i] = Some(ColumnData::At(ext.offset));
            return Ok(false);
        }
        let payload = input.read_vec(ext.stored, &format!("column '{}'", field.name))?;
        let data = csdat::decode_column(payload, h.codecs[i], field, h.rows, ext.offset - 4)?;
        wanted[i] = Some(if spill {
            let mut f = tempfile::tempfile().map_err(|e| Error::io(&e, Place::File))?;
            std::io::Write::write_all(&mut f, &data).map_err(|e| Error::io(&e, Place::File))?;
            ColumnData::Spilled(f)
        } else {
            ColumnData::Memory(Arc::new(data))
        });
        Ok(true)
    };
    let heap_offset = csdat::walk_columns(input, h, keep)?;
    let needs_heap = stored
        .iter()
        .any(|&i| h.fields[i].ty.kind == crate::container::dtype::Kind::HeapStr);
    let heap = if needs_heap && h.rows > 0 {
        input.seek_to(heap_offset)?;
        Some(Arc::new(input.read_rest()?))
    } else {
        None
    };
    let columns = stored
        .iter()
        .map(|&i| {
            wanted[i]
                .take()
                .unwrap_or_else(|| ColumnData::Memory(Arc::new(Vec::new())))
        })
        .collect();
    Ok((columns, heap))
}

enum ChunkSource {
    Records {
        itemsize: usize,
        offsets: Vec<usize>,
        data_offset: u64,
    },
    Columns {
        columns: Vec<ColumnData>,
        heap: Option<Arc<Vec<u8>>>,
    },
}

/// The chunks of a dataset, in row order: call [`Chunks::next_chunk`] (or iterate) and hand
/// each finished chunk back with [`Chunks::recycle`] to reuse its buffer.
pub struct Chunks {
    name: Arc<str>,
    input: Input,
    fields: Arc<[Field]>,
    source: ChunkSource,
    rows: u64,
    next_row: u64,
    rows_per_chunk: usize,
    /// A record buffer handed back by [`Chunks::recycle`], reused for the next read.
    spare: Option<Vec<u8>>,
}

impl std::fmt::Debug for Chunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunks")
            .field("name", &self.name)
            .field("next_row", &self.next_row)
            .finish()
    }
}

impl Chunks {
    /// The selected fields, in output order.
    pub fn fields(&self) -> &Arc<[Field]> {
        &self.fields
    }

    /// Hand a finished chunk back so that its record buffer is reused (saves page faults).
    pub fn recycle(&mut self, chunk: Chunk) {
        if let ChunkSource::Records { .. } = self.source {
            if let Some(buf) = chunk.bufs.into_iter().next() {
                if let Ok(v) = Arc::try_unwrap(buf) {
                    self.spare = Some(v);
                }
            }
        }
    }

    /// Limit the stream to its first `n` rows.
    pub fn limit(&mut self, n: u64) {
        self.rows = self.rows.min(self.next_row.saturating_add(n));
    }

    fn read_chunk(&mut self) -> Result<Chunk> {
        let n = (self.rows - self.next_row).min(self.rows_per_chunk as u64) as usize;
        let start_row = self.next_row;
        let (bufs, cols, heap) = match &self.source {
            ChunkSource::Records {
                itemsize,
                offsets,
                data_offset,
            } => {
                let records = RecordRun {
                    itemsize: *itemsize,
                    data_offset: *data_offset,
                    declared_rows: self.rows,
                };
                let buf = records.read(&mut self.input, self.spare.take(), n)?;
                let cols = records.views(offsets, &self.fields);
                (vec![Arc::new(buf)], cols, None)
            }
            ChunkSource::Columns { columns, heap } => {
                let (bufs, cols) =
                    read_columns(&mut self.input, columns, &self.fields, start_row, n)?;
                (bufs, cols, heap.clone())
            }
        };
        self.next_row += n as u64;
        Ok(Chunk {
            name: self.name.clone(),
            start_row,
            rows: n,
            fields: self.fields.clone(),
            bufs,
            cols,
            heap,
        })
    }
}

/// The records of a numpy file, as a chunk reads them.
struct RecordRun {
    itemsize: usize,
    data_offset: u64,
    /// The rows the header declares (for the message when they are not all there).
    declared_rows: u64,
}

impl RecordRun {
    /// Read the next `n` records into `spare` (a buffer to reuse, if there is one).
    fn read(&self, input: &mut Input, spare: Option<Vec<u8>>, n: usize) -> Result<Vec<u8>> {
        let itemsize = self.itemsize;
        let mut buf = spare.unwrap_or_default();
        let want = n.saturating_mul(itemsize);
        if input.read_upto_vec(want, &mut buf)? < want {
            let end = input.pos();
            let row = (end - self.data_offset) / itemsize.max(1) as u64;
            return Err(Error::at_byte(
                end,
                format!(
                    "truncated inside row {row}: header declares {} rows of {itemsize} bytes",
                    self.declared_rows
                ),
            ));
        }
        Ok(buf)
    }

    /// Where each selected field (at `offsets` in a record) lies in a buffer of records.
    fn views(&self, offsets: &[usize], fields: &[Field]) -> Vec<ColumnView> {
        offsets
            .iter()
            .zip(fields)
            .map(|(&off, f)| ColumnView {
                buf: 0,
                base: off,
                stride: self.itemsize,
                size: f.ty.size(),
            })
            .collect()
    }
}

/// A chunk's buffers and where each of its columns lies in them.
type ChunkBuffers = (Vec<Arc<Vec<u8>>>, Vec<ColumnView>);

/// Rows `start_row..start_row + n` of the selected CSDAT columns: one buffer per column (the
/// whole decoded column when it is in memory) and where the rows lie in it.
fn read_columns(
    input: &mut Input,
    columns: &[ColumnData],
    fields: &[Field],
    start_row: u64,
    n: usize,
) -> Result<ChunkBuffers> {
    let mut bufs = Vec::with_capacity(columns.len());
    let mut cols = Vec::with_capacity(columns.len());
    for (i, (c, f)) in columns.iter().zip(fields).enumerate() {
        let size = f.ty.size();
        let (buf, base) = match c {
            ColumnData::Memory(data) => (data.clone(), start_row as usize * size),
            ColumnData::At(offset) => {
                let mut buf = vec![0u8; n * size];
                let at = offset + start_row * size as u64;
                input.read_at(at, &mut buf, &format!("column '{}'", f.name))?;
                (Arc::new(buf), 0)
            }
            ColumnData::Spilled(file) => {
                use std::os::unix::fs::FileExt;
                let mut buf = vec![0u8; n * size];
                file.read_exact_at(&mut buf, start_row * size as u64)
                    .map_err(|e| Error::io(&e, Place::File))?;
                (Arc::new(buf), 0)
            }
        };
        bufs.push(buf);
        cols.push(ColumnView {
            buf: i,
            base,
            stride: size,
            size,
        });
    }
    Ok((bufs, cols))
}

impl Chunks {
    /// The next chunk, `None` at the end; after an error the stream ends.
    pub fn next_chunk(&mut self) -> Option<Result<Chunk>> {
        if self.next_row >= self.rows {
            return None;
        }
        let r = self.read_chunk();
        if r.is_err() {
            self.rows = self.next_row; // stop after an error
        }
        Some(r.map_err(|e| e.in_file(&self.name)))
    }
}

#[derive(Clone)]
struct ColumnView {
    /// Index into the chunk's buffers.
    buf: usize,
    base: usize,
    stride: usize,
    size: usize,
}

/// A run of consecutive rows of the selected fields, decoded lazily cell by cell.
#[derive(Clone)]
pub struct Chunk {
    /// How errors refer to the dataset the chunk comes from.
    name: Arc<str>,
    /// Index of the chunk's first row in the dataset.
    pub start_row: u64,
    /// Number of rows in the chunk.
    pub rows: usize,
    fields: Arc<[Field]>,
    bufs: Vec<Arc<Vec<u8>>>,
    cols: Vec<ColumnView>,
    heap: Option<Arc<Vec<u8>>>,
}

impl std::fmt::Debug for Chunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunk")
            .field("start_row", &self.start_row)
            .field("rows", &self.rows)
            .finish()
    }
}

impl Chunk {
    /// The fields of this chunk, in output order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The stored bytes of one cell (all elements of a subarray), in the file's byte order.
    pub fn raw(&self, row: usize, col: usize) -> &[u8] {
        let v = &self.cols[col];
        let start = v.base + row * v.stride;
        &self.bufs[v.buf][start..start + v.size]
    }

    /// Element `i` of a cell, decoded. An error names the row, the field and the dataset.
    pub fn scalar(&self, row: usize, col: usize, i: usize) -> Result<Scalar<'_>> {
        let ty = &self.fields[col].ty;
        let esize = ty.kind.size();
        let bytes = &self.raw(row, col)[i * esize..(i + 1) * esize];
        cell::decode(
            ty.kind,
            ty.order,
            bytes,
            self.heap.as_deref().map(Vec::as_slice),
        )
        .map_err(|what| {
            Error::new(
                Place::Cell {
                    row: self.start_row + row as u64,
                    field: self.fields[col].name.clone(),
                },
                what,
            )
            .in_file(&self.name)
        })
    }
}

impl Iterator for Chunks {
    type Item = Result<Chunk>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a panic is a failed test
    use super::*;
    use crate::container::dtype::{ByteOrder, FieldType, Kind};

    /// A numpy file of one scalar `uid` field of `kind` holding `rows` (raw bytes each), its
    /// header as the writer makes it; `typestr` replaces the writer's little-endian one (to
    /// declare `>u8`, which the writer never writes).
    fn uid_file(kind: Kind, typestr: &str, rows: &[Vec<u8>]) -> Vec<u8> {
        let field = Field {
            name: "uid".into(),
            ty: FieldType {
                kind,
                order: ByteOrder::Little,
                shape: Vec::new(),
            },
        };
        let header = crate::container::npy_header::npy_prefix(&[field], rows.len() as u64);
        let written = format!("'{}'", crate::container::npy_header::npy_typestr(kind));
        let at = header
            .windows(written.len())
            .position(|w| w == written.as_bytes())
            .unwrap();
        let mut file = header;
        file[at + 1..at + written.len() - 1].copy_from_slice(typestr.as_bytes());
        rows.iter().for_each(|r| file.extend_from_slice(r));
        file
    }

    fn uids_of(file: Vec<u8>) -> Vec<u64> {
        let ds = Dataset::from_reader(Box::new(std::io::Cursor::new(file)), "t.cs").unwrap();
        let mut uids = Vec::new();
        assert!(ds.for_each_uid(|v| uids.push(v)).unwrap());
        uids
    }

    #[test]
    fn uids_read_the_same_in_every_integer_dtype() {
        let big = (1u64 << 63) + 5;
        let le = uid_file(
            Kind::U64,
            "<u8",
            &[big.to_le_bytes().to_vec(), 7u64.to_le_bytes().to_vec()],
        );
        assert_eq!(uids_of(le), [big, 7]);
        let be = uid_file(
            Kind::U64,
            ">u8",
            &[big.to_be_bytes().to_vec(), 7u64.to_be_bytes().to_vec()],
        );
        assert_eq!(uids_of(be), [big, 7]);
        let narrow = uid_file(Kind::U32, "<u4", &[4_000_000_000u32.to_le_bytes().to_vec()]);
        assert_eq!(uids_of(narrow), [4_000_000_000]);
    }
}
