//! Reading CSV or JSON-lines rows into the cells of a target schema, and inferring a schema.

use cs_cli::Failure;
use cs_format::container::known::known_field;
use cs_format::container::records::{RecordBuf, RecordLayout};
use cs_format::container::writer::push_string_element;
use cs_format::limits::MAX_CSV_INDEX;
use cs_format::text::csv::split_column_name;
use cs_format::text::parse::{element_from_text, f32_prefix, number_into, number_prefix};
use cs_format::{ByteOrder, Error, Field, FieldType, Kind, Place};
use rayon::prelude::*;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

/// Input syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Csv,
    Jsonl,
}

/// The fields rows are converted to, and where each element goes.
pub struct Target {
    fields: Vec<Field>,
    /// Field by name (looked up per key of every JSON-lines row: a fast hash).
    index: foldhash::HashMap<String, usize>,
    /// First slot of each field; a field has `count()` slots.
    starts: Vec<usize>,
    total: usize,
}

impl Target {
    pub fn new(fields: Vec<Field>) -> Self {
        let index = fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
        let mut starts = Vec::with_capacity(fields.len());
        let mut total = 0;
        for f in &fields {
            starts.push(total);
            total += f.ty.count();
        }
        Target {
            fields,
            index,
            starts,
            total,
        }
    }

    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The slot of a flattened CSV column name (`pose[1]`).
    fn slot_of_column(&self, column: &str) -> Result<usize, String> {
        if let Some(&i) = self.index.get(column) {
            if self.fields[i].ty.shape.is_empty() {
                return Ok(self.starts[i]);
            }
            return Err(format!(
                "column '{column}' is a subarray of shape {:?}: expected one column per element ({column}[0], …)",
                self.fields[i].ty.shape
            ));
        }
        let (base, idx) = split_column_name(column);
        let Some(&i) = self.index.get(base) else {
            return Err(format!(
                "column '{column}' is not one of the fields being written"
            ));
        };
        let shape = &self.fields[i].ty.shape;
        if idx.len() != shape.len() || idx.iter().zip(shape).any(|(&k, &d)| k >= d) {
            return Err(format!(
                "column '{column}' does not fit field '{base}' of shape {shape:?}"
            ));
        }
        let flat = idx.iter().zip(shape).fold(0, |acc, (&k, &d)| acc * d + k);
        Ok(self.starts[i] + flat)
    }

    /// The field and element of a slot, for messages.
    fn field_of_slot(&self, slot: usize) -> &Field {
        let i = self
            .starts
            .partition_point(|&s| s <= slot)
            .saturating_sub(1);
        &self.fields[i]
    }

    /// Convert a row into cells (numbers little-endian; strings as (length, UTF-8)).
    fn cells(&self, line: u64, cells: &mut Vec<Vec<u8>>, row: &RowTexts) -> Result<(), Error> {
        cells.resize(self.fields.len(), Vec::new());
        for (i, f) in self.fields.iter().enumerate() {
            let cell = &mut cells[i];
            cell.clear();
            let place = || Place::LineField {
                line,
                field: f.name.clone(),
            };
            for e in 0..f.ty.count() {
                let text = row
                    .get(self.starts[i] + e)
                    .ok_or_else(|| Error::new(place(), missing(f, e)))?;
                if f.ty.kind.is_string() {
                    push_string_element(cell, text.as_bytes());
                } else {
                    element_from_text(f.ty.kind, text, cell)
                        .map_err(|what| Error::new(place(), with_int64_hint(f, text, what)))?;
                }
            }
        }
        Ok(())
    }

    /// Encode a row into a new record of `layout` at the end of `buf`. Returns false, leaving
    /// `buf` as it was, when a string is longer than its field's width in `layout`.
    fn record(
        &self,
        line: u64,
        layout: &RecordLayout,
        buf: &mut RecordBuf,
        row: &RowTexts,
    ) -> Result<bool, Error> {
        let (rec, longest) = buf.new_record(layout, line);
        let mut fits = true;
        let filled = (|| {
            for (i, f) in self.fields.iter().enumerate() {
                let place = || Place::LineField {
                    line,
                    field: f.name.clone(),
                };
                let offset = layout.offset(i);
                let width = layout.string_width(i);
                let size = width.unwrap_or_else(|| f.ty.kind.size());
                for e in 0..f.ty.count() {
                    let text = row
                        .get(self.starts[i] + e)
                        .ok_or_else(|| Error::new(place(), missing(f, e)))?;
                    let slot = &mut rec[offset + e * size..offset + (e + 1) * size];
                    if width.is_some() {
                        let bytes = text.as_bytes();
                        longest[i] = longest[i].max(bytes.len());
                        match slot.get_mut(..bytes.len()) {
                            Some(to) => to.copy_from_slice(bytes),
                            None => fits = false,
                        }
                    } else {
                        number_into(f.ty.kind, text, slot)
                            .map_err(|what| Error::new(place(), with_int64_hint(f, text, what)))?;
                    }
                }
            }
            Ok(())
        })();
        if filled.is_err() || !fits {
            buf.drop_last(layout);
        }
        filled.map(|()| fits)
    }
}

/// The texts of one row, by slot of a [`Target`].
enum RowTexts<'a> {
    /// A CSV record and, per slot, the column that holds it.
    Csv {
        record: &'a [&'a str],
        columns: &'a [usize],
    },
    /// A JSON object's elements, by slot (borrowed from the line unless unescaped).
    Json(&'a [Option<Cow<'a, str>>]),
}

