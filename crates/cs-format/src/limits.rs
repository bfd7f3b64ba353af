//! The bounds every reader keeps, whatever a header or a header row declares: memory and time
//! follow the bytes actually read. Sizes a file's length can prove (rows of records, column
//! payloads) are checked against that length; the bounds below are for what no byte of the input
//! stands behind (column names spelled out for a subarray, a record laid out from a schema), and
//! every byte size is computed with checked arithmetic, so that a size which overflows 64 bits
//! is refused instead of wrapping to a small one.

use crate::container::dtype::Field;
use crate::error::{Error, Place, Result};

/// Largest subarray dimension (cryosparc-tools' limit: `Dataset` shapes are u16 per dimension).
pub const MAX_SUBARRAY_DIM: usize = 65535;

/// Largest subarray index a CSV column name may carry (`x[65534]`): one below
/// [`MAX_SUBARRAY_DIM`], since no `.cs` subarray can be longer. A larger index is refused before
/// any column is laid out for it.
pub const MAX_CSV_INDEX: usize = MAX_SUBARRAY_DIM - 1;

/// Most elements one row may hold (over all its fields) where a tool spells every element out
/// on its own without input bytes behind it: the CSV header row of `cs-to-csv` (one column per
/// element), and the columns `csv-to-cs` lays out from a template, a schema or a header row.
/// 2^20 = 1,048,576: real cryoSPARC rows hold a few thousand elements (the 100-class fixture:
/// 1,802 fields, 2,102 elements) and subarrays a few hundred at most, while 2^20 column names
/// already make a header row of tens of MB. A subarray of three 65535-long dimensions (2.8e14
/// elements, which a 0-row file can declare in a few bytes) is refused, not spelled out.
pub const MAX_ROW_ELEMENTS: usize = 1 << 20;

/// Largest record (one row of a numpy file, all fields) csutils reads or writes in one piece:
/// 256 MiB. Real cryoSPARC records are a few kB (a particle: 455 bytes; the 100-class fixture:
/// 8,426), so this is far beyond any of them, yet small enough that the few records a reader or
/// writer holds at once fit in memory. A numpy file with wider rows is refused when it is opened,
/// unless it has no rows (then its header, schema and row count still print); a `.cs` file whose
/// fixed-width strings would make wider rows (a long string in a field of many elements) is
/// refused before it is laid out.
pub const MAX_RECORD_BYTES: usize = 1 << 28;

/// Widest `|S` string width a template (or any declaration) may set as the width `csv-to-cs`
/// first lays a text field out with, before any row has shown a string: 4096 bytes (Linux's
/// `PATH_MAX`; cryoSPARC's strings are paths, rarely over 200 bytes). A wider declaration starts
/// at this width and widens as longer strings arrive, so a declared width costs at most 4 kB per
/// element before the rows show longer strings.
pub const MAX_PRESET_STRING_WIDTH: usize = 4096;

/// Deepest nesting of a `.csg` (YAML) document: 64 levels. cryoSPARC's `.csg` files are 3
/// deep (`results` → slot → `metafile`); the YAML parser's time grows with the square of the
/// nesting (thousands of `[` in a few kB take seconds), so deeper documents are refused, by
/// line, before they are parsed.
pub const MAX_YAML_DEPTH: usize = 64;

/// Check that one record of `fields` (as stored) is at most [`MAX_RECORD_BYTES`]; returns its
/// size. The error names the field at which the record goes past it.
pub fn check_record_bytes(fields: &[Field]) -> Result<usize> {
    let mut total: usize = 0;
    for f in fields {
        let sum = f.ty.checked_size().and_then(|n| total.checked_add(n));
        match sum {
            Some(n) if n <= MAX_RECORD_BYTES => total = n,
            _ => {
                let size = sum.map_or("more bytes than 64 bits can count".into(), |n| {
                    format!("{n} bytes")
                });
                let this =
                    f.ty.checked_size()
                        .map_or("more than 64 bits can count".into(), |n| n.to_string());
                return Err(Error::new(
                    Place::Field(f.name.clone()),
                    format!(
                        "the fields up to this one (it: {this} bytes) make a record of {size}, more than the {MAX_RECORD_BYTES} csutils handles in one row"
                    ),
                ));
            }
        }
    }
    Ok(total)
}

/// Check that spelling out every element of `fields` one by one stays within
/// [`MAX_ROW_ELEMENTS`]; the error names the field at which the count goes past it.
pub fn check_row_elements(fields: &[Field]) -> Result<()> {
    let mut total: usize = 0;
    for f in fields {
        let count = f.ty.checked_count().unwrap_or(usize::MAX);
        total = total.saturating_add(count);
        if total > MAX_ROW_ELEMENTS {
            let what = if count > MAX_ROW_ELEMENTS {
                format!(
                    "subarray of shape {:?} holds {count} elements per row, more than the {MAX_ROW_ELEMENTS} csutils spells out one by one",
                    f.ty.shape
                )
            } else {
                format!(
                    "the fields up to this one hold {total} elements per row, more than the {MAX_ROW_ELEMENTS} csutils spells out one by one"
                )
            };
            return Err(Error::new(Place::Field(f.name.clone()), what));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::dtype::{ByteOrder, FieldType, Kind};

    fn field(name: &str, shape: &[usize]) -> Field {
        Field {
            name: name.into(),
            ty: FieldType {
                kind: Kind::F32,
                order: ByteOrder::Little,
                shape: shape.to_vec(),
            },
        }
    }

    #[test]
    fn records_past_the_bound_or_64_bits_name_the_field() {
        let e = check_record_bytes(&[field("a", &[2]), field("x", &[65535, 65535])]).unwrap_err();
        assert_eq!(e.place, Place::Field("x".into()));
        assert!(e.what.contains("record of 17179344908 bytes"), "{}", e.what);
        let wide = Field {
            name: "s".into(),
            ty: FieldType {
                kind: Kind::Bytes(usize::MAX / 2),
                order: ByteOrder::Little,
                shape: vec![3],
            },
        };
        let e = check_record_bytes(&[wide]).unwrap_err();
        assert!(
            e.what.contains("record of more bytes than 64 bits"),
            "{}",
            e.what
        );
        assert_eq!(
            check_record_bytes(&[field("a", &[2]), field("b", &[3])]),
            Ok(20)
        );
    }

    #[test]
    fn a_row_of_real_size_passes() {
        let fields: Vec<Field> = (0..2000).map(|i| field(&format!("f{i}"), &[3])).collect();
        assert!(check_row_elements(&fields).is_ok());
        assert!(check_row_elements(&[field("x", &[1024, 1024])]).is_ok());
    }

    #[test]
    fn one_huge_subarray_is_refused_by_name() {
        let e = check_row_elements(&[field("a", &[2]), field("x", &[65535, 65535, 65535])])
            .unwrap_err();
        assert_eq!(e.place, Place::Field("x".into()));
        assert!(e.what.contains("281462092005375 elements"), "{}", e.what);
    }

    #[test]
    fn many_fields_that_add_up_past_the_bound_name_the_one_that_crosses_it() {
        let fields = [field("a", &[1024, 1024]), field("b", &[1])];
        let e = check_row_elements(&fields).unwrap_err();
        assert_eq!(e.place, Place::Field("b".into()));
        assert!(e.what.contains("1048577 elements"), "{}", e.what);
    }
}
