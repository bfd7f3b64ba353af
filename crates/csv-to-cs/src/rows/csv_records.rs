//! The records of a CSV piece: where the text holds no quote and no carriage return, its lines
//! split at the delimiter; else what the CSV parser reads. Each record has its line number and
//! is checked to have as many columns as the header.

use super::batches::{Batch, Piece};
use cs_format::{Error, Place};

/// A CSV parser error, with its line counted from `first_line` (the line of the parsed text's
/// first byte).
pub(super) fn csv_error(e: &csv::Error, first_line: u64) -> Error {
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
pub(super) fn csv_parser(text: &[u8], delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text)
}

/// Takes a row's line number and its column texts; returns false to stop.
type TextRowSink<'a> = dyn FnMut(u64, &[&str]) -> Result<bool, Error> + 'a;

/// The records of one CSV piece of a batch, each with its line number, checked to have as many
/// columns as the header, until `record` returns false.
pub(super) fn for_each_record(
    batch: &Batch,
    piece: &Piece,
    record: &mut TextRowSink,
) -> Result<(), Error> {
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
pub(super) fn quote_free(text: &[u8]) -> bool {
    memchr::memchr2(b'"', b'\r', text).is_none()
}

/// Newlines in `text`.
pub(super) fn count_lines(text: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', text).count() as u64
}
