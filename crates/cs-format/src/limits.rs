//! The bounds every reader keeps, whatever a header or a header row declares: memory and time
//! follow the bytes actually read. Sizes a file's length can prove (rows of records, column
//! payloads) are checked against that length; the bounds below are for what no byte of the input
//! stands behind (column names spelled out for a subarray, a record laid out from a schema), and
//! every byte size is computed with checked arithmetic, so that a size which overflows 64 bits
//! is refused instead of wrapping to a small one.

use crate::dtype::Field;
use crate::error::{Error, Place, Result};

/// Largest subarray dimension (cryosparc-tools' limit: `Dataset` shapes are u16 per dimension).
pub const MAX_SUBARRAY_DIM: usize = 65535;

/// Largest record (one row of a numpy file, all fields) csutils reads or writes in one piece:
/// 256 MiB. Real cryoSPARC records are a few kB (a particle: 455 bytes; the 100-class fixture:
/// 8,426), so this is far beyond any of them, yet small enough that the few records a reader or
/// writer holds at once fit in memory. A numpy file with wider rows is refused when it is opened,
/// unless it has no rows (then its header, schema and row count still print).
pub const MAX_RECORD_BYTES: usize = 1 << 28;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::{ByteOrder, FieldType, Kind};

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
}