impl RowTexts<'_> {
    /// The text of a slot (None: missing from the row).
    fn get(&self, slot: usize) -> Option<&str> {
        match self {
            RowTexts::Csv { record, columns } => record.get(columns[slot]).copied(),
            RowTexts::Json(slots) => slots[slot].as_deref(),
        }
    }
}

fn missing(f: &Field, e: usize) -> String {
    if f.ty.shape.is_empty() {
        "missing from the input".to_string()
    } else {
        format!(
            "element {e} of the {:?} subarray is missing from the input",
            f.ty.shape
        )
    }
}

/// A 64-bit integer spelled like a rounded double is almost always jq 1.6 at work: say so.
fn with_int64_hint(f: &Field, text: &str, what: String) -> String {
    if f.ty.kind.is_int64() && text.trim().parse::<f64>().is_ok() && text.contains(['e', 'E', '.'])
    {
        format!(
            "{what}; a JSON tool that reads numbers as doubles (jq 1.6) rounds 64-bit integers — \
             print them with cs-cat --int64-as-string"
        )
    } else {
        what
    }
}

/// Rows of a CSV or JSON-lines input.
pub struct RowReader {
    name: String,
    inner: Inner,
}

/// Bytes read from a CSV input per block (a block is then cut into pieces converted in parallel).
const CSV_BLOCK: usize = 4 << 20;
/// Bytes per piece of a block.
const CSV_PIECE: usize = 128 << 10;

enum Inner {
    Csv(CsvBlocks),
    Jsonl {
        rdr: BufReader<Box<dyn Read + Send>>,
        line: u64,
    },
}

/// A CSV input read in blocks that end on record boundaries, so that the records of each block
/// can be parsed in parallel pieces. Only the boundaries are found here, in one pass: where a
/// block holds no quote character they are its newlines, else a CSV parser finds them.
struct CsvBlocks {
    /// The input itself, unbuffered: blocks are read straight into `pending`.
    rdr: Box<dyn Read + Send>,
    headers: Vec<String>,
    delimiter: u8,
    /// Bytes read but not yet handed out (they start a record).
    pending: Vec<u8>,
    /// Line number of the first byte of `pending`.
    line: u64,
    eof: bool,
}

/// A range of whole records of a block and the line number of its first byte.
#[derive(Debug, Clone)]
struct Piece {
    range: std::ops::Range<usize>,
    first_line: u64,
    /// Input lines in the piece (CSV; an upper bound on its records), 0 when not counted.
    lines: u64,
}

/// Rows read but not yet converted (reused from batch to batch).
#[derive(Default)]
pub struct Batch {
    /// CSV: whole records, cut into pieces; per slot of the target, the column that holds it.
    bytes: Vec<u8>,
    pieces: Vec<Piece>,
    columns: Option<Vec<usize>>,
    n_columns: usize,
    delimiter: u8,
    /// CSV: the whole batch holds no quote and no carriage return (each piece need not be
    /// searched again).
    plain: bool,
    /// JSON-lines: (line number, text); pieces index this.
    lines: Vec<(u64, String)>,
    len: usize,
}

impl Batch {
    /// Pieces the batch is converted in, in input order.
    pub fn pieces(&self) -> usize {
        self.pieces.len()
    }

    /// The text of CSV piece `k` and the column of each slot, when the text holds no quote
    /// and no carriage return.
    fn plain_csv(&self, k: usize) -> Option<(&[u8], &[usize])> {
        let columns = self.columns.as_deref()?;
        let text = self.bytes.get(self.pieces.get(k)?.range.clone())?;
        self.quote_free(text).then_some((text, columns))
    }

    /// True when `text`, a piece of this batch, holds no quote and no carriage return.
    fn quote_free(&self, text: &[u8]) -> bool {
        self.plain || quote_free(text)
    }
}

fn io_failure(e: &std::io::Error, name: &str) -> Failure {
    Error::io(e, Place::File).in_file(name).into()
}

/// A CSV parser error, with its line counted from `first_line` (the line of the parsed text's
/// first byte).
fn csv_error(e: &csv::Error, first_line: u64) -> Error {
    let line = e
        .position()
        .map(|p| p.line() + first_line - 1)
        .unwrap_or(first_line);
    let what = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
        _ => e.to_string(),
    };
    Error::new(Place::Line(line), what)
}

/// A CSV parser over one piece of text, with the input's delimiter and no header.
fn csv_parser(text: &[u8], delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text)
}

/// Takes a row's line number and its column texts; returns false to stop.
type TextRowSink<'a> = dyn FnMut(u64, &[&str]) -> Result<bool, Error> + 'a;
/// Takes a row's line number and its converted cells.
pub type CellRowSink<'a> = dyn FnMut(u64, &[Vec<u8>]) -> Result<(), Error> + 'a;

