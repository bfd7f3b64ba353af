//! Writing `.cs` files: rows are spooled to a temporary file (so that memory stays flat and
//! the numpy header can be written once the row count and string widths are known), then
//! written as numpy `.npy` (what cryoSPARC writes) or as CSDAT.

use crate::container::dtype::{ByteOrder, Field, FieldType, Kind};
use crate::container::npy_header::npy_prefix;
use crate::error::{Error, Place, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Container of a written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// numpy `.npy`, byte for byte what numpy 2.x / cryosparc-tools write.
    Numpy,
    /// CSDAT, optionally with LZ4 columns (never `uid`).
    Csdat {
        /// Compress every column but `uid` with LZ4.
        lz4: bool,
    },
}

/// Column keys this long or longer go into a CSDAT heap (FORMATS.md §4.4).
const LONG_KEY: usize = 52;

/// Rows of one schema, spooled to a temporary file until [`RowSpool::write`].
///
/// Each row is pushed as one byte run per field: numeric elements little-endian, string
/// elements as UTF-8 text (see [`RowSpool::push_row`]).
pub struct RowSpool {
    /// Where temporary files go (the output's folder).
    dir: std::path::PathBuf,
    fields: Vec<Field>,
    spool: BufWriter<File>,
    rows: u64,
    /// Longest UTF-8 string per field (0 for numbers).
    longest: Vec<usize>,
}

impl std::fmt::Debug for RowSpool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowSpool")
            .field("rows", &self.rows)
            .finish()
    }
}

fn io_err(e: std::io::Error) -> Error {
    Error::io(&e, Place::File)
}

impl RowSpool {
    /// A spool for rows of `fields` (string fields: any string kind), in the folder `dir`.
    pub fn new(fields: Vec<Field>, dir: &Path) -> Result<Self> {
        let file = tempfile::tempfile_in(dir).map_err(io_err)?;
        let longest = vec![0; fields.len()];
        Ok(RowSpool {
            dir: dir.to_path_buf(),
            fields,
            spool: BufWriter::with_capacity(1 << 20, file),
            rows: 0,
            longest,
        })
    }

    /// The fields rows are pushed for.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Push one row. `cells[i]` holds field i: for numbers `count × size` little-endian bytes;
    /// for strings each element as (u32 LE byte length, UTF-8 bytes).
    pub fn push_row(&mut self, cells: &[Vec<u8>]) -> Result<()> {
        let mut encoded = EncodedRows::new(self.fields.len());
        encoded.push(&self.fields, cells);
        self.push_encoded(&encoded)
    }

    /// Push rows encoded elsewhere (for example on several threads) with [`EncodedRows`].
    pub fn push_encoded(&mut self, rows: &EncodedRows) -> Result<()> {
        self.spool.write_all(&rows.bytes).map_err(io_err)?;
        for (l, &n) in self.longest.iter_mut().zip(&rows.longest) {
            *l = (*l).max(n);
        }
        self.rows += rows.rows;
        Ok(())
    }

    /// The fields as they will be stored: strings `|S(longest+1)` for numpy, heap offsets for CSDAT.
    pub fn stored_fields(&self, format: OutputFormat) -> Vec<Field> {
        self.fields
            .iter()
            .zip(&self.longest)
            .map(|(f, &n)| {
                let kind = match (f.ty.kind.is_string(), format) {
                    (false, _) => f.ty.kind,
                    (true, OutputFormat::Numpy) => Kind::Bytes(n + 1),
                    (true, OutputFormat::Csdat { .. }) => Kind::HeapStr,
                };
                Field {
                    name: f.name.clone(),
                    ty: FieldType {
                        kind,
                        order: ByteOrder::Little,
                        shape: f.ty.shape.clone(),
                    },
                }
            })
            .collect()
    }

    fn reader(&mut self) -> Result<SpoolReader> {
        self.spool.flush().map_err(io_err)?;
        let mut file = self.spool.get_ref().try_clone().map_err(io_err)?;
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        Ok(SpoolReader {
            r: BufReader::with_capacity(1 << 20, file),
            row: Vec::new(),
            cells: vec![0..0; self.fields.len()],
        })
    }

    /// Write the dataset to `out` in `format`.
    pub fn write(mut self, format: OutputFormat, out: &mut impl Write) -> Result<()> {
        match format {
            OutputFormat::Numpy => self.write_numpy(out),
            OutputFormat::Csdat { lz4 } => self.write_csdat(out, lz4),
        }
    }

