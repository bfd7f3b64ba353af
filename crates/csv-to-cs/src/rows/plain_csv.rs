//! Quote-free CSV encoded in one pass: each column stored as a [`ColumnOp`] says, numbers
//! parsed where they stand (neighbouring f32 columns in a loop of their own). Anything out of
//! the ordinary is left to the general path of [`Target::records_of_piece`], which says what is
//! wrong.

use super::convert::Target;
use cs_format::container::records::{RecordBuf, RecordLayout};
use cs_format::text::parse::{f32_prefix, number_prefix};
use cs_format::Kind;

/// How one CSV column is stored in a record, for [`plain_records`].
#[derive(Debug, Clone, Copy)]
pub(super) enum ColumnOp {
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
pub(super) fn plain_records(
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

impl Target {
    /// How the CSV columns are stored in a record of `layout`, in column order (`columns`: the
    /// column of each slot; every column holds one slot). Neighbouring f32 columns stored next
    /// to each other make one run.
    pub(super) fn column_ops(
        &self,
        columns: &[usize],
        layout: &RecordLayout,
    ) -> Option<Vec<ColumnOp>> {
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
}