/// The records of one CSV piece of a batch, each with its line number, checked to have as many
/// columns as the header, until `record` returns false.
fn for_each_record(batch: &Batch, piece: &Piece, record: &mut TextRowSink) -> Result<(), Error> {
    let n_columns = batch.n_columns;
    let mut checked = |line: u64, rec: &[&str]| {
        if rec.len() != n_columns {
            return Err(Error::new(
                Place::Line(line),
                format!("{} columns where the header has {n_columns}", rec.len()),
            ));
        }
        record(line, rec)
    };
    let text = &batch.bytes[piece.range.clone()];
    if batch.quote_free(text) {
        return for_each_plain_record(text, batch.delimiter, piece.first_line, checked);
    }
    let mut parser = csv_parser(text, batch.delimiter);
    let mut rec = csv::StringRecord::new();
    while parser
        .read_record(&mut rec)
        .map_err(|e| csv_error(&e, piece.first_line))?
    {
        let line = rec.position().map_or(0, |p| p.line()) + piece.first_line - 1;
        let fields: Vec<&str> = rec.iter().collect();
        if !checked(line, &fields)? {
            break;
        }
    }
    Ok(())
}

/// How one CSV column is stored in a record, for [`plain_records`].
#[derive(Debug, Clone, Copy)]
enum ColumnOp {
    /// A number of this kind (`size` bytes) at this offset.
    Number { kind: Kind, at: usize, size: usize },
    /// `n` f32 cells in a row, stored at this offset and every 4 bytes after it: most cells of
    /// a particle file, read in a loop of their own, without a dispatch per cell.
    F32Run { at: usize, n: usize },
    /// A string element of a field, at this offset, at most `width` bytes.
    Text {
        field: usize,
        at: usize,
        width: usize,
    },
}

/// Encode quote-free CSV text (whole records) into records of `layout`, each column as `ops`
/// says, in one pass: numbers are parsed where they stand. None when anything is out of the
/// ordinary (a value that does not parse or fit, a string too long, a short or long row,
/// invalid UTF-8): the general path then converts the text and says what is wrong.
fn plain_records(
    text: &[u8],
    delimiter: u8,
    first_line: u64,
    ops: &[ColumnOp],
    layout: &RecordLayout,
    buf: &mut RecordBuf,
) -> Option<()> {
    let n_columns = ops.iter().map(ColumnOp::cells).sum::<usize>();
    let last = n_columns.checked_sub(1)?;
    // After the cell of column c that ends at p: where the next cell starts.
    let next_cell = |p: usize, c: usize| match text.get(p) {
        Some(&b) if b == delimiter && c < last => Some(p + 1),
        Some(b'\n') if c == last => Some(p + 1),
        None if c == last => Some(p),
        _ => None,
    };
    let mut p = 0;
    let mut line = first_line;
    while p < text.len() {
        if text[p] == b'\n' {
            p += 1; // a blank line
            line += 1;
            continue;
        }
        let (record, longest) = buf.new_record(layout, line);
        line += 1;
        let mut c = 0;
        for op in ops {
            match *op {
                ColumnOp::F32Run { at, n } => {
                    for out in record.get_mut(at..at + 4 * n)?.chunks_exact_mut(4) {
                        p = next_cell(p + f32_prefix(text.get(p..)?, out)?, c)?;
                        c += 1;
                    }
                }
                ColumnOp::Number { kind, at, size } => {
                    let out = record.get_mut(at..at + size)?;
                    p = next_cell(p + number_prefix(kind, text.get(p..)?, out)?, c)?;
                    c += 1;
                }
                ColumnOp::Text { field, at, width } => {
                    let rest = text.get(p..)?;
                    let len = memchr::memchr2(delimiter, b'\n', rest).unwrap_or(rest.len());
                    let s = &rest[..len];
                    if len > width || std::str::from_utf8(s).is_err() {
                        return None;
                    }
                    record.get_mut(at..at + len)?.copy_from_slice(s);
                    longest[field] = longest[field].max(len);
                    p = next_cell(p + len, c)?;
                    c += 1;
                }
            }
        }
    }
    Some(())
}

impl ColumnOp {
    /// The CSV cells the op reads.
    fn cells(&self) -> usize {
        match self {
            ColumnOp::F32Run { n, .. } => *n,
            _ => 1,
        }
    }
}

/// The records of CSV text that has no quote and no carriage return, where a record is a line
/// and fields are split at the delimiter (what a CSV parser makes of such text, faster); blank
/// lines are skipped, as a CSV parser does. Stops when `record` returns false.
fn for_each_plain_record(
    text: &[u8],
    delimiter: u8,
    first_line: u64,
    mut record: impl FnMut(u64, &[&str]) -> Result<bool, Error>,
) -> Result<(), Error> {
    let text = std::str::from_utf8(text).map_err(|e| {
        Error::new(
            Place::Line(first_line + count_lines(&text[..e.valid_up_to()])),
            "invalid UTF-8",
        )
    })?;
    let mut fields: Vec<&str> = Vec::new();
    let mut line = first_line;
    let mut start = 0;
    // The delimiter and newline are ASCII, so cutting at them keeps every piece valid UTF-8.
    for at in memchr::memchr2_iter(delimiter, b'\n', text.as_bytes()).chain([text.len()]) {
        let end_of_line = at == text.len() || text.as_bytes()[at] == b'\n';
        if !end_of_line || start < at || !fields.is_empty() {
            fields.push(text.get(start..at).unwrap_or_default());
        }
        start = at + 1;
        if end_of_line {
            if !fields.is_empty() {
                if !record(line, &fields)? {
                    return Ok(());
                }
                fields.clear();
            }
            line += 1;
        }
    }
    Ok(())
}

/// True when CSV text holds no quote and no carriage return: its records are its lines and
/// its fields are split at the delimiter.
fn quote_free(text: &[u8]) -> bool {
    memchr::memchr2(b'"', b'\r', text).is_none()
}

