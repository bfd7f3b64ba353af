//! Writing numpy `.npy` headers byte for byte as numpy 2.x does (FORMATS.md §3.1): sorted keys,
//! Python `repr` of the descr, growth-axis spaces, 64-byte alignment, version 1.0 unless the
//! header is too long (2.0) or not latin-1 (3.0).

use crate::container::dtype::{Field, Kind};

/// numpy's `GROWTH_AXIS_MAX_DIGITS`.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;
/// numpy's `ARRAY_ALIGN`.
const ARRAY_ALIGN: usize = 64;

/// Python's `repr` of a `str`.
pub fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// The numpy type string of a field as `dtype.descr` spells it (`<f4`, `|u1`, `|S64`, `<U5`).
pub fn npy_typestr(kind: Kind) -> String {
    match kind {
        Kind::Bytes(n) => format!("|S{n}"),
        Kind::Ucs4(n) => format!("<U{n}"),
        k => k.normalized_typestr().to_string(),
    }
}

fn repr_shape(shape: &[usize]) -> String {
    match shape {
        [d] => format!("({d},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The whole prefix of a `.npy` file holding `rows` packed little-endian records of `fields`:
/// magic, version, header length, header dict, padding and newline. `fields` must not hold
/// [`Kind::HeapStr`] (strings are written as `|S<width>`).
pub fn npy_prefix(fields: &[Field], rows: u64) -> Vec<u8> {
    let descr: Vec<String> = fields
        .iter()
        .map(|f| {
            let name = py_repr_str(&f.name);
            let ty = py_repr_str(&npy_typestr(f.ty.kind));
            if f.ty.shape.is_empty() {
                format!("({name}, {ty})")
            } else {
                format!("({name}, {ty}, {})", repr_shape(&f.ty.shape))
            }
        })
        .collect();
    let mut header = format!(
        "{{'descr': [{}], 'fortran_order': False, 'shape': ({rows},), }}",
        descr.join(", ")
    );
    let digits = rows.to_string().len();
    header.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits)));
    let latin1 = header.chars().all(|c| (c as u32) < 256);
    let text: Vec<u8> = if latin1 {
        header.chars().map(|c| c as u32 as u8).collect()
    } else {
        header.into_bytes()
    };
    let wrap = |len_bytes: usize, major: u8| -> Vec<u8> {
        let hlen = text.len() + 1;
        let padlen = ARRAY_ALIGN - ((6 + 2 + len_bytes + hlen) % ARRAY_ALIGN);
        let total = hlen + padlen;
        let mut out = Vec::with_capacity(8 + len_bytes + total);
        out.extend_from_slice(b"\x93NUMPY");
        out.push(major);
        out.push(0);
        if len_bytes == 2 {
            out.extend_from_slice(&(total as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(total as u32).to_le_bytes());
        }
        out.extend_from_slice(&text);
        out.extend(std::iter::repeat_n(b' ', padlen));
        out.push(b'\n');
        out
    };
    let hlen = text.len() + 1;
    let v1_total = hlen + ARRAY_ALIGN - ((10 + hlen) % ARRAY_ALIGN);
    if !latin1 {
        wrap(4, 3)
    } else if v1_total <= usize::from(u16::MAX) {
        wrap(2, 1)
    } else {
        wrap(4, 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_matches_python() {
        assert_eq!(py_repr_str("blob/path"), "'blob/path'");
        assert_eq!(py_repr_str("it's"), "\"it's\"");
        assert_eq!(py_repr_str("a'\"b"), "'a\\'\"b'");
        assert_eq!(py_repr_str("名前/値"), "'名前/値'");
        assert_eq!(py_repr_str("a\\b\n"), "'a\\\\b\\n'");
    }
}
