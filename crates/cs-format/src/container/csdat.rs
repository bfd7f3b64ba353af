//! The CSDAT containers: `\x95CSDAT` (cryosparc-tools ≥ 4.4, FORMATS.md §4) and the legacy
//! `\x94CSDAT` (4.1–4.3, snappy, fixed-width strings, §4.5).

use crate::container::dtype::{parse_typestr, Field, FieldType, Kind};
use crate::container::input::Input;
use crate::error::{Error, Result};
use serde_json::Value;

/// Magic of the current container.
pub const MAGIC: &[u8; 6] = b"\x95CSDAT";
/// Magic of the legacy (snappy) container.
pub const LEGACY_MAGIC: &[u8; 6] = b"\x94CSDAT";

/// Column compression as the container applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Stored as is.
    None,
    /// One raw LZ4 block per column.
    Lz4,
    /// One raw snappy buffer per column (legacy container).
    Snappy,
}

/// What a CSDAT header says.
#[derive(Debug, Clone)]
pub struct CsdatHeader {
    /// True for the legacy `\x94CSDAT` container.
    pub legacy: bool,
    /// Bytes of header JSON.
    pub header_len: u64,
    /// Offset of the first column section.
    pub data_offset: u64,
    /// Number of rows (`length`; for the legacy container, derived from the first column).
    pub rows: u64,
    /// Fields in stored order.
    pub fields: Vec<Field>,
    /// Per field: how its column is compressed.
    pub codecs: Vec<Codec>,
    /// The `compression` key (`lz4`, `snap` or null).
    pub compression: Option<String>,
}

/// Where one column's payload lies in the file.
#[derive(Debug, Clone, Copy)]
pub struct ColumnExtent {
    /// Offset of the payload (after its u32 size).
    pub offset: u64,
    /// Stored payload bytes.
    pub stored: u64,
}

/// Read the header that follows the magic (the input is positioned at byte 6).
pub(crate) fn read_header(input: &mut Input, legacy: bool) -> Result<CsdatHeader> {
    let mut lenf = [0u8; 4];
    input.read_exact(&mut lenf, "the CSDAT header length")?;
    let header_len = u64::from(u32::from_le_bytes(lenf));
    let bytes = input.read_vec(header_len, "the CSDAT header")?;
    let json: Value = serde_json::from_slice(&bytes)
        .map_err(|e| at_header(format!("malformed CSDAT header JSON: {e}")))?;
    let obj = json
        .as_object()
        .ok_or_else(|| at_header("malformed CSDAT header: not a JSON object".into()))?;
    let dtype = obj.get("dtype").and_then(Value::as_array).ok_or_else(|| {
        at_header("malformed CSDAT header: key 'dtype' missing or not a list".into())
    })?;
    let compression = compression_key(obj)?;
    let listed = compressed_fields_key(obj)?;
    let rows = if legacy { 0 } else { length_key(obj)? };
    let (fields, codecs) = header_fields(dtype, &listed, legacy)?;
    let mut header = CsdatHeader {
        legacy,
        header_len,
        data_offset: 10 + header_len,
        rows,
        fields,
        codecs,
        compression,
    };
    if legacy {
        header.rows = legacy_rows(input, &header)?;
    }
    check_declared_sizes(&header, input.len())?;
    Ok(header)
}

/// A problem with the header JSON (which starts at byte 10).
fn at_header(what: String) -> Error {
    Error::at_byte(10, what)
}

/// The header's `compression`: a codec name or null.
fn compression_key(obj: &serde_json::Map<String, Value>) -> Result<Option<String>> {
    match obj.get("compression") {
        Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(at_header(
            "malformed CSDAT header: key 'compression' is not a string or null".into(),
        )),
        None => Err(at_header(
            "malformed CSDAT header: key 'compression' missing".into(),
        )),
    }
}

/// The header's `compressed_fields`: the names of the compressed columns.
fn compressed_fields_key(obj: &serde_json::Map<String, Value>) -> Result<Vec<&str>> {
    obj.get("compressed_fields")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            at_header(
                "malformed CSDAT header: key 'compressed_fields' missing or not a list".into(),
            )
        })?
        .iter()
        .map(|v| {
            v.as_str().ok_or_else(|| {
                at_header("malformed CSDAT header: 'compressed_fields' holds a non-string".into())
            })
        })
        .collect()
}