    fn write_numpy(&mut self, out: &mut impl Write) -> Result<()> {
        let stored = self.stored_fields(OutputFormat::Numpy);
        crate::limits::check_record_bytes(&stored)?;
        out.write_all(&npy_prefix(&stored, self.rows))
            .map_err(io_err)?;
        let mut reader = self.reader()?;
        let mut record = Vec::new();
        for _ in 0..self.rows {
            reader.next_row()?;
            record.clear();
            for (f, cell) in stored.iter().zip(reader.cells()) {
                if let Kind::Bytes(width) = f.ty.kind {
                    for s in cell_strings(cell) {
                        record.extend_from_slice(s);
                        record.resize(record.len() + width - s.len(), 0);
                    }
                } else {
                    record.extend_from_slice(cell);
                }
            }
            out.write_all(&record).map_err(io_err)?;
        }
        Ok(())
    }

    fn write_csdat(&mut self, out: &mut impl Write, lz4: bool) -> Result<()> {
        let stored = self.stored_fields(OutputFormat::Csdat { lz4 });
        write_csdat_header(out, &stored, self.rows, lz4)?;
        let mut heap = Heap::new(&stored);
        if self.rows > 0 {
            // CSDAT is column-major: split the row spool into one temporary file per column
            // (a group of columns per pass, to bound open files), then write the columns in
            // order, one in memory at a time. Strings are interned column by column, row by
            // row, which is cryosparc-tools' heap order.
            let all: Vec<usize> = (0..stored.len()).collect();
            // Buffers reused from column to column.
            let (mut raw, mut offsets, mut packed) = (Vec::new(), Vec::new(), Vec::new());
            for group in all.chunks(COLUMN_FILES_PER_PASS) {
                let files = self.split_columns(group)?;
                for (mut file, &i) in files.into_iter().zip(group) {
                    let f = &stored[i];
                    let column = if f.ty.kind == Kind::HeapStr {
                        heap_offsets(file, f, &mut heap, &mut offsets)?;
                        &offsets
                    } else {
                        raw.clear();
                        file.read_to_end(&mut raw).map_err(io_err)?;
                        &raw
                    };
                    write_column(out, f, column, lz4 && f.name != "uid", &mut packed)?;
                }
            }
        }
        out.write_all(&heap.bytes).map_err(io_err)?;
        Ok(())
    }

    /// Copy the cells of the fields `group` (indices into the fields) out of the row spool,
    /// one temporary file per field, each rewound to its start.
    fn split_columns(&mut self, group: &[usize]) -> Result<Vec<File>> {
        let mut files = Vec::with_capacity(group.len());
        for _ in group {
            let f = tempfile::tempfile_in(&self.dir).map_err(io_err)?;
            files.push(BufWriter::with_capacity(1 << 16, f));
        }
        let mut reader = self.reader()?;
        for _ in 0..self.rows {
            reader.next_row()?;
            let cells: Vec<&[u8]> = reader.cells().collect();
            for (file, &i) in files.iter_mut().zip(group) {
                file.write_all(cells[i]).map_err(io_err)?;
            }
        }
        files
            .into_iter()
            .map(|file| {
                let mut file = file.into_inner().map_err(|e| io_err(e.into_error()))?;
                file.seek(SeekFrom::Start(0)).map_err(io_err)?;
                Ok(file)
            })
            .collect()
    }
}

/// The CSDAT magic, header length and header JSON of `stored` fields and `rows` rows; with
/// `lz4`, every column but `uid` is listed as compressed.
fn write_csdat_header(out: &mut impl Write, stored: &[Field], rows: u64, lz4: bool) -> Result<()> {
    let compressed: Vec<&str> = if lz4 {
        stored
            .iter()
            .filter(|f| f.name != "uid")
            .map(|f| f.name.as_str())
            .collect()
    } else {
        Vec::new()
    };
    out.write_all(crate::container::csdat::MAGIC)
        .map_err(io_err)?;
    let header = csdat_header_json(stored, rows, lz4, &compressed);
    out.write_all(&(header.len() as u32).to_le_bytes())
        .map_err(io_err)?;
    out.write_all(header.as_bytes()).map_err(io_err)?;
    Ok(())
}