/// Newlines in `text`.
fn count_lines(text: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', text).count() as u64
}

impl CsvBlocks {
    /// Read until `pending` holds at least `want` bytes or the input ends.
    fn fill(&mut self, want: usize, name: &str) -> Result<(), Failure> {
        if !self.eof && self.pending.len() < want {
            let missing = (want - self.pending.len()) as u64;
            self.pending.reserve(missing as usize);
            // read_to_end retries interrupted reads and does not zero the buffer first.
            let got = (&mut self.rdr)
                .take(missing)
                .read_to_end(&mut self.pending)
                .map_err(|e| io_failure(&e, name))?;
            self.eof = (got as u64) < missing;
        }
        Ok(())
    }

    /// Where the whole records of `pending` end, the pieces they are cut into, and whether the
    /// text holds no quote and no carriage return. At the end of the input everything is
    /// whole; else the last (possibly incomplete) record waits.
    fn cut(&self) -> Result<(usize, Vec<usize>, bool), Error> {
        let buf = &self.pending[..];
        let mut cuts = Vec::new();
        let plain = quote_free(buf);
        if plain || memchr::memchr(b'"', buf).is_none() {
            if let Some(last_nl) = memchr::memrchr(b'\n', buf) {
                let end = if self.eof { buf.len() } else { last_nl + 1 };
                let mut at = 0;
                while at < end {
                    let next = (at + CSV_PIECE).min(end);
                    let cut = if next == end {
                        end
                    } else {
                        memchr::memchr(b'\n', &buf[next..end]).map_or(end, |k| next + k + 1)
                    };
                    cuts.push(cut);
                    at = cut;
                }
                return Ok((end, cuts, plain));
            }
        }
        // Quotes (a newline may be inside a field) or no newline: let the parser find records.
        let mut parser = csv_parser(buf, self.delimiter);
        let mut record = csv::ByteRecord::new();
        let mut starts = Vec::new();
        loop {
            let start = parser.position().byte() as usize;
            match parser.read_byte_record(&mut record) {
                Ok(true) => starts.push(record.position().map_or(start, |p| p.byte() as usize)),
                Ok(false) => break,
                Err(e) => return Err(csv_error(&e, self.line)),
            }
        }
        let end = if self.eof {
            buf.len()
        } else {
            starts.last().copied().unwrap_or(0)
        };
        let mut piece_start = 0;
        for &s in &starts {
            if s > piece_start && s - piece_start >= CSV_PIECE && s <= end {
                cuts.push(s);
                piece_start = s;
            }
        }
        if end > piece_start {
            cuts.push(end);
        }
        Ok((end, cuts, false))
    }

    /// Hand the next block of whole records to `batch` (empty at the end of the input).
    fn next_block(&mut self, batch: &mut Batch, name: &str) -> Result<(), Failure> {
        batch.bytes.clear();
        batch.pieces.clear();
        batch.len = 0;
        let mut want = CSV_BLOCK;
        let (end, cuts, plain) = loop {
            self.fill(want, name)?;
            let (end, cuts, plain) = self.cut().map_err(|e| Failure::from(e.in_file(name)))?;
            if end > 0 || self.eof {
                break (end, cuts, plain);
            }
            want = self.pending.len() * 2; // one record longer than a block
        };
        let mut at = 0;
        for cut in cuts {
            let lines = count_lines(&self.pending[at..cut]);
            batch.pieces.push(Piece {
                range: at..cut,
                first_line: self.line,
                lines,
            });
            self.line += lines;
            at = cut;
        }
        // The block becomes the batch's; what follows it starts the next block.
        std::mem::swap(&mut batch.bytes, &mut self.pending);
        self.pending.clear();
        self.pending.extend_from_slice(&batch.bytes[end..]);
        batch.bytes.truncate(end);
        batch.delimiter = self.delimiter;
        batch.plain = plain;
        batch.n_columns = self.headers.len();
        batch.len = end;
        Ok(())
    }

    /// Read the header record.
    fn read_headers(&mut self, name: &str) -> Result<(), Failure> {
        let mut want = 64 << 10;
        loop {
            self.fill(want, name)?;
            let mut parser = csv_parser(&self.pending, self.delimiter);
            let mut header = csv::StringRecord::new();
            let got = parser
                .read_record(&mut header)
                .map_err(|e| Failure::from(csv_error(&e, 1).in_file(name)))?;
            let end = parser.position().byte() as usize;
            // Whole when more text follows it, or the input has ended.
            if self.eof || (got && end < self.pending.len()) {
                if !got {
                    header.clear();
                }
                self.headers = header
                    .iter()
                    .map(|h| h.trim_start_matches('\u{feff}').to_string())
                    .collect();
                if let Some(mixup) = cs_cli::hints::csv_header_mixup(&self.headers, self.delimiter)
                {
                    return Err(mixup.in_file(name).into());
                }
                self.line = 1 + count_lines(&self.pending[..end]);
                self.pending.drain(..end);
                return Ok(());
            }
            want = self.pending.len() * 2;
        }
    }
}

