//! Field types: numpy type strings, element kinds, shapes, and the schema of a dataset.

use crate::limits::MAX_SUBARRAY_DIM;
use serde_json::json;

/// The element type of a field, independent of byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Signed 8-bit integer (`i1`).
    I8,
    /// Signed 16-bit integer (`i2`).
    I16,
    /// Signed 32-bit integer (`i4`).
    I32,
    /// Signed 64-bit integer (`i8`).
    I64,
    /// Unsigned 8-bit integer (`u1`).
    U8,
    /// Unsigned 16-bit integer (`u2`).
    U16,
    /// Unsigned 32-bit integer (`u4`).
    U32,
    /// Unsigned 64-bit integer (`u8`): uids.
    U64,
    /// 32-bit float (`f4`).
    F32,
    /// 64-bit float (`f8`).
    F64,
    /// complex64: two f32 (real, imaginary).
    C64,
    /// complex128: two f64 (real, imaginary).
    C128,
    /// Fixed-width bytes `S<n>`: UTF-8, trailing NULs dropped.
    Bytes(usize),
    /// Fixed-width UCS-4 text `U<n>` (n characters, 4 bytes each).
    Ucs4(usize),
    /// A u64 byte offset into a CSDAT string heap.
    HeapStr,
}

/// Byte order of multi-byte elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Least significant byte first (`<`).
    Little,
    /// Most significant byte first (`>`).
    Big,
}

impl Kind {
    /// Bytes one element occupies in storage.
    pub fn size(self) -> usize {
        match self {
            Kind::I8 | Kind::U8 => 1,
            Kind::I16 | Kind::U16 => 2,
            Kind::I32 | Kind::U32 | Kind::F32 => 4,
            Kind::I64 | Kind::U64 | Kind::F64 | Kind::C64 | Kind::HeapStr => 8,
            Kind::C128 => 16,
            Kind::Bytes(n) => n,
            // Saturating: never wraps to a small size. Parsed type strings are checked
            // (`parse_typestr` refuses a `U` width whose bytes overflow).
            Kind::Ucs4(n) => n.saturating_mul(4),
        }
    }

    /// True for the three string storages.
    pub fn is_string(self) -> bool {
        matches!(self, Kind::Bytes(_) | Kind::Ucs4(_) | Kind::HeapStr)
    }

    /// True for 64-bit integers (the ones `jq` 1.6 may round).
    pub fn is_int64(self) -> bool {
        matches!(self, Kind::I64 | Kind::U64)
    }

    /// The type string cryosparc-tools uses for this kind once loaded:
    /// `<` for multi-byte numbers, `|` for bytes, `|O` for every string.
    pub fn normalized_typestr(self) -> &'static str {
        match self {
            Kind::I8 => "|i1",
            Kind::I16 => "<i2",
            Kind::I32 => "<i4",
            Kind::I64 => "<i8",
            Kind::U8 => "|u1",
            Kind::U16 => "<u2",
            Kind::U32 => "<u4",
            Kind::U64 => "<u8",
            Kind::F32 => "<f4",
            Kind::F64 => "<f8",
            Kind::C64 => "<c8",
            Kind::C128 => "<c16",
            Kind::Bytes(_) | Kind::Ucs4(_) | Kind::HeapStr => "|O",
        }
    }
}

/// The full type of one field: element kind, byte order and subarray shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldType {
    /// Element kind.
    pub kind: Kind,
    /// Byte order of each element in storage.
    pub order: ByteOrder,
    /// Subarray shape; empty for a scalar field. At most 3 dimensions.
    pub shape: Vec<usize>,
}

impl FieldType {
    /// A field type whose shape is within cryosparc-tools' limits ([`check_shape`]) and whose
    /// bytes per row fit 64 bits (checked: a size that overflows is refused, never wrapped).
    pub fn checked(kind: Kind, order: ByteOrder, shape: Vec<usize>) -> Result<FieldType, String> {
        check_shape(&shape)?;
        let ty = FieldType { kind, order, shape };
        if ty.checked_size().is_none() {
            return Err(format!(
                "{} elements of {} bytes per row: the size overflows 64 bits",
                ty.checked_count()
                    .map_or("too many".into(), |n| n.to_string()),
                ty.kind.size()
            ));
        }
        Ok(ty)
    }

