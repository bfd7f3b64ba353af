//! [`Target`], the fields being written: each row of a batch converted into their cells, or
//! encoded into a record of a layout, with errors naming the line and the field.

use super::batches::Batch;
use super::csv_records::for_each_record;
use super::json_objects::{flatten, parse_object};
use super::plain_csv::plain_records;
use cs_format::container::records::{RecordBuf, RecordLayout};
use cs_format::container::writer::push_string_element;
use cs_format::text::csv::split_column_name;
use cs_format::text::parse::{element_from_text, number_into};
use cs_format::{Error, Field, Place};
use std::borrow::Cow;

/// The fields rows are converted to, and where each element goes.
pub struct Target {
    pub(super) fields: Vec<Field>,
    /// Field by name (looked up per key of every JSON-lines row: a fast hash).
    pub(super) index: foldhash::HashMap<String, usize>,
    /// First slot of each field; a field has `count()` slots.
    pub(super) starts: Vec<usize>,
    /// Slots in all.
    pub(super) total: usize,
}

impl Target {
    /// Rows converted to `fields`.
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

    /// The fields rows are converted to.
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

/// Takes a row's line number and its converted cells.
pub type CellRowSink<'a> = dyn FnMut(u64, &[Vec<u8>]) -> Result<(), Error> + 'a;

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

/// For each slot of `target`, the CSV column that holds it.
pub(super) fn csv_columns(target: &Target, headers: &[String]) -> Result<Vec<usize>, String> {
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
