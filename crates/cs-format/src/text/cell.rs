//! Cells: decoding one stored element into a [`Scalar`], and spelling scalars as text.
//!
//! The spelling is decided here once for every tool (DESIGN.md "Conventions"): integers exact;
//! floats as the shortest decimal that reads back to the same f32/f64; NaN and the infinities as
//! `NaN`, `Infinity`, `-Infinity` (JSON strings in JSON output); complex as `[re, im]`.

use crate::container::dtype::{ByteOrder, Kind};
use std::borrow::Cow;

/// One decoded element of a cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// Any signed integer kind.
    Int(i64),
    /// Any unsigned integer kind.
    UInt(u64),
    /// float32.
    F32(f32),
    /// float64.
    F64(f64),
    /// complex64 (re, im).
    C64(f32, f32),
    /// complex128 (re, im).
    C128(f64, f64),
    /// Text of any string storage.
    Str(Cow<'a, str>),
}

fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[..N]);
    a
}

macro_rules! num {
    ($t:ty, $b:expr, $order:expr) => {
        match $order {
            ByteOrder::Little => <$t>::from_le_bytes(arr($b)),
            ByteOrder::Big => <$t>::from_be_bytes(arr($b)),
        }
    };
}

/// Decode one numeric element (any kind but the strings, which give an empty string).
/// `bytes` holds exactly one element.
#[inline]
pub fn decode_number(kind: Kind, order: ByteOrder, bytes: &[u8]) -> Scalar<'static> {
    match kind {
        Kind::I8 => Scalar::Int(i64::from(bytes[0] as i8)),
        Kind::U8 => Scalar::UInt(u64::from(bytes[0])),
        Kind::I16 => Scalar::Int(i64::from(num!(i16, bytes, order))),
        Kind::I32 => Scalar::Int(i64::from(num!(i32, bytes, order))),
        Kind::I64 => Scalar::Int(num!(i64, bytes, order)),
        Kind::U16 => Scalar::UInt(u64::from(num!(u16, bytes, order))),
        Kind::U32 => Scalar::UInt(u64::from(num!(u32, bytes, order))),
        Kind::U64 => Scalar::UInt(num!(u64, bytes, order)),
        Kind::F32 => Scalar::F32(num!(f32, bytes, order)),
        Kind::F64 => Scalar::F64(num!(f64, bytes, order)),
        Kind::C64 => Scalar::C64(num!(f32, &bytes[..4], order), num!(f32, &bytes[4..], order)),
        Kind::C128 => Scalar::C128(num!(f64, &bytes[..8], order), num!(f64, &bytes[8..], order)),
        Kind::Bytes(_) | Kind::Ucs4(_) | Kind::HeapStr => Scalar::Str(Cow::Borrowed("")),
    }
}

/// An integer scalar as u64 (negative integers as their two's-complement bits); None otherwise.
pub fn as_u64(s: &Scalar<'_>) -> Option<u64> {
    match s {
        Scalar::UInt(v) => Some(*v),
        Scalar::Int(v) => Some(*v as u64),
        _ => None,
    }
}

/// An integer element as u64 (negative integers as their two's-complement bits); None for the
/// other kinds. A little-endian u64 (every uid cryoSPARC writes) is read without a dispatch.
#[inline]
pub fn integer_as_u64(kind: Kind, order: ByteOrder, bytes: &[u8]) -> Option<u64> {
    if kind == Kind::U64 && order == ByteOrder::Little {
        return Some(u64::from_le_bytes(bytes.try_into().ok()?));
    }
    as_u64(&decode_number(kind, order, bytes))
}

/// Decode one element. `bytes` holds exactly one element of `kind`; `heap` is the CSDAT string
/// heap for [`Kind::HeapStr`]. A string that is not valid UTF-8, an invalid UCS-4 code point or
/// a heap offset past the heap is an error in words.
pub fn decode<'a>(
    kind: Kind,
    order: ByteOrder,
    bytes: &'a [u8],
    heap: Option<&'a [u8]>,
) -> Result<Scalar<'a>, String> {
    Ok(match kind {
        Kind::Bytes(_) => {
            let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            Scalar::Str(Cow::Borrowed(utf8(&bytes[..end])?))
        }
        Kind::Ucs4(_) => {
            let mut s = String::new();
            let units: Vec<u32> = bytes.chunks_exact(4).map(|c| num!(u32, c, order)).collect();
            let end = units.iter().rposition(|&u| u != 0).map_or(0, |i| i + 1);
            for &u in &units[..end] {
                s.push(
                    char::from_u32(u).ok_or_else(|| format!("invalid UCS-4 code point {u:#x}"))?,
                );
            }
            Scalar::Str(Cow::Owned(s))
        }
        Kind::HeapStr => {
            let offset = num!(u64, bytes, order);
            let heap = heap.unwrap_or(&[]);
            if offset == 0 {
                return Ok(Scalar::Str(Cow::Borrowed("")));
            }
            let start = usize::try_from(offset)
                .ok()
                .filter(|&o| o < heap.len())
                .ok_or_else(|| {
                    format!(
                        "string heap offset {offset} is past the end of the heap ({} bytes)",
                        heap.len()
                    )
                })?;
            let rest = &heap[start..];
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            Scalar::Str(Cow::Borrowed(utf8(&rest[..end])?))
        }
        _ => decode_number(kind, order, bytes),
    })
}

