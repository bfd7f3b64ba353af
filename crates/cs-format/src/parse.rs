//! Parsing cell text back into stored elements: the inverse of [`crate::cell`]'s spelling.
//! Integers from JSON numbers or strings of digits (what `--int64-as-string` prints); floats
//! from numbers or `NaN` / `Infinity` / `-Infinity`; complex from `[re, im]`; strings as they
//! are. Every element is appended little-endian.

use crate::dtype::Kind;

/// Parse one element from CSV text and append its little-endian bytes (strings: UTF-8 bytes,
/// no padding).
pub fn element_from_text(kind: Kind, text: &str, out: &mut Vec<u8>) -> Result<(), String> {
    if kind.is_string() {
        out.extend_from_slice(text.as_bytes());
        return Ok(());
    }
    let at = out.len();
    out.resize(at + kind.size(), 0);
    number_into(kind, text, &mut out[at..])
}

/// Parse one numeric element from text into `out`, which is exactly `kind.size()` bytes,
/// little-endian. String kinds are not numbers: they are refused.
pub fn number_into(kind: Kind, text: &str, out: &mut [u8]) -> Result<(), String> {
    match kind {
        Kind::I8 => int::<i8>(text, "|i1", out),
        Kind::I16 => int::<i16>(text, "<i2", out),
        Kind::I32 => int::<i32>(text, "<i4", out),
        Kind::I64 => int::<i64>(text, "<i8", out),
        Kind::U8 => int::<u8>(text, "|u1", out),
        Kind::U16 => int::<u16>(text, "<u2", out),
        Kind::U32 => int::<u32>(text, "<u4", out),
        Kind::U64 => int::<u64>(text, "<u8", out),
        Kind::F32 => put(out, &float::<f32>(text, "<f4")?.to_le_bytes()),
        Kind::F64 => put(out, &float::<f64>(text, "<f8")?.to_le_bytes()),
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
            let [re, im] = parts[..] else {
                return Err(format!("'{text}' is not a complex number [re, im]"));
            };
            let half = kind.size() / 2;
            let (out_re, out_im) = out.split_at_mut(half);
            if kind == Kind::C64 {
                put(out_re, &float::<f32>(re, "<c8")?.to_le_bytes())?;
                put(out_im, &float::<f32>(im, "<c8")?.to_le_bytes())
            } else {
                put(out_re, &float::<f64>(re, "<c16")?.to_le_bytes())?;
                put(out_im, &float::<f64>(im, "<c16")?.to_le_bytes())
            }
        }
        Kind::Bytes(_) | Kind::Ucs4(_) | Kind::HeapStr => {
            Err("a string field is not a number (internal error)".to_string())
        }
    }
}

