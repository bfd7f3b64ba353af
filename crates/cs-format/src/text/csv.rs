//! CSV spelling of rows: RFC 4180, one header row of field names, subarrays flattened in C
//! order with one index suffix per dimension (`alignments3D/pose[0]`, `x[1][2]`), every cell
//! spelled as `cs-cat` spells it (non-finite floats bare: `NaN`, `Infinity`, `-Infinity`;
//! complex as `[re,im]`).

use crate::container::dataset::Chunk;
use crate::container::dtype::{Field, Kind};
use crate::error::Result;
#[cfg(doc)]
use crate::limits::MAX_CSV_INDEX;
use crate::text::cell::{self, Scalar};
use crate::text::jsonl::RowSpeller;
use std::ops::Range;

/// The flattened column names of a field: `name`, or `name[i]…` for each subarray element.
pub fn column_names(field: &Field) -> Vec<String> {
    let mut names = vec![field.name.clone()];
    for &d in &field.ty.shape {
        names = names
            .iter()
            .flat_map(|n| (0..d).map(move |i| format!("{n}[{i}]")))
            .collect();
    }
    names
}

/// Split a flattened column name into its field name and element indices:
/// `pose[1]` → (`pose`, `[1]`); names without a trailing index give no indices. An index too
/// large for `usize` comes back as `usize::MAX` (beyond [`MAX_CSV_INDEX`], which readers
/// refuse), not as part of the name.
pub fn split_column_name(column: &str) -> (&str, Vec<usize>) {
    let mut rest = column;
    let mut idx = Vec::new();
    while let Some(stripped) = rest.strip_suffix(']') {
        let Some(open) = stripped.rfind('[') else {
            break;
        };
        let digits = &stripped[open + 1..];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            break;
        }
        idx.push(digits.parse::<usize>().unwrap_or(usize::MAX));
        rest = &stripped[..open];
    }
    idx.reverse();
    (rest, idx)
}

/// Writes rows as delimited text.
#[derive(Debug, Clone)]
pub struct CsvRowWriter {
    delimiter: u8,
}

impl CsvRowWriter {
    /// A writer with this delimiter (`,` for CSV, tab for TSV).
    pub fn new(delimiter: u8) -> Self {
        CsvRowWriter { delimiter }
    }

    /// The header line for these fields: one column name per element, so their elements per row
    /// must stay within [`MAX_ROW_ELEMENTS`](crate::limits::MAX_ROW_ELEMENTS) (the error names
    /// the field that goes past it).
    pub fn header(&self, fields: &[Field]) -> Result<Vec<u8>> {
        crate::limits::check_row_elements(fields)?;
        let mut out = Vec::new();
        for (i, name) in fields.iter().flat_map(column_names).enumerate() {
            if i > 0 {
                out.push(self.delimiter);
            }
            self.text(&name, &mut out);
        }
        out.push(b'\n');
        Ok(out)
    }