/// The header's `length`: the row count.
fn length_key(obj: &serde_json::Map<String, Value>) -> Result<u64> {
    obj.get("length")
        .ok_or_else(|| at_header("malformed CSDAT header: key 'length' missing".into()))?
        .as_u64()
        .ok_or_else(|| {
            at_header("malformed CSDAT header: key 'length' is not a non-negative integer".into())
        })
}

/// The fields of the header's `dtype` list and their codecs (those `listed` as compressed
/// are LZ4, or snappy in the `legacy` container).
fn header_fields(
    dtype: &[Value],
    listed: &[&str],
    legacy: bool,
) -> Result<(Vec<Field>, Vec<Codec>)> {
    let mut fields: Vec<Field> = Vec::with_capacity(dtype.len());
    let mut codecs = Vec::with_capacity(dtype.len());
    for (i, entry) in dtype.iter().enumerate() {
        let field = header_field(i, entry, legacy)?;
        if fields.iter().any(|f| f.name == field.name) {
            return Err(at_header(format!("field '{}' appears twice", field.name)));
        }
        codecs.push(if !listed.contains(&field.name.as_str()) {
            Codec::None
        } else if legacy {
            Codec::Snappy
        } else {
            Codec::Lz4
        });
        fields.push(field);
    }
    if fields.is_empty() {
        return Err(at_header("CSDAT header lists no fields".into()));
    }
    Ok((fields, codecs))
}

/// Entry `i` of the header's `dtype` list: `[name, type]` or `[name, type, shape]`.
fn header_field(i: usize, entry: &Value, legacy: bool) -> Result<Field> {
    let parts = entry.as_array().ok_or_else(|| {
        at_header(format!(
            "malformed CSDAT header: dtype entry {i} is not a list"
        ))
    })?;
    let (name, typestr) = match (
        parts.first().and_then(Value::as_str),
        parts.get(1).and_then(Value::as_str),
    ) {
        (Some(n), Some(t)) if parts.len() <= 3 => (n.to_string(), t),
        _ => {
            return Err(at_header(format!(
                "malformed CSDAT header: dtype entry {i} is not [name, type, shape?]"
            )))
        }
    };
    let in_field = |e: String| at_header(format!("field '{name}': {e}"));
    let (mut kind, order) = parse_typestr(typestr).map_err(|e| in_field(e.to_string()))?;
    if !legacy && matches!(kind, Kind::Bytes(_)) {
        // cryosparc-tools treats `|S<n>` like `|O` in this container: heap offsets.
        kind = Kind::HeapStr;
    }
    if legacy && kind == Kind::HeapStr {
        return Err(in_field(
            "'|O' in a legacy CSDAT file, which has no string heap".into(),
        ));
    }
    if matches!(kind, Kind::Ucs4(_)) {
        return Err(in_field(format!(
            "unicode '{typestr}' columns do not occur in CSDAT files"
        )));
    }
    let shape =
        header_shape(parts.get(2)).ok_or_else(|| in_field("malformed subarray shape".into()))?;
    let ty = FieldType::checked(kind, order, shape).map_err(|e| in_field(e.to_string()))?;
    Ok(Field { name, ty })
}

/// A dtype entry's shape: none (a scalar) or a list of dimensions; `None` when malformed.
fn header_shape(shape: Option<&Value>) -> Option<Vec<usize>> {
    match shape {
        None => Some(vec![]),
        Some(Value::Array(dims)) => dims
            .iter()
            .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
            .collect(),
        Some(_) => None,
    }
}

/// Most bytes one byte of a raw LZ4 block decodes to, plus a constant: a match of length L
/// costs at least one byte per 255 of L.
const LZ4_MAX_RATIO: u64 = 255;
/// Slack added to [`LZ4_MAX_RATIO`] × payload for a block's final literals and first match.
const LZ4_SLACK: u64 = 64;
/// Most bytes one byte of raw snappy data decodes to: a copy of at most 64 bytes costs at least
/// 3 bytes (21.3), rounded up generously.
const SNAPPY_MAX_RATIO: u64 = 32;
/// Slack added to [`SNAPPY_MAX_RATIO`] × payload (the length varint, a first literal).
const SNAPPY_SLACK: u64 = 16;