    /// Number of elements per row (1 for a scalar); None when it overflows.
    pub fn checked_count(&self) -> Option<usize> {
        self.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
    }

    /// Bytes one row of this field occupies in storage; None when it overflows.
    pub fn checked_size(&self) -> Option<usize> {
        let element = match self.kind {
            Kind::Ucs4(n) => n.checked_mul(4)?,
            k => k.size(),
        };
        element.checked_mul(self.checked_count()?)
    }

    /// Number of elements per row (1 for a scalar); saturating (see [`FieldType::checked`]).
    pub fn count(&self) -> usize {
        self.checked_count().unwrap_or(usize::MAX)
    }

    /// Bytes one row of this field occupies in storage; saturating (see
    /// [`FieldType::checked`], which every reader uses, so that this never saturates there).
    pub fn size(&self) -> usize {
        self.checked_size().unwrap_or(usize::MAX)
    }

    /// The type string as the file spells it (`<f4`, `|S64`, `>u8`, `|O`).
    pub fn stored_typestr(&self) -> String {
        let order = match (self.kind, self.order) {
            (Kind::I8 | Kind::U8 | Kind::Bytes(_) | Kind::HeapStr, _) => '|',
            (_, ByteOrder::Little) => '<',
            (_, ByteOrder::Big) => '>',
        };
        match self.kind {
            Kind::Bytes(n) => format!("|S{n}"),
            Kind::Ucs4(n) => format!("{order}U{n}"),
            Kind::HeapStr => "|O".to_string(),
            k => format!("{order}{}", &k.normalized_typestr()[1..]),
        }
    }
}

/// Parse a numpy type string such as `<u8`, `|S64`, `>f4`, `u8` or `<U10`.
///
/// `O` (object) parses as [`Kind::HeapStr`]; a NUMPY reader refuses it, a CSDAT reader uses it.
pub fn parse_typestr(s: &str) -> Result<(Kind, ByteOrder), String> {
    let mut chars = s.chars();
    let (order, rest) = match chars.next() {
        Some('<') | Some('=') | Some('|') => (ByteOrder::Little, chars.as_str()),
        Some('>') | Some('!') => (ByteOrder::Big, chars.as_str()),
        Some(_) => (ByteOrder::Little, s),
        None => return Err("empty dtype".into()),
    };
    let mut rc = rest.chars();
    let code = rc
        .next()
        .ok_or_else(|| format!("dtype '{s}' has no type code"))?;
    let digits = rc.as_str();
    let size: Option<usize> = if digits.is_empty() {
        None
    } else if digits.bytes().all(|b| b.is_ascii_digit()) {
        Some(
            digits
                .parse()
                .map_err(|_| format!("dtype '{s}': size out of range"))?,
        )
    } else {
        return Err(format!("unknown dtype '{s}'"));
    };
    let kind = match (code, size) {
        ('i', Some(1)) => Kind::I8,
        ('i', Some(2)) => Kind::I16,
        ('i', Some(4)) => Kind::I32,
        ('i', Some(8)) => Kind::I64,
        ('u', Some(1)) => Kind::U8,
        ('u', Some(2)) => Kind::U16,
        ('u', Some(4)) => Kind::U32,
        ('u', Some(8)) => Kind::U64,
        ('f', Some(4)) => Kind::F32,
        ('f', Some(8)) => Kind::F64,
        ('c', Some(8)) => Kind::C64,
        ('c', Some(16)) => Kind::C128,
        ('S', n) | ('a', n) => Kind::Bytes(n.unwrap_or(0)),
        ('U', n) => {
            let n = n.unwrap_or(0);
            if n.checked_mul(4).is_none() {
                return Err(format!(
                    "dtype '{s}': {n} characters of 4 bytes overflow 64 bits"
                ));
            }
            Kind::Ucs4(n)
        }
        ('O', None) | ('O', Some(8)) => Kind::HeapStr,
        ('?', _) | ('b', _) => return Err(format!("unsupported dtype '{s}' (bool)")),
        ('f', Some(2)) => return Err(format!("unsupported dtype '{s}' (float16)")),
        ('V', _) => {
            return Err(format!(
                "unsupported dtype '{s}' (void/padding; cryoSPARC files are packed records)"
            ))
        }
        ('M', _) | ('m', _) => return Err(format!("unsupported dtype '{s}' (datetime)")),
        _ => return Err(format!("unknown dtype '{s}'")),
    };
    Ok((kind, order))
}