fn utf8(b: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(b)
        .map_err(|e| format!("invalid UTF-8 at byte {} of the string", e.valid_up_to()))
}

/// Append the shortest round-trip spelling of an f32 (`NaN`, `Infinity`, `-Infinity` bare).
pub fn spell_f32(v: f32, out: &mut Vec<u8>) {
    if v.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    } else {
        out.extend_from_slice(non_finite(f64::from(v)).as_bytes());
    }
}

/// Append the shortest round-trip spelling of an f64 (`NaN`, `Infinity`, `-Infinity` bare).
pub fn spell_f64(v: f64, out: &mut Vec<u8>) {
    if v.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    } else {
        out.extend_from_slice(non_finite(v).as_bytes());
    }
}

/// The spelling of a non-finite float.
pub fn non_finite(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

/// Append an integer.
pub fn spell_i64(v: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Append an unsigned integer.
pub fn spell_u64(v: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Append one stored real number (an integer or a float; not complex) as cs-cat spells it in
/// CSV (non-finite floats bare), directly from its bytes: the hot path of CSV output, the
/// counterpart of [`json_number`].
#[inline(always)]
pub fn spell_number(kind: Kind, order: ByteOrder, b: &[u8], out: &mut Vec<u8>) {
    match (kind, order) {
        (Kind::F32, ByteOrder::Little) => spell_f32(f32::from_le_bytes(arr(b)), out),
        (Kind::U64, ByteOrder::Little) => spell_u64(u64::from_le_bytes(arr(b)), out),
        _ => match decode_number(kind, order, b) {
            Scalar::Int(v) => spell_i64(v, out),
            Scalar::UInt(v) => spell_u64(v, out),
            Scalar::F32(v) => spell_f32(v, out),
            Scalar::F64(v) => spell_f64(v, out),
            Scalar::C64(..) | Scalar::C128(..) | Scalar::Str(_) => {}
        },
    }
}

/// Append `s` as a JSON string literal (quotes included).
pub fn json_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    if !needs_escape(bytes) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    while let Some(off) = bytes[start..]
        .iter()
        .position(|&b| NEEDS_ESCAPE[usize::from(b)])
    {
        let i = start + off;
        out.extend_from_slice(&bytes[start..i]);
        let b = bytes[i];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// True when any byte of `bytes` must be escaped in a JSON string. Eight bytes at a time
/// (SWAR): a byte is flagged when it is below 0x20, `"` or `\\`.
fn needs_escape(bytes: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let x = u64::from_le_bytes(arr(w));
        let below_space = x.wrapping_sub(LO * 0x20) & !x & HI;
        if below_space | zero_byte(x ^ (LO * 0x22)) | zero_byte(x ^ (LO * 0x5c)) != 0 {
            return true;
        }
        // DEL (0x7f) is escaped too, for terminals' sake.
        if zero_byte(x ^ (LO * 0x7f)) != 0 {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| NEEDS_ESCAPE[usize::from(b)])
}

/// Bytes that JSON strings must escape: `"`, `\\`, control characters (and DEL, for safety).
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[0x7f] = true;
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

fn json_f32(v: f32, out: &mut Vec<u8>) {
    if v.is_finite() {
        spell_f32(v, out);
    } else {
        out.push(b'"');
        out.extend_from_slice(non_finite(f64::from(v)).as_bytes());
        out.push(b'"');
    }
}

fn json_f64(v: f64, out: &mut Vec<u8>) {
    if v.is_finite() {
        spell_f64(v, out);
    } else {
        out.push(b'"');
        out.extend_from_slice(non_finite(v).as_bytes());
        out.push(b'"');
    }
}

/// Append one stored numeric element as JSON directly from its bytes (the hot path of
/// JSON-lines output; same spelling as [`json_scalar`] of [`decode_number`]).
#[inline(always)]
pub fn json_number(
    kind: Kind,
    order: ByteOrder,
    b: &[u8],
    int64_as_string: bool,
    out: &mut Vec<u8>,
) {
    match (kind, order) {
        (Kind::F32, ByteOrder::Little) => json_f32(f32::from_le_bytes(arr(b)), out),
        (Kind::F64, ByteOrder::Little) => json_f64(f64::from_le_bytes(arr(b)), out),
        (Kind::U32, ByteOrder::Little) => spell_u64(u64::from(u32::from_le_bytes(arr(b))), out),
        (Kind::I32, ByteOrder::Little) => spell_i64(i64::from(i32::from_le_bytes(arr(b))), out),
        (Kind::U64, ByteOrder::Little) if !int64_as_string => {
            spell_u64(u64::from_le_bytes(arr(b)), out)
        }
        _ => json_scalar(&decode_number(kind, order, b), kind, int64_as_string, out),
    }
}

/// Append what `write` appends, between double quotes when `quote`.
fn quoted_if(quote: bool, out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    if quote {
        out.push(b'"');
    }
    write(out);
    if quote {
        out.push(b'"');
    }
}

/// Append a scalar as JSON. With `int64_as_string`, 64-bit integers (`kind` i8/u8) are quoted.
pub fn json_scalar(s: &Scalar<'_>, kind: Kind, int64_as_string: bool, out: &mut Vec<u8>) {
    let quote = int64_as_string && kind.is_int64();
    match s {
        Scalar::Int(v) => quoted_if(quote, out, |o| spell_i64(*v, o)),
        Scalar::UInt(v) => quoted_if(quote, out, |o| spell_u64(*v, o)),
        Scalar::F32(v) => json_f32(*v, out),
        Scalar::F64(v) => json_f64(*v, out),
        Scalar::C64(re, im) => {
            out.push(b'[');
            json_f32(*re, out);
            out.push(b',');
            json_f32(*im, out);
            out.push(b']');
        }
        Scalar::C128(re, im) => {
            out.push(b'[');
            json_f64(*re, out);
            out.push(b',');
            json_f64(*im, out);
            out.push(b']');
        }
        Scalar::Str(t) => json_string(t, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: Scalar<'_>, kind: Kind, quote: bool) -> String {
        let mut out = Vec::new();
        json_scalar(&s, kind, quote, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_are_shortest_round_trip() {
        assert_eq!(json(Scalar::F32(1.0825), Kind::F32, false), "1.0825");
        assert_eq!(json(Scalar::F32(0.1), Kind::F32, false), "0.1");
        assert_eq!(json(Scalar::F64(0.1), Kind::F64, false), "0.1");
        assert_eq!(json(Scalar::F32(-0.0), Kind::F32, false), "-0.0");
        let t = json(Scalar::F32(f32::MAX), Kind::F32, false);
        assert_eq!(t.parse::<f32>().unwrap(), f32::MAX);
    }

    #[test]
    fn non_finite_floats_are_json_strings() {
        assert_eq!(json(Scalar::F32(f32::NAN), Kind::F32, false), "\"NaN\"");
        assert_eq!(
            json(Scalar::F64(f64::INFINITY), Kind::F64, false),
            "\"Infinity\""
        );
        assert_eq!(
            json(Scalar::C64(f32::NEG_INFINITY, 1.0), Kind::C64, false),
            "[\"-Infinity\",1.0]"
        );
    }

    #[test]
    fn int64_as_string_quotes_only_64_bit_integers() {
        assert_eq!(
            json(Scalar::UInt(u64::MAX), Kind::U64, true),
            "\"18446744073709551615\""
        );
        assert_eq!(
            json(Scalar::UInt(u64::MAX), Kind::U64, false),
            "18446744073709551615"
        );
        assert_eq!(json(Scalar::UInt(7), Kind::U32, true), "7");
        assert_eq!(
            json(Scalar::Int(i64::MIN), Kind::I64, true),
            "\"-9223372036854775808\""
        );
    }

    #[test]
    fn strings_escape_quotes_and_control_characters() {
        assert_eq!(
            json(Scalar::Str("a\"b\\c\n\u{1}é".into()), Kind::HeapStr, false),
            r#""a\"b\\c\n\u0001é""#
        );
    }

    #[test]
    fn escape_scan_agrees_with_the_byte_table() {
        for b in 0..=255u8 {
            for pos in 0..20 {
                let mut v = vec![b'a'; 20];
                v[pos] = b;
                assert_eq!(
                    needs_escape(&v),
                    NEEDS_ESCAPE[usize::from(b)],
                    "byte {b:#x} at {pos}"
                );
            }
        }
    }

    #[test]
    fn fixed_width_bytes_drop_trailing_nuls_only() {
        let s = decode(Kind::Bytes(6), ByteOrder::Little, b"a\0b\0\0\0", None).unwrap();
        assert_eq!(s, Scalar::Str("a\0b".into()));
        assert!(decode(Kind::Bytes(2), ByteOrder::Little, b"\xff\0", None).is_err());
    }

    #[test]
    fn heap_offsets_resolve_and_are_bounds_checked() {
        let heap = b"\0abc\0de\0";
        let at = |o: u64| {
            let bytes = o.to_le_bytes();
            decode(Kind::HeapStr, ByteOrder::Little, &bytes, Some(&heap[..])).map(|s| match s {
                Scalar::Str(t) => t.into_owned(),
                _ => String::new(),
            })
        };
        assert_eq!(at(0).unwrap(), "");
        assert_eq!(at(1).unwrap(), "abc");
        assert_eq!(at(5).unwrap(), "de");
        assert!(at(8).unwrap_err().contains("past the end"));
    }

    #[test]
    fn ucs4_decodes_in_either_byte_order() {
        let mut be = Vec::new();
        for c in ['h', 'é', '\0'] {
            be.extend_from_slice(&(c as u32).to_be_bytes());
        }
        assert_eq!(
            decode(Kind::Ucs4(3), ByteOrder::Big, &be, None).unwrap(),
            Scalar::Str("hé".into())
        );
    }
}