/// Most bytes a column payload of `stored` bytes can decode to.
fn most_decoded(codec: Codec, stored: u64) -> u64 {
    match codec {
        Codec::None => stored,
        Codec::Lz4 => stored
            .saturating_mul(LZ4_MAX_RATIO)
            .saturating_add(LZ4_SLACK),
        Codec::Snappy => stored
            .saturating_mul(SNAPPY_MAX_RATIO)
            .saturating_add(SNAPPY_SLACK),
    }
}

/// Fewest payload bytes a column of `decoded` bytes can be stored in.
fn fewest_stored(codec: Codec, decoded: u64) -> u64 {
    match codec {
        Codec::None => decoded,
        Codec::Lz4 => decoded.saturating_sub(LZ4_SLACK).div_ceil(LZ4_MAX_RATIO),
        Codec::Snappy => decoded
            .saturating_sub(SNAPPY_SLACK)
            .div_ceil(SNAPPY_MAX_RATIO),
    }
}

/// The columns the header's row count implies must have sizes that fit 64 bits and, when the
/// file's length is known, fit in the file even at the best compression their codec allows.
fn check_declared_sizes(h: &CsdatHeader, len: Option<u64>) -> Result<()> {
    if h.rows == 0 {
        return Ok(());
    }
    let at = |what: String| Error::at_byte(10, what);
    let have = len.map(|l| l.saturating_sub(h.data_offset));
    let mut least: u64 = 0;
    for (f, &codec) in h.fields.iter().zip(&h.codecs) {
        let bytes = h.rows.checked_mul(f.ty.size() as u64).ok_or_else(|| {
            at(format!(
                "field '{}': {} rows of {} bytes overflow 64 bits",
                f.name,
                h.rows,
                f.ty.size()
            ))
        })?;
        least = least.saturating_add(4 + fewest_stored(codec, bytes));
        if let Some(have) = have.filter(|&have| least > have) {
            return Err(at(format!(
                "field '{}': the header declares {} rows, for which the columns up to this one need at least {least} bytes, but the file holds {have} bytes after the header",
                f.name, h.rows
            )));
        }
    }
    Ok(())
}

/// The legacy container has no `length`: derive it from the first column's size.
fn legacy_rows(input: &mut Input, header: &CsdatHeader) -> Result<u64> {
    let mut lenf = [0u8; 4];
    let at = input.pos();
    input.read_exact(&mut lenf, "the first column's size")?;
    let stored = u64::from(u32::from_le_bytes(lenf));
    let row_size = header.fields[0].ty.size() as u64;
    let bytes = match header.codecs[0] {
        Codec::Snappy => {
            let mut head = vec![0u8; stored.min(10) as usize];
            input.read_exact(&mut head, "the first column")?;
            let n = snap::raw::decompress_len(&head)
                .map_err(|e| Error::at_byte(at + 4, format!("corrupt snappy column: {e}")))?
                as u64;
            if n > most_decoded(Codec::Snappy, stored) {
                return Err(Error::at_byte(
                    at + 4,
                    format!(
                        "column '{}': snappy data of {stored} bytes cannot decode to the {n} bytes it declares",
                        header.fields[0].name
                    ),
                ));
            }
            n
        }
        _ => stored,
    };
    if row_size == 0 {
        return Ok(0);
    }
    if bytes % row_size != 0 {
        return Err(Error::at_byte(
            at,
            format!("first column holds {bytes} bytes, not a whole number of {row_size}-byte rows"),
        ));
    }
    input.seek_to(header.data_offset)?;
    Ok(bytes / row_size)
}