impl RowReader {
    /// Open an input; `kind` None detects it (first non-blank byte `{` means JSON-lines).
    pub fn new(
        read: Box<dyn Read + Send>,
        kind: Option<InputKind>,
        delimiter: u8,
        name: &str,
    ) -> Result<Self, Failure> {
        let mut rdr = BufReader::with_capacity(1 << 20, read);
        let kind = match kind {
            Some(k) => k,
            None => {
                let head = rdr.fill_buf().map_err(|e| io_failure(&e, name))?;
                let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
                match head.iter().find(|b| !b.is_ascii_whitespace()) {
                    // An empty input has no rows (and, as JSON-lines, needs no header).
                    Some(b'{') | None => InputKind::Jsonl,
                    _ => InputKind::Csv,
                }
            }
        };
        let inner = match kind {
            InputKind::Jsonl => Inner::Jsonl { rdr, line: 0 },
            InputKind::Csv => {
                // What detection buffered starts the first block; the rest is read unbuffered.
                let head = rdr.buffer().to_vec();
                let mut blocks = CsvBlocks {
                    rdr: rdr.into_inner(),
                    headers: Vec::new(),
                    delimiter,
                    pending: head,
                    line: 1,
                    eof: false,
                };
                blocks.read_headers(name)?;
                if blocks.headers.iter().all(|h| h.is_empty()) {
                    return Err(Error::new(Place::Line(1), "no header row")
                        .in_file(name)
                        .into());
                }
                Inner::Csv(blocks)
            }
        };
        Ok(RowReader {
            name: name.to_string(),
            inner,
        })
    }

    /// Read the next batch (JSON-lines: up to `n` rows; CSV: a block of whole records);
    /// returns its [`Batch::len`], 0 at the end.
    pub fn read_batch(
        &mut self,
        target: &Target,
        n: usize,
        batch: &mut Batch,
    ) -> Result<usize, Failure> {
        let name = self.name.clone();
        batch.len = 0;
        match &mut self.inner {
            Inner::Csv(blocks) => {
                if batch.columns.is_none() {
                    batch.columns = Some(csv_columns(target, &blocks.headers).map_err(|what| {
                        Failure::from(Error::new(Place::Line(1), what).in_file(&name))
                    })?);
                }
                blocks.next_block(batch, &name)?;
            }
            Inner::Jsonl { rdr, line } => {
                let mut rows = 0;
                while rows < n {
                    if batch.lines.len() == rows {
                        batch.lines.push((0, String::new()));
                    }
                    let slot = &mut batch.lines[rows];
                    slot.1.clear();
                    let got = rdr.read_line(&mut slot.1).map_err(|e| {
                        if e.kind() == std::io::ErrorKind::InvalidData {
                            Failure::from(
                                Error::new(Place::Line(*line + 1), "invalid UTF-8").in_file(&name),
                            )
                        } else {
                            io_failure(&e, &name)
                        }
                    })?;
                    if got == 0 {
                        break;
                    }
                    *line += 1;
                    slot.0 = *line;
                    if !slot.1.trim().is_empty() {
                        rows += 1;
                    }
                }
                batch.pieces.clear();
                let mut at = 0;
                while at < rows {
                    let end = (at + JSONL_PIECE_ROWS).min(rows);
                    batch.pieces.push(Piece {
                        range: at..end,
                        first_line: 0,
                        lines: 0,
                    });
                    at = end;
                }
                batch.len = rows;
            }
        }
        Ok(batch.len)
    }
}

/// JSON-lines rows per piece of a batch.
const JSONL_PIECE_ROWS: usize = 1024;

/// For each slot of `target`, the CSV column that holds it.
fn csv_columns(target: &Target, headers: &[String]) -> Result<Vec<usize>, String> {
    let mut columns = vec![usize::MAX; target.total];
    for (c, h) in headers.iter().enumerate() {
        let slot = target.slot_of_column(h)?;
        if columns[slot] != usize::MAX {
            return Err(format!("column '{h}' appears twice"));
        }
        columns[slot] = c;
    }
    if let Some(slot) = columns.iter().position(|&c| c == usize::MAX) {
        let f = target.field_of_slot(slot);
        return Err(format!("field '{}' is missing from the input", f.name));
    }
    Ok(columns)
}

impl Target {
    /// The rows of piece `k` of a batch, in order, with their line numbers, until `row` returns
    /// false.
    fn for_each_row(
        &self,
        batch: &Batch,
        k: usize,
        row: &mut dyn FnMut(u64, &RowTexts) -> Result<bool, Error>,
    ) -> Result<(), Error> {
        let piece = &batch.pieces[k];
        if let Some(columns) = &batch.columns {
            return for_each_record(batch, piece, &mut |line, record| {
                row(line, &RowTexts::Csv { record, columns })
            });
        }
        for (line, text) in &batch.lines[piece.range.clone()] {
            let slots = self.json_slots(*line, text)?;
            if !row(*line, &RowTexts::Json(&slots))? {
                break;
            }
        }
        Ok(())
    }

    /// Convert the rows of piece `k` of a batch, in order, handing each row's line number and
    /// cells to `row`.
    pub fn convert_piece(
        &self,
        batch: &Batch,
        k: usize,
        row: &mut CellRowSink,
    ) -> Result<(), Error> {
        let mut cells = Vec::new();
        self.for_each_row(batch, k, &mut |line, texts| {
            self.cells(line, &mut cells, texts)?;
            row(line, &cells)?;
            Ok(true)
        })
    }