/// The heap offsets of a string column whose cells (u32 length, text) are in `file`, into
/// `offsets` (cleared first); the strings are streamed from the file and interned in `heap`.
fn heap_offsets(file: File, f: &Field, heap: &mut Heap, offsets: &mut Vec<u8>) -> Result<()> {
    offsets.clear();
    let mut r = BufReader::with_capacity(1 << 16, file);
    let mut len = [0u8; 4];
    let mut text = Vec::new();
    loop {
        match r.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(io_err(e)),
        }
        text.resize(u32::from_le_bytes(len) as usize, 0);
        r.read_exact(&mut text).map_err(io_err)?;
        offsets.extend_from_slice(&heap.intern(&text, &f.name)?.to_le_bytes());
    }
}

/// One CSDAT column section: the payload's u32 size, then the payload (`column`, LZ4-packed
/// into `packed` when `compress`).
fn write_column(
    out: &mut impl Write,
    f: &Field,
    column: &[u8],
    compress: bool,
    packed: &mut Vec<u8>,
) -> Result<()> {
    let payload: &[u8] = if compress {
        packed.resize(lz4_flex::block::get_maximum_output_size(column.len()), 0);
        let n = lz4_flex::block::compress_into(column, packed)
            .map_err(|e| Error::new(Place::Field(f.name.clone()), format!("LZ4: {e}")))?;
        &packed[..n]
    } else {
        column
    };
    let n = u32::try_from(payload.len()).map_err(|_| {
        Error::new(
            Place::Field(f.name.clone()),
            "column is 4 GiB or more, too large for CSDAT",
        )
    })?;
    out.write_all(&n.to_le_bytes()).map_err(io_err)?;
    out.write_all(payload).map_err(io_err)?;
    Ok(())
}

/// Columns split out of the row spool per pass when writing CSDAT.
const COLUMN_FILES_PER_PASS: usize = 256;

/// Rows encoded for a [`RowSpool`], with the longest string seen per field.
#[derive(Debug, Clone, Default)]
pub struct EncodedRows {
    bytes: Vec<u8>,
    longest: Vec<usize>,
    rows: u64,
}

impl EncodedRows {
    /// An empty batch for `fields` fields.
    pub fn new(fields: usize) -> Self {
        EncodedRows {
            bytes: Vec::new(),
            longest: vec![0; fields],
            rows: 0,
        }
    }

    /// Encode one row (cells as for [`RowSpool::push_row`]).
    pub fn push(&mut self, fields: &[Field], cells: &[Vec<u8>]) {
        let row_len: usize = cells.iter().map(|c| 4 + c.len()).sum();
        self.bytes
            .extend_from_slice(&(row_len as u32).to_le_bytes());
        for (i, cell) in cells.iter().enumerate() {
            if fields[i].ty.kind.is_string() {
                for s in cell_strings(cell) {
                    self.longest[i] = self.longest[i].max(s.len());
                }
            }
            self.bytes
                .extend_from_slice(&(cell.len() as u32).to_le_bytes());
            self.bytes.extend_from_slice(cell);
        }
        self.rows += 1;
    }

    /// Rows encoded.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

/// The string elements of a cell in [`RowSpool::push_row`]'s layout.
pub fn cell_strings(cell: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = cell;
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let n = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let end = (4 + n).min(rest.len());
        let s = &rest[4..end];
        rest = &rest[end..];
        Some(s)
    })
}

/// In a row of cells in [`RowSpool::push_row`]'s layout, replace each string of the fields that
/// name data files (`…/path`) by what `replace` returns for it (None: keep it).
pub fn rewrite_data_paths(
    fields: &[Field],
    cells: &mut [Vec<u8>],
    replace: &mut dyn FnMut(&str) -> Option<String>,
) {
    for (f, cell) in fields.iter().zip(cells.iter_mut()) {
        if !f.names_data_files() {
            continue;
        }
        let mut rewritten = Vec::with_capacity(cell.len() + 16);
        for s in cell_strings(cell) {
            match replace(&String::from_utf8_lossy(s)) {
                Some(new) => push_string_element(&mut rewritten, new.as_bytes()),
                None => push_string_element(&mut rewritten, s),
            }
        }
        *cell = rewritten;
    }
}

/// Append one string element to a cell being built for [`RowSpool::push_row`].
pub fn push_string_element(cell: &mut Vec<u8>, s: &[u8]) {
    cell.extend_from_slice(&(s.len() as u32).to_le_bytes());
    cell.extend_from_slice(s);
}

/// Reads spooled rows back: each row is (u32 length, cells), each cell (u32 length, bytes).
struct SpoolReader {
    r: BufReader<File>,
    row: Vec<u8>,
    /// Byte range of each cell in `row`.
    cells: Vec<std::ops::Range<usize>>,
}