/// Copy an element's bytes into its slot.
fn put(out: &mut [u8], bytes: &[u8]) -> Result<(), String> {
    match out.get_mut(..bytes.len()) {
        Some(slot) => {
            slot.copy_from_slice(bytes);
            Ok(())
        }
        None => Err("element slot too small (internal error)".to_string()),
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

/// An integer type that can be stored little-endian.
trait LeInt: std::str::FromStr {
    fn put_le(self, out: &mut [u8]) -> Result<(), String>;
}

macro_rules! le_int {
    ($($t:ty),*) => {$(
        impl LeInt for $t {
            fn put_le(self, out: &mut [u8]) -> Result<(), String> {
                put(out, &self.to_le_bytes())
            }
        }
    )*};
}
le_int!(i8, i16, i32, i64, u8, u16, u32, u64);

fn int<T: LeInt>(text: &str, dtype: &str, out: &mut [u8]) -> Result<(), String> {
    let t = trimmed(text);
    match t.parse::<T>() {
        Ok(v) => v.put_le(out),
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
    /// The correctly rounded value of a short decimal, when it can be had cheaply.
    fn from_short_decimal(d: ShortDecimal) -> Option<Self>;
}

impl Float for f32 {
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }

    #[inline]
    fn from_short_decimal(d: ShortDecimal) -> Option<f32> {
        // Clinger's fast path in f32: an integer up to 2^24 and 10^0..10^10 are exact floats.
        const POW10: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];
        if d.mantissa <= 1 << 24 && (-10..=0).contains(&d.exponent) {
            let v = d.mantissa as f32 / POW10[d.exponent.unsigned_abs() as usize];
            return Some(if d.negative { -v } else { v });
        }
        // Else round to f64 (exact: Clinger's fast path), then to f32. Rounding to f64 is monotonic
        // and every f32 midpoint is an f64, so the two roundings agree with one rounding of the
        // exact value unless the f64 result is itself a midpoint between two f32 values.
        let wide = f64::from_short_decimal(d)?;
        let magnitude = wide.abs();
        if !(f32::MIN_POSITIVE as f64..=f32::MAX as f64).contains(&magnitude) {
            return (wide == 0.0).then_some(wide as f32);
        }
        const BELOW_F32: u64 = (1 << 29) - 1; // f64 mantissa bits an f32 does not keep
        if wide.to_bits() & BELOW_F32 == 1 << 28 {
            return None;
        }
        Some(wide as f32)
    }
}

impl Float for f64 {
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }

    #[inline]
    fn from_short_decimal(d: ShortDecimal) -> Option<f64> {
        // Clinger's fast path: an integer below 2^53 and a power of ten up to 10^22 are both
        // exact doubles, so one multiplication or division rounds correctly.
        const POW10: [f64; 23] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
            1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
        ];
        if d.mantissa >= 1 << 53 {
            return None;
        }
        let m = d.mantissa as f64;
        let v = match d.exponent {
            e @ 0..=22 => m * POW10[e as usize],
            e @ -22..=-1 => m / POW10[e.unsigned_abs() as usize],
            _ => return None,
        };
        Some(if d.negative { -v } else { v })
    }
}

/// A decimal `[-]digits[.digits][e[±]digits]` of at most 19 digits: ± mantissa × 10^exponent.
#[derive(Debug, Clone, Copy)]
struct ShortDecimal {
    negative: bool,
    mantissa: u64,
    exponent: i32,
}

impl ShortDecimal {
    /// The decimal spelled by `t`, or None for anything else (longer, other spellings).
    #[inline(always)]
    fn parse(t: &[u8]) -> Option<ShortDecimal> {
        let (negative, t) = match t {
            [b'-', rest @ ..] => (true, rest),
            _ => (false, t),
        };
        let mut mantissa: u64 = 0;
        let mut digits = 0u32;
        // Digits before the point, once there is one.
        let mut point = u32::MAX;
        let mut end = t.len();
        for (i, &b) in t.iter().enumerate() {
            let d = b.wrapping_sub(b'0');
            if d < 10 {
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
                digits += 1;
            } else if b == b'.' && point == u32::MAX {
                point = digits;
            } else {
                end = i;
                break;
            }
        }
        // At most 19 digits (no overflow), at least one on each side of a point.
        if digits > 19 || digits == 0 || point == 0 || point == digits {
            return None;
        }
        let mut exponent = if point == u32::MAX {
            0
        } else {
            -((digits - point) as i32)
        };
        if let [b'e' | b'E', tail @ ..] = &t[end..] {
            let (sign, tail) = match tail {
                [b'-', t @ ..] => (-1, t),
                [b'+', t @ ..] => (1, t),
                t => (1, t),
            };
            if tail.is_empty() || tail.len() > 4 || !tail.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let e = tail.iter().fold(0i32, |e, &b| e * 10 + i32::from(b - b'0'));
            exponent += sign * e;
        } else if end != t.len() {
            return None;
        }
        Some(ShortDecimal {
            negative,
            mantissa,
            exponent,
        })
    }
}