    /// Encode the rows of piece `k` of a batch into records of `layout`, in order. Returns
    /// None when a string is longer than its width in `layout`.
    pub fn records_of_piece(
        &self,
        batch: &Batch,
        k: usize,
        layout: &RecordLayout,
    ) -> Result<Option<RecordBuf>, Error> {
        // Room for the piece's records: one per line, and a record spans at least a byte per
        // column (its delimiters and newline), so blank lines cannot inflate the guess.
        let piece = &batch.pieces[k];
        let most = (piece.range.len() / batch.n_columns.max(1)) as u64;
        let mut buf = RecordBuf::with_capacity(self.fields.len(), layout, piece.lines.min(most));
        // Quote-free CSV takes the quick path; anything it does not take (an error, a long
        // string, an unusual spelling) is converted again by the general one, which says why.
        if let Some((text, ops)) = batch
            .plain_csv(k)
            .and_then(|(text, columns)| Some((text, self.column_ops(columns, layout)?)))
        {
            let first_line = batch.pieces[k].first_line;
            if plain_records(text, batch.delimiter, first_line, &ops, layout, &mut buf).is_some() {
                return Ok(Some(buf));
            }
            buf = RecordBuf::new(self.fields.len());
        }
        let mut fits = true;
        self.for_each_row(batch, k, &mut |line, texts| {
            fits = self.record(line, layout, &mut buf, texts)?;
            Ok(fits)
        })?;
        Ok(fits.then_some(buf))
    }

    /// How the CSV columns are stored in a record of `layout`, in column order (`columns`: the
    /// column of each slot; every column holds one slot). Neighbouring f32 columns stored next
    /// to each other make one run.
    fn column_ops(&self, columns: &[usize], layout: &RecordLayout) -> Option<Vec<ColumnOp>> {
        let mut ops = vec![None; columns.len()];
        for (i, f) in self.fields.iter().enumerate() {
            let width = layout.string_width(i);
            let size = width.unwrap_or_else(|| f.ty.kind.size());
            for e in 0..f.ty.count() {
                let at = layout.offset(i) + e * size;
                *ops.get_mut(columns[self.starts[i] + e])? = Some(match width {
                    Some(width) => ColumnOp::Text {
                        field: i,
                        at,
                        width,
                    },
                    None if f.ty.kind == Kind::F32 => ColumnOp::F32Run { at, n: 1 },
                    None => ColumnOp::Number {
                        kind: f.ty.kind,
                        at,
                        size,
                    },
                });
            }
        }
        let mut runs: Vec<ColumnOp> = Vec::with_capacity(ops.len());
        for op in ops {
            match (runs.last_mut(), op?) {
                (Some(ColumnOp::F32Run { at, n }), ColumnOp::F32Run { at: next, .. })
                    if next == *at + 4 * *n =>
                {
                    *n += 1;
                }
                (_, op) => runs.push(op),
            }
        }
        Some(runs)
    }

    /// The longest string element per field in piece `k` of a batch (0 for numbers).
    pub fn longest_strings(&self, batch: &Batch, k: usize) -> Result<Vec<usize>, Error> {
        let mut longest = vec![0; self.fields.len()];
        self.for_each_row(batch, k, &mut |_, texts| {
            for (i, f) in self.fields.iter().enumerate() {
                if f.ty.kind.is_string() {
                    for e in 0..f.ty.count() {
                        let n = texts.get(self.starts[i] + e).map_or(0, str::len);
                        longest[i] = longest[i].max(n);
                    }
                }
            }
            Ok(true)
        })?;
        Ok(longest)
    }

    /// The element texts of one JSON-lines row, by slot.
    fn json_slots<'t>(&self, line: u64, text: &'t str) -> Result<Vec<Option<Cow<'t, str>>>, Error> {
        let pairs = parse_object(text).map_err(|what| Error::new(Place::Line(line), what))?;
        let mut slots: Vec<Option<Cow<'t, str>>> = vec![None; self.total];
        for (key, raw) in pairs {
            let Some(&f) = self.index.get(key.as_ref()) else {
                return Err(Error::new(
                    Place::Line(line),
                    format!("key '{key}' is not one of the fields being written"),
                ));
            };
            let field = &self.fields[f];
            let mut elems = Vec::with_capacity(field.ty.count());
            flatten(raw, &field.ty.shape, &mut elems).map_err(|what| {
                Error::new(
                    Place::LineField {
                        line,
                        field: field.name.clone(),
                    },
                    what,
                )
            })?;
            let start = self.starts[f];
            if slots[start].is_some() {
                return Err(Error::new(
                    Place::Line(line),
                    format!("key '{key}' appears twice"),
                ));
            }
            for (k, e) in elems.into_iter().enumerate() {
                slots[start + k] = Some(e);
            }
        }
        Ok(slots)
    }
}

/// One JSON object's keys and raw values, in order.
fn parse_object(line: &str) -> Result<Vec<(Cow<'_, str>, &RawValue)>, String> {
    struct ObjectVisitor;
    impl<'de> Visitor<'de> for ObjectVisitor {
        type Value = Vec<(Cow<'de, str>, &'de RawValue)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut v = Vec::new();
            while let Some(k) = map.next_key::<BorrowedKey>()? {
                v.push((k.0, map.next_value::<&RawValue>()?));
            }
            Ok(v)
        }
    }
    let mut de = serde_json::Deserializer::from_str(line);
    let v = de
        .deserialize_map(ObjectVisitor)
        .map_err(|e| format!("not a JSON object: {e}"))?;
    de.end()
        .map_err(|e| format!("text after the JSON object: {e}"))?;
    Ok(v)
}