/// One named field (column) of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    /// Field name, e.g. `blob/path` or `uid`.
    pub name: String,
    /// Its type.
    pub ty: FieldType,
}

impl Field {
    /// True for a string field named `…/path` (`blob/path`, `map/path`, …): the data files a
    /// metafile names.
    pub fn names_data_files(&self) -> bool {
        self.ty.kind.is_string() && self.name.ends_with("/path")
    }

    /// The slot ("prefix") of the name: the part before the first `/`.
    pub fn prefix(&self) -> &str {
        self.name.split('/').next().unwrap_or(&self.name)
    }

    /// The field as one `{"name","dtype","shape"}` object, dtype normalised as cryosparc-tools
    /// loads it (`|O` for strings, `<` for multi-byte numbers).
    pub fn schema_json(&self) -> serde_json::Value {
        json!({
            "name": self.name,
            "dtype": self.ty.kind.normalized_typestr(),
            "shape": self.ty.shape,
        })
    }
}

impl Field {
    /// Read a field back from the `{"name","dtype","shape"}` object that `cs-cat --schema`
    /// prints. Strings (`|O`, `|S<n>`, `<U<n>`) come back as [`Kind::HeapStr`].
    pub fn from_schema_json(v: &serde_json::Value) -> Result<Field, String> {
        let name = v
            .get("name")
            .and_then(|n| n.as_str())
            .ok_or("no \"name\" string")?
            .to_string();
        let dtype = v
            .get("dtype")
            .and_then(|d| d.as_str())
            .ok_or_else(|| format!("field '{name}': no \"dtype\" string"))?;
        let (kind, _) = parse_typestr(dtype).map_err(|e| format!("field '{name}': {e}"))?;
        let kind = if kind.is_string() {
            Kind::HeapStr
        } else {
            kind
        };
        let shape = match v.get("shape") {
            None | Some(serde_json::Value::Null) => vec![],
            Some(serde_json::Value::Array(dims)) => dims
                .iter()
                .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("field '{name}': \"shape\" is not a list of sizes"))?,
            Some(_) => return Err(format!("field '{name}': \"shape\" is not a list")),
        };
        let ty = FieldType::checked(kind, ByteOrder::Little, shape)
            .map_err(|e| format!("field '{name}': {e}"))?;
        Ok(Field { name, ty })
    }
}

/// The ordered fields of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    /// Fields in presentation order (`uid` first when present).
    pub fields: Vec<Field>,
}

impl Schema {
    /// Index of the field called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// The fields at `select` (indices into this schema), in that order.
    pub fn subset(&self, select: &[usize]) -> Schema {
        Schema {
            fields: select.iter().map(|&i| self.fields[i].clone()).collect(),
        }
    }

    /// True when both schemas have the same names, kinds and shapes once normalised
    /// (string storage and byte order ignored).
    pub fn same_as(&self, other: &Schema) -> bool {
        self.fields.len() == other.fields.len()
            && self.fields.iter().zip(&other.fields).all(|(a, b)| {
                a.name == b.name
                    && a.ty.shape == b.ty.shape
                    && a.ty.kind.normalized_typestr() == b.ty.kind.normalized_typestr()
            })
    }

    /// The first difference between two schemas, in words, or `None` when [`Schema::same_as`].
    pub fn difference(&self, other: &Schema) -> Option<String> {
        for (i, (a, b)) in self.fields.iter().zip(&other.fields).enumerate() {
            if a.name != b.name {
                return Some(format!(
                    "field {} is '{}' here, '{}' there",
                    i, b.name, a.name
                ));
            }
            let (ta, tb) = (a.schema_json(), b.schema_json());
            if ta != tb {
                return Some(format!(
                    "field '{}' is {} {:?} here, {} {:?} there",
                    a.name,
                    b.ty.kind.normalized_typestr(),
                    b.ty.shape,
                    a.ty.kind.normalized_typestr(),
                    a.ty.shape
                ));
            }
        }
        if self.fields.len() != other.fields.len() {
            return Some(format!(
                "{} fields here, {} there",
                other.fields.len(),
                self.fields.len()
            ));
        }
        None
    }
}

