//! The input cut into batches of whole rows: CSV in blocks that end on record boundaries,
//! each cut into pieces that are converted in parallel; JSON-lines a number of lines at a time.

use super::convert::{csv_columns, Target};
use super::csv_records::{count_lines, csv_error, csv_parser, quote_free};
use cs_cli::Failure;
use cs_format::{Error, Place};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Input syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Csv,
    Jsonl,
}

/// Rows of a CSV or JSON-lines input.
pub struct RowReader {
    pub(super) name: String,
    pub(super) inner: Inner,
}

/// Bytes read from a CSV input per block (a block is then cut into pieces converted in parallel).
const CSV_BLOCK: usize = 4 << 20;
/// Bytes per piece of a block.
const CSV_PIECE: usize = 128 << 10;
/// JSON-lines rows per piece of a batch.
const JSONL_PIECE_ROWS: usize = 1024;

/// The reader of each input syntax.
pub(super) enum Inner {
    Csv(CsvBlocks),
    Jsonl {
        rdr: BufReader<Box<dyn Read + Send>>,
        line: u64,
    },
}

/// A CSV input read in blocks that end on record boundaries, so that the records of each block
/// can be parsed in parallel pieces. Only the boundaries are found here, in one pass: where a
/// block holds no quote character they are its newlines, else a CSV parser finds them.
pub(super) struct CsvBlocks {
    /// The input itself, unbuffered: blocks are read straight into `pending`.
    rdr: Box<dyn Read + Send>,
    pub(super) headers: Vec<String>,
    delimiter: u8,
    /// Bytes read but not yet handed out (they start a record).
    pending: Vec<u8>,
    /// Line number of the first byte of `pending`.
    line: u64,
    eof: bool,
}

/// A range of whole records of a block and the line number of its first byte.
#[derive(Debug, Clone)]
pub(super) struct Piece {
    pub(super) range: std::ops::Range<usize>,
    pub(super) first_line: u64,
    /// Input lines in the piece (CSV; an upper bound on its records), 0 when not counted.
    pub(super) lines: u64,
}

/// Rows read but not yet converted (reused from batch to batch).
#[derive(Default)]
pub struct Batch {
    /// CSV: whole records, cut into pieces; per slot of the target, the column that holds it.
    pub(super) bytes: Vec<u8>,
    pub(super) pieces: Vec<Piece>,
    pub(super) columns: Option<Vec<usize>>,
    pub(super) n_columns: usize,
    pub(super) delimiter: u8,
    /// CSV: the whole batch holds no quote and no carriage return (each piece need not be
    /// searched again).
    plain: bool,
    /// JSON-lines: (line number, text); pieces index this.
    pub(super) lines: Vec<(u64, String)>,
    pub(super) len: usize,
}

impl Batch {
    /// Pieces the batch is converted in, in input order.
    pub fn pieces(&self) -> usize {
        self.pieces.len()
    }

    /// The text of CSV piece `k` and the column of each slot, when the text holds no quote
    /// and no carriage return.
    pub(super) fn plain_csv(&self, k: usize) -> Option<(&[u8], &[usize])> {
        let columns = self.columns.as_deref()?;
        let text = self.bytes.get(self.pieces.get(k)?.range.clone())?;
        self.quote_free(text).then_some((text, columns))
    }

    /// True when `text`, a piece of this batch, holds no quote and no carriage return.
    pub(super) fn quote_free(&self, text: &[u8]) -> bool {
        self.plain || quote_free(text)
    }
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
                .map_err(|e| cs_cli::io_failure(&e, Path::new(name)))?;
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
    pub(super) fn next_block(&mut self, batch: &mut Batch, name: &str) -> Result<(), Failure> {
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
                let head = rdr
                    .fill_buf()
                    .map_err(|e| cs_cli::io_failure(&e, Path::new(name)))?;
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
                            cs_cli::io_failure(&e, Path::new(&name))
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
