//! The NUMPY container (`.npy` 1.0 / 2.0 / 3.0) as cryosparc-tools writes it: FORMATS.md §3.

use crate::container::dtype::{parse_typestr, ByteOrder, Field, FieldType, Kind};
use crate::container::input::Input;
use crate::container::pyliteral::{self, PyValue};
use crate::error::{Error, Result};

/// The 6 magic bytes of a `.npy` file.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// What the header of a `.npy` file says.
#[derive(Debug, Clone)]
pub struct NumpyHeader {
    /// (major, minor) format version.
    pub version: (u8, u8),
    /// HLEN: the header length field.
    pub header_len: u64,
    /// Where the records start (magic + version + length field + HLEN).
    pub data_offset: u64,
    /// The `fortran_order` flag (equivalent for 1-D arrays).
    pub fortran_order: bool,
    /// Number of records (`shape[0]`).
    pub rows: u64,
    /// Fields in stored order.
    pub fields: Vec<Field>,
    /// Byte offset of each field within a record.
    pub offsets: Vec<usize>,
    /// Bytes per record.
    pub itemsize: usize,
}

/// Read the header that follows the magic (the input is positioned at byte 6).
pub(crate) fn read_header(input: &mut Input) -> Result<NumpyHeader> {
    let mut ver = [0u8; 2];
    input.read_exact(&mut ver, "the numpy header")?;
    let (len_bytes, header_start) = match ver[0] {
        1 => (2usize, 10u64),
        2 | 3 => (4, 12),
        v => {
            return Err(Error::at_byte(
                6,
                format!(
                    "unsupported numpy format version {v}.{} (known: 1.0, 2.0, 3.0)",
                    ver[1]
                ),
            ))
        }
    };
    let mut lenf = [0u8; 4];
    input.read_exact(&mut lenf[..len_bytes], "the numpy header")?;
    let header_len = u64::from(u32::from_le_bytes(lenf));
    let bytes = input.read_vec(header_len, "the numpy header")?;
    let text = header_text(bytes, ver[0] == 3, header_start)?;
    let value = pyliteral::parse(&text).map_err(|e| {
        let byte: usize = text.chars().take(e.offset).map(char::len_utf8).sum();
        Error::at_byte(
            header_start + byte as u64,
            format!("malformed numpy header: {}", e.what),
        )
    })?;
    let keys = HeaderKeys::of(value).map_err(|what| Error::at_byte(header_start, what))?;
    Ok(NumpyHeader {
        version: (ver[0], ver[1]),
        header_len,
        data_offset: header_start + header_len,
        fortran_order: keys.fortran_order,
        rows: keys.rows,
        fields: keys.fields,
        offsets: keys.offsets,
        itemsize: keys.itemsize,
    })
}

/// The header's text: UTF-8 in format 3.0, Latin-1 before.
fn header_text(bytes: Vec<u8>, utf8: bool, header_start: u64) -> Result<String> {
    if !utf8 {
        return Ok(bytes.iter().map(|&b| char::from(b)).collect());
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::at_byte(
            header_start + e.utf8_error().valid_up_to() as u64,
            "numpy 3.0 header is not valid UTF-8",
        )
    })
}

/// What the header dict's three keys say.
struct HeaderKeys {
    fortran_order: bool,
    rows: u64,
    fields: Vec<Field>,
    offsets: Vec<usize>,
    itemsize: usize,
}

impl HeaderKeys {
    /// Read the header dict: `descr`, `fortran_order` and `shape`, and nothing else.
    fn of(value: PyValue) -> std::result::Result<HeaderKeys, String> {
        let PyValue::Dict(items) = value else {
            return Err("malformed numpy header: not a dict".into());
        };
        let (mut descr, mut fortran, mut shape) = (None, None, None);
        for (k, v) in items {
            match k.as_str() {
                Some("descr") => descr = Some(v),
                Some("fortran_order") => fortran = Some(v),
                Some("shape") => shape = Some(v),
                _ => {
                    return Err(format!(
                        "malformed numpy header: unexpected key {k:?} (numpy allows only descr, fortran_order, shape)"
                    ))
                }
            }
        }
        let descr = descr.ok_or("malformed numpy header: no 'descr' key")?;
        let fortran_order = match fortran {
            Some(PyValue::Bool(b)) => b,
            Some(_) => {
                return Err("malformed numpy header: 'fortran_order' is not True/False".into())
            }
            None => return Err("malformed numpy header: no 'fortran_order' key".into()),
        };
        let rows = row_count(shape.as_ref())?;
        let (fields, offsets, itemsize) = parse_descr(&descr)?;
        Ok(HeaderKeys {
            fortran_order,
            rows,
            fields,
            offsets,
            itemsize,
        })
    }
}

