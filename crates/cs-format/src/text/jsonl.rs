//! JSON-lines spelling of rows: one compact object per row, keys in field order, subarrays as
//! nested arrays (see [`crate::text::cell`] for how each value is spelled).

use crate::container::dataset::Chunk;
use crate::container::dtype::Field;
use crate::error::Result;
use crate::text::cell;
use std::ops::Range;

/// Something that spells rows of chunks as text lines (JSON-lines, CSV).
pub trait RowSpeller: Sync {
    /// Append rows `rows` of `chunk` to `out`, one line each.
    fn write_rows(&self, chunk: &Chunk, rows: Range<usize>, out: &mut Vec<u8>) -> Result<()>;
}

impl RowSpeller for JsonRowWriter {
    fn write_rows(&self, chunk: &Chunk, rows: Range<usize>, out: &mut Vec<u8>) -> Result<()> {
        JsonRowWriter::write_rows(self, chunk, rows, out)
    }
}

/// Options of the JSON spelling.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonOptions {
    /// Quote every 64-bit integer (for JSON tools that read numbers as doubles, like jq 1.6).
    pub int64_as_string: bool,
}

/// Writes rows of chunks with a fixed set of fields as JSON-lines.
#[derive(Debug, Clone)]
pub struct JsonRowWriter {
    /// `{"name":` for the first field, `,"name":` for the others.
    keys: Vec<Vec<u8>>,
    opts: JsonOptions,
}

impl JsonRowWriter {
    /// A writer for rows with these fields.
    pub fn new(fields: &[Field], opts: JsonOptions) -> Self {
        let keys = fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let mut k = vec![if i == 0 { b'{' } else { b',' }];
                cell::json_string(&f.name, &mut k);
                k.push(b':');
                k
            })
            .collect();
        JsonRowWriter { keys, opts }
    }

    /// Append rows `rows` of `chunk` to `out`, one line each.
    pub fn write_rows(&self, chunk: &Chunk, rows: Range<usize>, out: &mut Vec<u8>) -> Result<()> {
        let quote = self.opts.int64_as_string;
        for row in rows {
            if self.keys.is_empty() {
                out.extend_from_slice(b"{}\n");
                continue;
            }
            for (col, key) in self.keys.iter().enumerate() {
                out.extend_from_slice(key);
                let ty = &chunk.fields()[col].ty;
                if ty.kind.is_string() {
                    if ty.shape.is_empty() {
                        let s = chunk.scalar(row, col, 0)?;
                        cell::json_scalar(&s, ty.kind, quote, out);
                    } else {
                        let mut next = 0;
                        self.nested(chunk, row, col, &ty.shape, &mut next, out)?;
                    }
                } else {
                    let raw = chunk.raw(row, col);
                    let esize = ty.kind.size();
                    if ty.shape.is_empty() {
                        cell::json_number(ty.kind, ty.order, raw, quote, out);
                    } else {
                        let mut elems = raw.chunks_exact(esize);
                        nested_numbers(ty.kind, ty.order, &ty.shape, &mut elems, quote, out);
                    }
                }
            }
            out.extend_from_slice(b"}\n");
        }
        Ok(())
    }

    fn nested(
        &self,
        chunk: &Chunk,
        row: usize,
        col: usize,
        shape: &[usize],
        next: &mut usize,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let kind = chunk.fields()[col].ty.kind;
        let quote = self.opts.int64_as_string;
        out.push(b'[');
        for i in 0..shape[0] {
            if i > 0 {
                out.push(b',');
            }
            if shape.len() == 1 {
                let s = chunk.scalar(row, col, *next)?;
                *next += 1;
                cell::json_scalar(&s, kind, quote, out);
            } else {
                self.nested(chunk, row, col, &shape[1..], next, out)?;
            }
        }
        out.push(b']');
        Ok(())
    }
}

/// Numeric subarray elements as nested JSON arrays, C order.
fn nested_numbers(
    kind: crate::container::dtype::Kind,
    order: crate::container::dtype::ByteOrder,
    shape: &[usize],
    elems: &mut std::slice::ChunksExact<'_, u8>,
    quote: bool,
    out: &mut Vec<u8>,
) {
    out.push(b'[');
    for i in 0..shape[0] {
        if i > 0 {
            out.push(b',');
        }
        if shape.len() == 1 {
            if let Some(e) = elems.next() {
                cell::json_number(kind, order, e, quote, out);
            }
        } else {
            nested_numbers(kind, order, &shape[1..], elems, quote, out);
        }
    }
    out.push(b']');
}