    /// Append a text cell, quoted when it holds the delimiter, a quote or a line break.
    fn text(&self, s: &str, out: &mut Vec<u8>) {
        let b = s.as_bytes();
        if b.iter()
            .any(|&c| c == self.delimiter || c == b'"' || c == b'\n' || c == b'\r')
        {
            out.push(b'"');
            for &c in b {
                if c == b'"' {
                    out.push(b'"');
                }
                out.push(c);
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(b);
        }
    }

    fn element(&self, s: &Scalar<'_>, out: &mut Vec<u8>) {
        match s {
            Scalar::Int(v) => cell::spell_i64(*v, out),
            Scalar::UInt(v) => cell::spell_u64(*v, out),
            Scalar::F32(v) => cell::spell_f32(*v, out),
            Scalar::F64(v) => cell::spell_f64(*v, out),
            Scalar::C64(..) | Scalar::C128(..) => {
                let mut t = Vec::new();
                match s {
                    Scalar::C64(re, im) => {
                        t.push(b'[');
                        cell::spell_f32(*re, &mut t);
                        t.push(b',');
                        cell::spell_f32(*im, &mut t);
                    }
                    Scalar::C128(re, im) => {
                        t.push(b'[');
                        cell::spell_f64(*re, &mut t);
                        t.push(b',');
                        cell::spell_f64(*im, &mut t);
                    }
                    _ => {}
                }
                t.push(b']');
                self.text(&String::from_utf8_lossy(&t), out);
            }
            Scalar::Str(t) => self.text(t, out),
        }
    }
}

impl RowSpeller for CsvRowWriter {
    fn write_rows(&self, chunk: &Chunk, rows: Range<usize>, out: &mut Vec<u8>) -> Result<()> {
        for row in rows {
            let mut first = true;
            for (col, f) in chunk.fields().iter().enumerate() {
                let kind = f.ty.kind;
                let raw = chunk.raw(row, col);
                let esize = kind.size();
                for i in 0..f.ty.count() {
                    if !first {
                        out.push(self.delimiter);
                    }
                    first = false;
                    if kind.is_string() || matches!(kind, Kind::C64 | Kind::C128) {
                        let s = chunk.scalar(row, col, i)?;
                        self.element(&s, out);
                    } else {
                        let e = raw.get(i * esize..(i + 1) * esize).unwrap_or_default();
                        cell::spell_number(kind, f.ty.order, e, out);
                    }
                }
            }
            out.push(b'\n');
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::dtype::{ByteOrder, FieldType};

    #[test]
    fn subarray_columns_are_flattened_in_c_order() {
        let f = Field {
            name: "x".into(),
            ty: FieldType {
                kind: Kind::F32,
                order: ByteOrder::Little,
                shape: vec![2, 3],
            },
        };
        assert_eq!(
            column_names(&f),
            ["x[0][0]", "x[0][1]", "x[0][2]", "x[1][0]", "x[1][1]", "x[1][2]"]
        );
        assert_eq!(split_column_name("x[1][2]"), ("x", vec![1, 2]));
        assert_eq!(
            split_column_name("alignments3D/pose[0]"),
            ("alignments3D/pose", vec![0])
        );
        assert_eq!(split_column_name("plain"), ("plain", vec![]));
        assert_eq!(split_column_name("odd[a]"), ("odd[a]", vec![]));
        assert_eq!(
            split_column_name("x[99999999999999999999999]"),
            ("x", vec![usize::MAX]),
            "an index past usize is an index, refused later, not part of the name"
        );
    }

    #[test]
    fn text_cells_are_quoted_only_when_needed() {
        let w = CsvRowWriter::new(b',');
        let mut out = Vec::new();
        w.text("plain", &mut out);
        out.push(b'|');
        w.text("a,b \"q\"", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "plain|\"a,b \"\"q\"\"\"");
    }
}

/// What a CSV header row shows it is instead of a row of field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderMixup {
    /// One column whose name holds tabs, read with another delimiter: a tab-separated file.
    TabSeparated,
    /// Every cell a number: a file without a header row.
    Numbers,
}

/// The mix-up a header row read with `delimiter` shows, if any: a tab-separated header read as
/// CSV, or a first row of numbers (cryoSPARC's field names never are).
pub fn header_mixup(headers: &[String], delimiter: u8) -> Option<HeaderMixup> {
    if delimiter != b'\t' && headers.len() == 1 && headers[0].contains('\t') {
        return Some(HeaderMixup::TabSeparated);
    }
    let number = |cell: &String| !cell.trim().is_empty() && cell.trim().parse::<f64>().is_ok();
    (!headers.is_empty() && headers.iter().all(number)).then_some(HeaderMixup::Numbers)
}

#[cfg(test)]
mod header_mixup_tests {
    use super::{header_mixup, HeaderMixup};

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn a_tab_separated_header_read_as_csv_is_one() {
        let tsv = row(&["uid\tctf/df1_A"]);
        assert_eq!(header_mixup(&tsv, b','), Some(HeaderMixup::TabSeparated));
        assert_eq!(header_mixup(&tsv, b'\t'), None);
        assert_eq!(header_mixup(&row(&["uid", "a\tb"]), b','), None);
    }

    #[test]
    fn a_first_row_of_numbers_is_one_and_field_names_are_not() {
        assert_eq!(
            header_mixup(&row(&["1", "2.5", "-3e4", "NaN"]), b','),
            Some(HeaderMixup::Numbers)
        );
        assert_eq!(header_mixup(&row(&["uid", "2.5"]), b','), None);
        assert_eq!(header_mixup(&row(&["1", ""]), b','), None);
        assert_eq!(header_mixup(&row(&[]), b','), None);
    }
}