#[inline]
fn float<T: Float>(text: &str, dtype: &str) -> Result<T, String> {
    let t = trimmed(text);
    if let Some(v) = ShortDecimal::parse(t.as_bytes()).and_then(T::from_short_decimal) {
        return Ok(v);
    }
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

    #[test]
    fn short_decimals_that_round_to_an_f32_midpoint_are_parsed_exactly() {
        // A 16-digit spelling near the midpoint between two f32 values often rounds to that
        // midpoint as an f64, while the decimal itself lies on one side of it: rounding via
        // f64 would then be wrong half the time, so the fast path must step aside.
        let mut seen = 0;
        for bits in (0x0080_0000u32..0x7f7f_ffff).step_by(7919) {
            let lo = f32::from_bits(bits) as f64;
            let hi = f32::from_bits(bits + 1) as f64;
            let mid = (lo + hi) / 2.0;
            for text in [format!("{mid:.15e}"), format!("{:.15e}", mid.next_up())] {
                if text.parse::<f64>() == Ok(mid) {
                    seen += 1;
                }
                assert_eq!(
                    float::<f32>(&text, "<f4").unwrap().to_bits(),
                    text.parse::<f32>().unwrap().to_bits(),
                    "{text}"
                );
            }
        }
        assert!(seen > 100, "only {seen} texts rounded to a midpoint");
    }

    #[test]
    fn short_decimal_spellings_outside_the_fast_path_still_parse() {
        for text in [
            "1.",
            ".5",
            "+1.5",
            "1e400",
            "1e-400",
            "12345678901234567890.5",
            "-0.0",
            "0e0",
            "1E+3",
            "7e-46",
        ] {
            assert_eq!(
                float::<f64>(text, "<f8").map(f64::to_bits),
                text.parse::<f64>()
                    .map(f64::to_bits)
                    .map_err(|_| String::new())
                    .and_then(|b| if f64::from_bits(b).is_finite() {
                        Ok(b)
                    } else {
                        Err(String::new())
                    })
                    .map_err(|_| format!("'{text}' is not a number (<f8)")),
                "{text}"
            );
        }
        assert_eq!(
            float::<f32>("-0.0", "<f4").unwrap().to_bits(),
            (-0.0f32).to_bits()
        );
        assert!(float::<f32>("1e", "<f4").is_err());
        assert!(float::<f32>("1.5.2", "<f4").is_err());
        assert!(float::<f32>("--1", "<f4").is_err());
    }

    proptest::proptest! {
        #[test]
        fn f32_spellings_parse_exactly(bits in proptest::prelude::any::<u32>()) {
            let v = f32::from_bits(bits);
            proptest::prop_assume!(v.is_finite());
            for text in [v.to_string(), format!("{v:e}"), format!("{:.9e}", v), format!("{}", v as f64)] {
                proptest::prop_assert_eq!(float::<f32>(&text, "<f4").unwrap().to_bits(), text.parse::<f32>().unwrap().to_bits(), "{}", text);
            }
        }

        #[test]
        fn f64_spellings_parse_exactly(bits in proptest::prelude::any::<u64>()) {
            let v = f64::from_bits(bits);
            proptest::prop_assume!(v.is_finite());
            for text in [v.to_string(), format!("{v:e}"), format!("{:.12e}", v)] {
                proptest::prop_assert_eq!(float::<f64>(&text, "<f8").unwrap().to_bits(), text.parse::<f64>().unwrap().to_bits(), "{}", text);
            }
        }

        #[test]
        fn random_decimals_parse_as_the_standard_parser_does(
            negative in proptest::prelude::any::<bool>(),
            int in "[0-9]{1,12}",
            frac in "[0-9]{0,12}",
            exp in proptest::option::of(-40i32..40),
        ) {
            let mut text = format!("{}{int}", if negative { "-" } else { "" });
            if !frac.is_empty() {
                text = format!("{text}.{frac}");
            }
            if let Some(e) = exp {
                text = format!("{text}e{e}");
            }
            let want32 = text.parse::<f32>().unwrap();
            if want32.is_finite() {
                proptest::prop_assert_eq!(float::<f32>(&text, "<f4").unwrap().to_bits(), want32.to_bits(), "{}", text);
            }
            proptest::prop_assert_eq!(float::<f64>(&text, "<f8").unwrap().to_bits(), text.parse::<f64>().unwrap().to_bits(), "{}", text);
        }
    }
}