/// Check a subarray shape against cryosparc-tools' limits (1 to 3 dimensions, each 1 to
/// [`MAX_SUBARRAY_DIM`]).
pub fn check_shape(shape: &[usize]) -> Result<(), String> {
    if shape.len() > 3 {
        return Err(format!(
            "subarray shape {shape:?} has {} dimensions (at most 3)",
            shape.len()
        ));
    }
    if let Some(d) = shape.iter().find(|&&d| d == 0 || d > MAX_SUBARRAY_DIM) {
        return Err(format!(
            "subarray shape {shape:?} has dimension {d} (must be 1 to {MAX_SUBARRAY_DIM})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_numeric_typestr() {
        for (s, k) in [
            ("|i1", Kind::I8),
            ("<i2", Kind::I16),
            ("<i4", Kind::I32),
            ("<i8", Kind::I64),
            ("|u1", Kind::U8),
            ("<u2", Kind::U16),
            ("<u4", Kind::U32),
            ("<u8", Kind::U64),
            ("<f4", Kind::F32),
            ("<f8", Kind::F64),
            ("<c8", Kind::C64),
            ("<c16", Kind::C128),
        ] {
            assert_eq!(parse_typestr(s), Ok((k, ByteOrder::Little)), "{s}");
            assert_eq!(k.normalized_typestr(), s);
        }
    }

    #[test]
    fn parses_byte_order_strings_and_bare_codes() {
        assert_eq!(parse_typestr(">f8"), Ok((Kind::F64, ByteOrder::Big)));
        assert_eq!(parse_typestr("u8"), Ok((Kind::U64, ByteOrder::Little)));
        assert_eq!(
            parse_typestr("|S64"),
            Ok((Kind::Bytes(64), ByteOrder::Little))
        );
        assert_eq!(parse_typestr(">U3"), Ok((Kind::Ucs4(3), ByteOrder::Big)));
        assert_eq!(parse_typestr("|O"), Ok((Kind::HeapStr, ByteOrder::Little)));
    }

    #[test]
    fn refuses_types_cryosparc_does_not_support() {
        for s in ["|b1", "?", "<f2", "|V4", "<M8[ns]", "<x4", "", "<i3"] {
            assert!(parse_typestr(s).is_err(), "{s}");
        }
    }

    #[test]
    fn a_ucs4_width_whose_bytes_overflow_is_refused_not_wrapped() {
        // 4 × 2^62 wraps to 0 in 64-bit arithmetic.
        let e = parse_typestr("<U4611686018427387904").unwrap_err();
        assert!(e.contains("overflow 64 bits"), "{e}");
        assert_eq!(
            parse_typestr("<U4611686018427387903").map(|(k, _)| k.size()),
            Ok(usize::MAX - 3)
        );
    }

    #[test]
    fn field_sizes_that_overflow_are_refused() {
        let huge = usize::MAX / 4;
        let e = FieldType::checked(Kind::Ucs4(huge), ByteOrder::Little, vec![2]).unwrap_err();
        assert!(e.contains("overflows 64 bits"), "{e}");
        let e = FieldType::checked(Kind::Bytes(usize::MAX / 2), ByteOrder::Little, vec![3])
            .unwrap_err();
        assert!(e.contains("overflows 64 bits"), "{e}");
        let ok = FieldType::checked(Kind::F64, ByteOrder::Little, vec![65535, 65535, 65535]);
        assert_eq!(ok.map(|t| t.size()), Ok(8 * 65535 * 65535 * 65535));
        let unchecked = FieldType {
            kind: Kind::Bytes(usize::MAX / 2),
            order: ByteOrder::Little,
            shape: vec![3],
        };
        assert_eq!(unchecked.checked_size(), None);
        assert_eq!(unchecked.size(), usize::MAX, "saturates, never wraps");
    }

    #[test]
    fn shape_limits_follow_cryosparc_tools() {
        assert!(check_shape(&[2, 3, 4]).is_ok());
        assert!(check_shape(&[1, 1, 1, 1]).is_err());
        assert!(check_shape(&[70000]).is_err());
        assert!(check_shape(&[0]).is_err());
    }
}