/// Walk the column size prefixes from the data offset; returns each column's extent and the
/// offset of the string heap. The input must be positioned at the data offset.
pub(crate) fn walk_columns(
    input: &mut Input,
    header: &CsdatHeader,
    mut keep: impl FnMut(usize, &mut Input, ColumnExtent) -> Result<bool>,
) -> Result<u64> {
    if header.rows == 0 && !header.legacy {
        return Ok(input.pos());
    }
    for (i, field) in header.fields.iter().enumerate() {
        let mut lenf = [0u8; 4];
        let at = input.pos();
        input.read_exact(&mut lenf, &format!("the size of column '{}'", field.name))?;
        let stored = u64::from(u32::from_le_bytes(lenf));
        let extent = ColumnExtent {
            offset: at + 4,
            stored,
        };
        if let Some(len) = input.len() {
            if extent.offset + stored > len {
                return Err(Error::at_byte(
                    at,
                    format!(
                        "truncated inside column '{}': it declares {stored} bytes, the file ends at byte {len}",
                        field.name
                    ),
                ));
            }
        }
        if !keep(i, input, extent)? {
            input.skip(stored, &format!("column '{}'", field.name))?;
        }
    }
    Ok(input.pos())
}

/// An uncompressed column must hold exactly `rows × size` bytes.
pub(crate) fn check_stored_size(field: &Field, rows: u64, stored: u64, at: u64) -> Result<()> {
    let expected = rows.saturating_mul(field.ty.size() as u64);
    if stored == expected {
        return Ok(());
    }
    Err(Error::at_byte(
        at,
        format!(
            "column '{}' holds {stored} bytes, but {rows} rows of {} bytes need {expected}",
            field.name,
            field.ty.size()
        ),
    ))
}

/// Decode one stored column payload into `rows × size` bytes.
pub(crate) fn decode_column(
    payload: Vec<u8>,
    codec: Codec,
    field: &Field,
    rows: u64,
    at: u64,
) -> Result<Vec<u8>> {
    let expected = rows
        .checked_mul(field.ty.size() as u64)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| Error::at_byte(at, format!("column '{}' is too large", field.name)))?;
    let column = Column {
        field,
        rows,
        expected,
        at,
    };
    match codec {
        Codec::None => {
            check_stored_size(field, rows, payload.len() as u64, at)?;
            Ok(payload)
        }
        Codec::Lz4 => column.decode_lz4(&payload),
        Codec::Snappy => column.decode_snappy(&payload),
    }
}

/// A compressed column being decoded: its field, its rows, the bytes they need and where its
/// payload starts (for messages).
struct Column<'a> {
    field: &'a Field,
    rows: u64,
    expected: usize,
    at: u64,
}

impl Column<'_> {
    /// A problem with the column's payload.
    fn error(&self, what: String) -> Error {
        Error::at_byte(self.at, format!("column '{}': {what}", self.field.name))
    }

    /// One raw LZ4 block, which must decode to exactly the bytes the rows need.
    fn decode_lz4(&self, payload: &[u8]) -> Result<Vec<u8>> {
        let (rows, expected) = (self.rows, self.expected);
        // An LZ4 block expands at most ~255 times; refuse absurd sizes before allocating.
        if expected as u64 > most_decoded(Codec::Lz4, payload.len() as u64) {
            return Err(self.error(format!(
                "an LZ4 block of {} bytes cannot hold the {expected} bytes that {rows} rows need",
                payload.len()
            )));
        }
        let mut out = vec![0u8; expected];
        let n = lz4_flex::block::decompress_into(payload, &mut out)
            .map_err(|e| self.error(format!("corrupt LZ4 block: {e}")))?;
        if n != expected {
            return Err(self.error(format!(
                "LZ4 block decodes to {n} bytes, but {rows} rows need {expected}"
            )));
        }
        Ok(out)
    }

    /// Raw snappy data, which must declare exactly the bytes the rows need, and no more than
    /// its size can decode to.
    fn decode_snappy(&self, payload: &[u8]) -> Result<Vec<u8>> {
        let (rows, expected) = (self.rows, self.expected);
        let corrupt = |e: snap::Error| self.error(format!("corrupt snappy data: {e}"));
        let n = snap::raw::decompress_len(payload).map_err(corrupt)?;
        if n != expected {
            return Err(self.error(format!(
                "snappy data decodes to {n} bytes, but {rows} rows need {expected}"
            )));
        }
        if n as u64 > most_decoded(Codec::Snappy, payload.len() as u64) {
            return Err(self.error(format!(
                "snappy data of {} bytes cannot decode to the {n} bytes it declares",
                payload.len()
            )));
        }
        snap::raw::Decoder::new()
            .decompress_vec(payload)
            .map_err(corrupt)
    }
}