/// A JSON object key, borrowed from the text unless it has escapes.
struct BorrowedKey<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for BorrowedKey<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_string()))
            }
        }
        d.deserialize_str(KeyVisitor).map(BorrowedKey)
    }
}

/// The element texts of a (possibly nested) JSON value for a field of this shape: a number's
/// spelling as it stands, a string unescaped (borrowed when it has no escapes).
fn flatten<'t>(
    raw: &'t RawValue,
    shape: &[usize],
    out: &mut Vec<Cow<'t, str>>,
) -> Result<(), String> {
    let Some((&n, inner)) = shape.split_first() else {
        let s = raw.get();
        out.push(
            match s.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                Some(t) if !t.contains('\\') => Cow::Borrowed(t),
                Some(_) => {
                    Cow::Owned(serde_json::from_str::<String>(s).map_err(|e| e.to_string())?)
                }
                None => Cow::Borrowed(s),
            },
        );
        return Ok(());
    };
    let items: Vec<&'t RawValue> = serde_json::from_str(raw.get()).map_err(|_| {
        format!(
            "expected a subarray of shape {shape:?}, found {}",
            short(raw.get())
        )
    })?;
    if items.len() != n {
        return Err(format!(
            "subarray has {} elements where its dtype needs {n} (shape {shape:?})",
            items.len()
        ));
    }
    for item in items {
        flatten(item, inner, out)?;
    }
    Ok(())
}

fn short(s: &str) -> String {
    let t: String = s.chars().take(40).collect();
    if t.len() < s.len() {
        format!("{t}…")
    } else {
        t
    }
}

/// What the values of a field could be, and the longest of them (its width as text).
#[derive(Debug, Clone, Copy)]
struct Class {
    i64: bool,
    u64: bool,
    f64: bool,
    longest: usize,
}

impl Class {
    fn any() -> Self {
        Class {
            i64: true,
            u64: true,
            f64: true,
            longest: 0,
        }
    }

    fn see(&mut self, text: &str) {
        self.longest = self.longest.max(text.len());
        let t = text.trim();
        let t = t
            .strip_prefix('"')
            .and_then(|x| x.strip_suffix('"'))
            .unwrap_or(t);
        // Only what is still possible is tested.
        self.i64 = self.i64 && t.parse::<i64>().is_ok();
        self.u64 = self.u64 && t.parse::<u64>().is_ok();
        self.f64 = self.f64
            && (number_prefix(Kind::F64, t.as_bytes(), &mut [0; 8]) == Some(t.len())
                || matches!(t, "NaN" | "Infinity" | "-Infinity")
                || (!t.is_empty()
                    && t.bytes()
                        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
                    && t.parse::<f64>().is_ok()));
    }

    /// What both could be.
    fn merge(&mut self, other: Class) {
        self.i64 &= other.i64;
        self.u64 &= other.u64;
        self.f64 &= other.f64;
        self.longest = self.longest.max(other.longest);
    }

    /// As text: `|S` wide enough for the longest value and a NUL, as cryosparc-tools writes.
    fn text(self) -> Kind {
        Kind::Bytes(self.longest + 1)
    }

    fn kind(self) -> Kind {
        if self.i64 {
            Kind::I64
        } else if self.u64 {
            Kind::U64
        } else if self.f64 {
            Kind::F64
        } else {
            self.text()
        }
    }
}

/// The fields a CSV header names: columns `x[i][j]` are elements of field `x`.
struct CsvColumns {
    /// Each field's name and shape, in order of first appearance.
    fields: Vec<(String, Vec<usize>)>,
    /// The field of each column.
    field_of_column: Vec<String>,
}