/// The rows of a 1-D `shape`.
fn row_count(shape: Option<&PyValue>) -> std::result::Result<u64, String> {
    match shape.and_then(PyValue::as_seq) {
        Some([PyValue::Int(n)]) if *n >= 0 && *n <= i128::from(u64::MAX) => Ok(*n as u64),
        Some(dims) => Err(format!(
            "numpy array has shape of {} dimensions; a .cs file is a 1-D record array",
            dims.len()
        )),
        None => Err("malformed numpy header: 'shape' is missing or not a tuple".into()),
    }
}

/// The fields of a record `descr`, each one's offset in a record, and the record size.
fn parse_descr(descr: &PyValue) -> std::result::Result<(Vec<Field>, Vec<usize>, usize), String> {
    let entries = match descr {
        PyValue::List(e) => e,
        PyValue::Str(s) => {
            return Err(format!(
                "numpy array of plain dtype '{s}', not a record array; a .cs file has named fields"
            ))
        }
        _ => return Err("malformed numpy header: 'descr' is not a list".into()),
    };
    let mut fields: Vec<Field> = Vec::with_capacity(entries.len());
    let mut offsets = Vec::with_capacity(entries.len());
    let mut offset = 0usize;
    for (i, entry) in entries.iter().enumerate() {
        let field = descr_field(i, entry, &fields)?;
        offsets.push(offset);
        offset = offset
            .checked_add(field.ty.size())
            .ok_or_else(|| format!("field '{}': the record size overflows 64 bits", field.name))?;
        fields.push(field);
    }
    if fields.is_empty() {
        return Err("numpy record array has no fields".into());
    }
    Ok((fields, offsets, offset))
}

/// Entry `i` of a `descr` list: `(name, type)` or `(name, type, shape)`, named differently
/// from the fields `before` it.
fn descr_field(i: usize, entry: &PyValue, before: &[Field]) -> std::result::Result<Field, String> {
    let parts = entry
        .as_seq()
        .ok_or_else(|| format!("malformed numpy header: descr entry {i} is not a tuple"))?;
    let (name, typ, shape) = match parts {
        [n, t] => (n, t, None),
        [n, t, s] => (n, t, Some(s)),
        _ => {
            return Err(format!(
                "malformed numpy header: descr entry {i} has {} items",
                parts.len()
            ))
        }
    };
    let name = match name {
        PyValue::Str(s) => s.clone(),
        PyValue::Tuple(_) => return Err(format!("field {i}: titled fields are not supported")),
        _ => {
            return Err(format!(
                "malformed numpy header: descr entry {i} has no name"
            ))
        }
    };
    let typestr = match typ {
        PyValue::Str(s) => s,
        PyValue::List(_) => {
            return Err(format!(
                "field '{name}': nested record fields are not supported"
            ))
        }
        _ => return Err(format!("field '{name}': malformed type")),
    };
    let (kind, order) = parse_typestr(typestr).map_err(|e| format!("field '{name}': {e}"))?;
    if kind == Kind::HeapStr {
        return Err(format!(
            "field '{name}' has dtype '{typestr}': pickled Python objects, which csutils never unpickles \
             (cryoSPARC writes strings as fixed-width '|S' bytes)"
        ));
    }
    if name.is_empty() {
        return Err(format!(
            "field {i} has an empty name (padding is not supported)"
        ));
    }
    let shape = descr_shape(shape, &name)?;
    if before.iter().any(|f| f.name == name) {
        return Err(format!("field '{name}' appears twice"));
    }
    let order = if kind.size() <= 1 && !matches!(kind, Kind::Ucs4(_)) {
        ByteOrder::Little
    } else {
        order
    };
    let ty = FieldType::checked(kind, order, shape).map_err(|e| format!("field '{name}': {e}"))?;
    Ok(Field { name, ty })
}

/// A descr entry's subarray shape: none, one dimension, or a tuple of them.
fn descr_shape(shape: Option<&PyValue>, name: &str) -> std::result::Result<Vec<usize>, String> {
    match shape {
        None => Ok(vec![]),
        Some(PyValue::Int(n)) => Ok(vec![to_dim(*n, name)?]),
        Some(s) => s
            .as_seq()
            .ok_or_else(|| format!("field '{name}': malformed subarray shape"))?
            .iter()
            .map(|d| match d {
                PyValue::Int(n) => to_dim(*n, name),
                _ => Err(format!("field '{name}': malformed subarray shape")),
            })
            .collect(),
    }
}

fn to_dim(n: i128, name: &str) -> std::result::Result<usize, String> {
    usize::try_from(n).map_err(|_| format!("field '{name}': negative subarray dimension {n}"))
}
