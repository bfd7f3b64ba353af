//! Parsing cell text back into stored elements: the inverse of [`crate::cell`]'s spelling.
//! Integers from JSON numbers or strings of digits (what `--int64-as-string` prints); floats
//! from numbers or `NaN` / `Infinity` / `-Infinity`; complex from `[re, im]`; strings as they
//! are. Every element is appended little-endian.

use crate::dtype::Kind;

/// Parse one element from CSV text and append its little-endian bytes (strings: UTF-8 bytes,
/// no padding).
pub fn element_from_text(kind: Kind, text: &str, out: &mut Vec<u8>) -> Result<(), String> {
    match kind {
        Kind::I8 => int::<i8>(text, "|i1", out),
        Kind::I16 => int::<i16>(text, "<i2", out),
        Kind::I32 => int::<i32>(text, "<i4", out),
        Kind::I64 => int::<i64>(text, "<i8", out),
        Kind::U8 => int::<u8>(text, "|u1", out),
        Kind::U16 => int::<u16>(text, "<u2", out),
        Kind::U32 => int::<u32>(text, "<u4", out),
        Kind::U64 => int::<u64>(text, "<u8", out),
        Kind::F32 => {
            out.extend_from_slice(&float::<f32>(text, "<f4")?.to_le_bytes());
            Ok(())
        }
        Kind::F64 => {
            out.extend_from_slice(&float::<f64>(text, "<f8")?.to_le_bytes());
            Ok(())
        }
        Kind::C64 | Kind::C128 => {
            let inner = text
                .trim()
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .ok_or_else(|| format!("'{text}' is not a complex number [re, im]"))?;
            let parts: Vec<&str> = inner
                .split(',')
                .map(|p| p.trim().trim_matches('"'))
                .collect();
            if parts.len() != 2 {
                return Err(format!("'{text}' is not a complex number [re, im]"));
            }
            for p in parts {
                if kind == Kind::C64 {
                    out.extend_from_slice(&float::<f32>(p, "<c8")?.to_le_bytes());
                } else {
                    out.extend_from_slice(&float::<f64>(p, "<c16")?.to_le_bytes());
                }
            }
            Ok(())
        }
        Kind::Bytes(_) | Kind::Ucs4(_) | Kind::HeapStr => {
            out.extend_from_slice(text.as_bytes());
            Ok(())
        }
    }
}

/// What a text is, for messages: `'abc'` shortened.
fn show(text: &str) -> String {
    let t: String = text.chars().take(40).collect();
    if t.len() < text.len() {
        format!("'{t}…'")
    } else {
        format!("'{t}'")
    }
}

/// `text` without surrounding white space (cheap when there is none).
fn trimmed(text: &str) -> &str {
    match text.as_bytes() {
        [first, .., last] if !first.is_ascii_whitespace() && !last.is_ascii_whitespace() => text,
        [only] if !only.is_ascii_whitespace() => text,
        _ => text.trim(),
    }
}

/// An integer type that can be appended little-endian.
trait LeInt: std::str::FromStr {
    fn append_le(self, out: &mut Vec<u8>);
}

macro_rules! le_int {
    ($($t:ty),*) => {$(
        impl LeInt for $t {
            fn append_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
le_int!(i8, i16, i32, i64, u8, u16, u32, u64);

fn int<T: LeInt>(text: &str, dtype: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let t = trimmed(text);
    match t.parse::<T>() {
        Ok(v) => {
            v.append_le(out);
            Ok(())
        }
        Err(_) => Err(int_error(t, dtype)),
    }
}

fn int_error(t: &str, dtype: &str) -> String {
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        format!("value {t} does not fit {dtype}")
    } else if t.parse::<f64>().is_ok() {
        format!("{} is not an integer ({dtype})", show(t))
    } else {
        format!("{} is not a number ({dtype})", show(t))
    }
}

trait Float: std::str::FromStr + Copy {
    fn is_finite(self) -> bool;
}

impl Float for f32 {
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}

impl Float for f64 {
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}

fn float<T: Float>(text: &str, dtype: &str) -> Result<T, String> {
    let t = trimmed(text);
    match t.parse::<T>() {
        // Rust also reads "inf", "nan", "infinity" in any case: accept only our spellings.
        Ok(v) if v.is_finite() || matches!(t, "NaN" | "Infinity" | "-Infinity" | "+Infinity") => {
            Ok(v)
        }
        _ => Err(format!("{} is not a number ({dtype})", show(t))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kind: Kind, text: &str) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        element_from_text(kind, text, &mut out).map(|_| out)
    }

    #[test]
    fn integers_must_fit_their_dtype() {
        assert_eq!(parse(Kind::U8, "255").unwrap(), vec![255]);
        assert_eq!(
            parse(Kind::U8, "300").unwrap_err(),
            "value 300 does not fit |u1"
        );
        assert_eq!(
            parse(Kind::U32, "-1").unwrap_err(),
            "value -1 does not fit <u4"
        );
        assert_eq!(
            parse(Kind::I64, "1.5").unwrap_err(),
            "'1.5' is not an integer (<i8)"
        );
        assert_eq!(
            parse(Kind::U64, "abc").unwrap_err(),
            "'abc' is not a number (<u8)"
        );
        assert_eq!(
            parse(Kind::U64, "18446744073709551615").unwrap(),
            u64::MAX.to_le_bytes()
        );
    }

    #[test]
    fn floats_accept_our_special_spellings_only() {
        assert_eq!(parse(Kind::F32, "NaN").unwrap().len(), 4);
        assert_eq!(
            parse(Kind::F64, "-Infinity").unwrap(),
            f64::NEG_INFINITY.to_le_bytes()
        );
        assert_eq!(parse(Kind::F32, "1.0825").unwrap(), 1.0825f32.to_le_bytes());
        assert!(parse(Kind::F32, "inf").is_err());
        assert!(parse(Kind::F32, "x").unwrap_err().contains("not a number"));
        assert!(parse(Kind::F32, "").is_err());
    }

    #[test]
    fn complex_is_a_pair() {
        let mut want = 1.5f32.to_le_bytes().to_vec();
        want.extend_from_slice(&(-2.0f32).to_le_bytes());
        assert_eq!(parse(Kind::C64, "[1.5,-2.0]").unwrap(), want);
        assert!(parse(Kind::C64, "[1.5]").is_err());
    }
}