impl CsvColumns {
    fn of(headers: &[String]) -> Result<Self, Error> {
        let mut fields: Vec<(String, Vec<usize>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut field_of_column = Vec::with_capacity(headers.len());
        for h in headers {
            let (base, idx) = split_column_name(h);
            if let Some(i) = idx.iter().find(|&&i| i > MAX_CSV_INDEX) {
                return Err(Error::new(
                    Place::LineField {
                        line: 1,
                        field: base.to_string(),
                    },
                    format!(
                        "column '{h}': subarray index {i} is beyond {MAX_CSV_INDEX}, the last a .cs subarray can have"
                    ),
                ));
            }
            let k = *index.entry(base.to_string()).or_insert_with(|| {
                fields.push((base.to_string(), vec![0; idx.len()]));
                fields.len() - 1
            });
            let shape = &mut fields[k].1;
            if shape.len() != idx.len() {
                return Err(Error::new(
                    Place::Line(1),
                    format!("column '{h}' has a different number of indices than other '{base}' columns"),
                ));
            }
            for (d, i) in shape.iter_mut().zip(&idx) {
                *d = (*d).max(i + 1);
            }
            field_of_column.push(base.to_string());
        }
        Ok(CsvColumns {
            fields,
            field_of_column,
        })
    }
}

/// The fields of a CSV input when its header alone decides every dtype: each field is one of
/// cryoSPARC's (FORMATS.md §7) with its usual shape. Strings are `|O`: their width comes from
/// the data as it is converted. None for JSON-lines, or when any field must be inferred.
pub fn fields_from_header(reader: &RowReader) -> Result<Option<Vec<Field>>, Error> {
    let Inner::Csv(blocks) = &reader.inner else {
        return Ok(None);
    };
    let columns = CsvColumns::of(&blocks.headers).map_err(|e| e.in_file(&reader.name))?;
    let known = |(name, shape): &(String, Vec<usize>)| {
        let kind = known_kind(name, shape)?;
        Some(Field {
            name: name.clone(),
            ty: FieldType {
                kind: if kind.is_string() {
                    Kind::HeapStr
                } else {
                    kind
                },
                order: ByteOrder::Little,
                shape: shape.clone(),
            },
        })
    };
    Ok(columns.fields.iter().map(known).collect())
}

/// The dtype of one of cryoSPARC's fields (FORMATS.md §7) when `name` is one and has its
/// usual shape (strings: any string kind).
fn known_kind(name: &str, shape: &[usize]) -> Option<Kind> {
    known_field(name)
        .filter(|(_, known_shape)| known_shape == shape)
        .map(|(k, _)| k)
}

/// Infer the fields of an input: known cryoSPARC fields by name, others from their values.
pub fn infer_fields(reader: &mut RowReader) -> Result<Vec<Field>, Failure> {
    // name → (shape, class), in order of first appearance
    let mut order: Vec<String> = Vec::new();
    let mut seen: HashMap<String, (Vec<usize>, Class)> = HashMap::new();
    let name = reader.name.clone();
    match &mut reader.inner {
        Inner::Csv(blocks) => {
            let columns = CsvColumns::of(&blocks.headers).map_err(|e| e.in_file(&name))?;
            for (base, shape) in &columns.fields {
                order.push(base.clone());
                seen.insert(base.clone(), (shape.clone(), Class::any()));
            }
            let col_field = columns.field_of_column;
            // A column of one of cryoSPARC's numeric fields takes the field's dtype whatever it
            // holds (a wrong value is reported when converted): only the others are classed.
            let classed: Vec<bool> = col_field
                .iter()
                .map(|base| known_kind(base, &seen[base].0).is_none_or(Kind::is_string))
                .collect();
            // Per column, what its values could be: pieces are classed in parallel, then merged.
            let mut batch = Batch::default();
            let mut classes = vec![Class::any(); col_field.len()];
            loop {
                blocks.next_block(&mut batch, &name)?;
                if batch.len == 0 {
                    break;
                }
                let pieces: Vec<Result<Vec<Class>, Error>> = batch
                    .pieces
                    .par_iter()
                    .map(|piece| {
                        let mut classes = vec![Class::any(); batch.n_columns];
                        for_each_record(&batch, piece, &mut |_, rec| {
                            for ((class, text), _) in classes
                                .iter_mut()
                                .zip(rec)
                                .zip(&classed)
                                .filter(|(_, &c)| c)
                            {
                                class.see(text);
                            }
                            Ok(true)
                        })?;
                        Ok(classes)
                    })
                    .collect();
                for piece in pieces {
                    let piece = piece.map_err(|e| e.in_file(&name))?;
                    for (all, p) in classes.iter_mut().zip(piece) {
                        all.merge(p);
                    }
                }
            }
            for (class, base) in classes.into_iter().zip(&col_field) {
                if let Some(e) = seen.get_mut(base) {
                    e.1.merge(class);
                }
            }
        }
        Inner::Jsonl { rdr, line } => loop {
            let mut text = String::new();
            let buf = &mut text;
            buf.clear();
            if rdr.read_line(buf).map_err(|e| io_failure(&e, &name))? == 0 {
                break;
            }
            *line += 1;
            if buf.trim().is_empty() {
                continue;
            }
            let at = *line;
            let pairs = parse_object(buf)
                .map_err(|what| Error::new(Place::Line(at), what).in_file(&name))?;
            for (key, raw) in pairs {
                if !seen.contains_key(key.as_ref()) {
                    order.push(key.to_string());
                    seen.insert(key.to_string(), (json_shape(raw), Class::any()));
                }
                let Some(entry) = seen.get_mut(key.as_ref()) else {
                    continue;
                };
                let mut elems = Vec::new();
                flatten(raw, &entry.0.clone(), &mut elems).map_err(|what| {
                    Error::new(
                        Place::LineField {
                            line: at,
                            field: key.to_string(),
                        },
                        what,
                    )
                    .in_file(&name)
                })?;
                for e in &elems {
                    entry.1.see(e);
                }
            }
        },
    }
    let mut fields = Vec::with_capacity(order.len());
    for n in order {
        let (shape, class) = &seen[&n];
        let kind = match known_kind(&n, shape) {
            Some(k) if k.is_string() => class.text(),
            Some(k) => k,
            None => class.kind(),
        };
        fields.push(Field {
            name: n,
            ty: FieldType {
                kind,
                order: ByteOrder::Little,
                shape: shape.clone(),
            },
        });
    }
    if fields.is_empty() {
        return Err(Error::in_whole_file("no columns in the input")
            .in_file(&name)
            .into());
    }
    Ok(fields)
}

/// The nested-array shape of a JSON value (`[]` for a scalar).
fn json_shape(raw: &RawValue) -> Vec<usize> {
    let mut shape = Vec::new();
    let mut cur: Option<Vec<&RawValue>> = serde_json::from_str(raw.get()).ok();
    while let Some(items) = cur {
        if items.is_empty() || shape.len() == 3 {
            break;
        }
        shape.push(items.len());
        cur = serde_json::from_str(items[0].get()).ok();
    }
    shape
}