impl SpoolReader {
    fn next_row(&mut self) -> Result<()> {
        let mut len = [0u8; 4];
        self.r.read_exact(&mut len).map_err(io_err)?;
        self.row.resize(u32::from_le_bytes(len) as usize, 0);
        self.r.read_exact(&mut self.row).map_err(io_err)?;
        let mut at = 0;
        for cell in &mut self.cells {
            let n = self
                .row
                .get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                .ok_or_else(|| Error::in_whole_file("corrupt spool file (internal error)"))?;
            *cell = (at + 4).min(self.row.len())..(at + 4 + n).min(self.row.len());
            at += 4 + n;
        }
        Ok(())
    }

    /// The cells of the current row.
    fn cells(&self) -> impl Iterator<Item = &[u8]> {
        self.cells.iter().map(|r| &self.row[r.clone()])
    }
}

/// A canonical CSDAT string heap (FORMATS.md §4.4).
struct Heap {
    bytes: Vec<u8>,
    index: HashMap<Vec<u8>, u64>,
}

impl Heap {
    fn new(fields: &[Field]) -> Self {
        let mut heap = Heap {
            bytes: vec![0],
            index: HashMap::new(),
        };
        for f in fields {
            if f.name.len() >= LONG_KEY {
                let _ = heap.intern_raw(f.name.as_bytes());
            }
        }
        heap
    }

    fn intern_raw(&mut self, s: &[u8]) -> u64 {
        if s.is_empty() {
            return 0;
        }
        if let Some(&o) = self.index.get(s) {
            return o;
        }
        let o = self.bytes.len() as u64;
        self.bytes.extend_from_slice(s);
        self.bytes.push(0);
        self.index.insert(s.to_vec(), o);
        o
    }

    fn intern(&mut self, s: &[u8], field: &str) -> Result<u64> {
        if s.contains(&0) {
            return Err(Error::new(
                Place::Field(field.to_string()),
                "a string holds a NUL byte, which a CSDAT file cannot store",
            ));
        }
        Ok(self.intern_raw(s))
    }
}

/// The CSDAT header JSON as Python's `json.dumps` writes it (ASCII, `", "` and `": "`).
pub fn csdat_header_json(fields: &[Field], rows: u64, lz4: bool, compressed: &[&str]) -> String {
    let s = |t: &str| ascii_json_string(t);
    let dtype: Vec<String> = fields
        .iter()
        .map(|f| {
            let ty = if f.ty.kind == Kind::HeapStr {
                "|O".to_string()
            } else {
                f.ty.kind.normalized_typestr().to_string()
            };
            if f.ty.shape.is_empty() {
                format!("[{}, {}]", s(&f.name), s(&ty))
            } else {
                let dims: Vec<String> = f.ty.shape.iter().map(usize::to_string).collect();
                format!("[{}, {}, [{}]]", s(&f.name), s(&ty), dims.join(", "))
            }
        })
        .collect();
    let comp: Vec<String> = compressed.iter().map(|c| s(c)).collect();
    format!(
        "{{\"length\": {rows}, \"dtype\": [{}], \"compression\": {}, \"compressed_fields\": [{}]}}",
        dtype.join(", "),
        if lz4 { "\"lz4\"" } else { "null" },
        comp.join(", ")
    )
}

/// A JSON string literal with every non-ASCII character escaped as `\uXXXX` (Python's default).
fn ascii_json_string(t: &str) -> String {
    let mut out = String::from("\"");
    for c in t.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Fill `cells` (one per chunk field) with row `row` of `chunk` in [`RowSpool::push_row`]'s
/// layout: numbers little-endian, strings as (length, UTF-8).
pub fn cells_from_chunk(chunk: &crate::Chunk, row: usize, cells: &mut [Vec<u8>]) -> Result<()> {
    for (col, cell) in cells.iter_mut().enumerate() {
        cell.clear();
        let ty = &chunk.fields()[col].ty;
        if ty.kind.is_string() {
            for i in 0..ty.count() {
                if let crate::text::cell::Scalar::Str(s) = chunk.scalar(row, col, i)? {
                    push_string_element(cell, s.as_bytes());
                }
            }
        } else {
            let raw = chunk.raw(row, col);
            cell.extend_from_slice(raw);
            if ty.order == ByteOrder::Big {
                let unit = match ty.kind {
                    Kind::C64 => 4,
                    Kind::C128 => 8,
                    k => k.size(),
                };
                for e in cell.chunks_mut(unit) {
                    e.reverse();
                }
            }
        }
    }
    Ok(())
}
