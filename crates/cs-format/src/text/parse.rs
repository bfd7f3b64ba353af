//! Parsing cell text back into stored elements: the inverse of [`crate::text::cell`]'s spelling.
//! Integers from JSON numbers or strings of digits (what `--int64-as-string` prints); floats
//! from numbers or `NaN` / `Infinity` / `-Infinity`; complex from `[re, im]`; strings as they
//! are. Every element is appended little-endian.

use crate::container::dtype::Kind;

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
#[inline]
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
            #[inline]
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
        // Multiply in f64 by a power of ten (a reciprocal for negative exponents): within 2 f64
        // ulps of the exact value, and f64 keeps 29 bits more than f32, so rounding that to f32
        // gives the exact value's f32 unless an f32 midpoint is within a few ulps of it; then
        // take the exactly rounded way below. No division on the common path.
        const NEAR_MIDPOINT: u64 = 8; // f64 ulps, > the 2-ulp error doubled at a binade edge
        const BELOW_F32: u64 = (1 << 29) - 1; // f64 mantissa bits an f32 does not keep
        if d.mantissa < 1 << 53 && (-22..=22).contains(&d.exponent) {
            let approx = d.mantissa as f64 * POW10_F64[(d.exponent + 22) as usize];
            // approx is not negative: the sign is applied after rounding.
            if (f32::MIN_POSITIVE as f64..=f32::MAX as f64).contains(&approx) {
                let low = approx.to_bits() & BELOW_F32;
                if low.abs_diff(1 << 28) > NEAR_MIDPOINT {
                    let v = approx as f32;
                    return Some(if d.negative { -v } else { v });
                }
            }
        }
        // Else round to f64 (exact: Clinger's fast path), then to f32. Rounding to f64 is monotonic
        // and every f32 midpoint is an f64, so the two roundings agree with one rounding of the
        // exact value unless the f64 result is itself a midpoint between two f32 values.
        let wide = f64::from_short_decimal(d)?;
        let magnitude = wide.abs();
        if !(f32::MIN_POSITIVE as f64..=f32::MAX as f64).contains(&magnitude) {
            return (wide == 0.0).then_some(wide as f32);
        }
        if wide.to_bits() & BELOW_F32 == 1 << 28 {
            return None;
        }
        Some(wide as f32)
    }
}

/// 10^-22 ..= 10^22 as the nearest doubles (exact from 10^0 up).
const POW10_F64: [f64; 45] = [
    1e-22, 1e-21, 1e-20, 1e-19, 1e-18, 1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11, 1e-10,
    1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
    1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

impl Float for f64 {
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }

    #[inline]
    fn from_short_decimal(d: ShortDecimal) -> Option<f64> {
        // Clinger's fast path: an integer below 2^53 and a power of ten up to 10^22 are both
        // exact doubles, so one multiplication or division rounds correctly.
        if d.mantissa >= 1 << 53 {
            return None;
        }
        let m = d.mantissa as f64;
        let v = match d.exponent {
            e @ 0..=22 => m * POW10_F64[(22 + e) as usize],
            e @ -22..=-1 => m / POW10_F64[(22 - e) as usize],
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
    /// The decimal spelled by the whole of `t`, or None for anything else.
    #[inline(always)]
    fn parse(t: &[u8]) -> Option<ShortDecimal> {
        match ShortDecimal::prefix(t) {
            Some((d, n)) if n == t.len() => Some(d),
            _ => None,
        }
    }

    /// The decimal spelled at the start of `t` and the length of its spelling, or None when
    /// `t` does not start with one (or it has more than 19 digits).
    #[inline(always)]
    fn prefix(t: &[u8]) -> Option<(ShortDecimal, usize)> {
        if let Some((negative, mantissa, fraction, len)) = crate::text::decimal16::point_decimal(t)
        {
            let d = ShortDecimal {
                negative,
                mantissa,
                exponent: -(fraction as i32),
            };
            return Some((d, len));
        }
        ShortDecimal::prefix_bytewise(t)
    }

    /// [`ShortDecimal::prefix`] eight bytes at a time, for every spelling.
    #[inline(always)]
    fn prefix_bytewise(t: &[u8]) -> Option<(ShortDecimal, usize)> {
        let negative = t.first() == Some(&b'-');
        let start = usize::from(negative);
        let (mut mantissa, int_digits, mut end) = digit_run(t, start, 0);
        if int_digits == 0 {
            return None;
        }
        let mut digits = int_digits;
        let mut exponent = 0i32;
        if t.get(end) == Some(&b'.') {
            let (m, frac_digits, after) = digit_run(t, end + 1, mantissa);
            if frac_digits == 0 {
                return None;
            }
            (mantissa, end) = (m, after);
            digits += frac_digits;
            exponent = -(frac_digits as i32);
        }
        // At most 19 digits: the mantissa has not overflowed.
        if digits > 19 {
            return None;
        }
        if let Some(b'e' | b'E') = t.get(end) {
            let tail = &t[end + 1..];
            let signed = usize::from(matches!(tail.first(), Some(b'-' | b'+')));
            let e_digits = tail[signed..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if e_digits == 0 || e_digits > 4 {
                return None;
            }
            let e = tail[signed..signed + e_digits]
                .iter()
                .fold(0i32, |e, &b| e * 10 + i32::from(b - b'0'));
            exponent += if tail[0] == b'-' { -e } else { e };
            end += 1 + signed + e_digits;
        }
        Some((
            ShortDecimal {
                negative,
                mantissa,
                exponent,
            },
            end,
        ))
    }
}

/// The run of ASCII digits at `t[at..]` appended to `mantissa` (wrapping past 19 digits): the
/// new mantissa, the run's length and where it ends. Eight digits are taken at a time.
#[inline(always)]
fn digit_run(t: &[u8], at: usize, mut mantissa: u64) -> (u64, u32, usize) {
    const POW10: [u64; 9] = [
        1,
        10,
        100,
        1_000,
        10_000,
        100_000,
        1_000_000,
        10_000_000,
        100_000_000,
    ];
    let mut i = at;
    let mut digits = 0u32;
    loop {
        let (n, value) = eight_digits(word_at(t, i));
        mantissa = mantissa.wrapping_mul(POW10[n as usize]).wrapping_add(value);
        digits += n;
        i += n as usize;
        if n < 8 {
            return (mantissa, digits, i);
        }
    }
}

/// The 8 bytes at `t[at..]` as a little-endian word (the first byte lowest), zero-padded past
/// the end.
#[inline(always)]
fn word_at(t: &[u8], at: usize) -> u64 {
    match t.get(at..at + 8) {
        Some(bytes) => u64::from_le_bytes(bytes.try_into().unwrap_or_default()),
        None => {
            let mut padded = [0u8; 8];
            let rest = t.get(at..).unwrap_or_default();
            padded[..rest.len()].copy_from_slice(rest);
            u64::from_le_bytes(padded)
        }
    }
}

/// How many ASCII digits a word starts with (first byte lowest), and their value: the digits
/// are classified and combined eight at a time, without a branch per byte.
#[inline(always)]
fn eight_digits(word: u64) -> (u32, u64) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let t = word ^ (ONES * b'0' as u64); // a digit byte becomes its value
                                         // High bit set in each byte that is not 0..=9 (no carry crosses a byte).
    let not_digit = (((t & (ONES * 0x7f)) + ONES * 0x76) | t) & (ONES * 0x80);
    let n = not_digit.trailing_zeros() / 8;
    if n == 0 {
        return (0, 0);
    }
    // Keep the n digits as the high bytes; the zero bytes below are leading zeros.
    let v = t << (8 * (8 - n));
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let v = ((v & 0x0000_00ff_0000_00ff)
        .wrapping_mul(100 + (1_000_000 << 32))
        .wrapping_add(((v >> 16) & 0x0000_00ff_0000_00ff).wrapping_mul(1 + (10_000 << 32))))
        >> 32;
    (n, v)
}

/// The quick way through CSV cells: parse the number of `kind` spelled at the start of `text`
/// as cs-cat spells numbers (digits, a point, an exponent; `NaN`, `Infinity`), store it
/// little-endian in `out` (exactly `kind.size()` bytes) and return the length of the spelling.
/// None when `text` does not start so, or the value does not fit `kind`: [`number_into`] says
/// what is wrong.
#[inline(always)]
pub fn number_prefix(kind: Kind, text: &[u8], out: &mut [u8]) -> Option<usize> {
    match kind {
        Kind::F32 => f32_prefix(text, out),
        Kind::F64 => float_prefix::<f64>(text, |v| put(out, &v.to_le_bytes()).ok()),
        Kind::U8 => uint_prefix(text, |v| u8::try_from(v).ok()?.put_le(out).ok()),
        Kind::U16 => uint_prefix(text, |v| u16::try_from(v).ok()?.put_le(out).ok()),
        Kind::U32 => uint_prefix(text, |v| u32::try_from(v).ok()?.put_le(out).ok()),
        Kind::U64 => uint_prefix(text, |v| v.put_le(out).ok()),
        Kind::I8 => int_prefix(text, |v| i8::try_from(v).ok()?.put_le(out).ok()),
        Kind::I16 => int_prefix(text, |v| i16::try_from(v).ok()?.put_le(out).ok()),
        Kind::I32 => int_prefix(text, |v| i32::try_from(v).ok()?.put_le(out).ok()),
        Kind::I64 => int_prefix(text, |v| v.put_le(out).ok()),
        _ => None,
    }
}

/// [`number_prefix`] for an f32 (`out`: 4 bytes), for a column of `<f4` parsed without a
/// dispatch on kind per cell.
#[inline(always)]
pub fn f32_prefix(text: &[u8], out: &mut [u8]) -> Option<usize> {
    float_prefix::<f32>(text, |v| put(out, &v.to_le_bytes()).ok())
}

#[inline(always)]
fn float_prefix<T: Float>(text: &[u8], store: impl FnOnce(T) -> Option<()>) -> Option<usize> {
    let Some((d, n)) = ShortDecimal::prefix(text) else {
        // The special spellings, parsed as the general path parses them.
        let special = ["NaN", "Infinity", "-Infinity"]
            .into_iter()
            .find(|s| text.starts_with(s.as_bytes()))?;
        store(special.parse().ok()?)?;
        return Some(special.len());
    };
    let v = match T::from_short_decimal(d) {
        Some(v) => v,
        None => std::str::from_utf8(&text[..n]).ok()?.parse().ok()?,
    };
    if !v.is_finite() {
        return None;
    }
    store(v)?;
    Some(n)
}

/// The digits at the start of `text` as a u64 and their count (None: none, or more than a u64
/// holds). Eight digits are taken at a time; up to 19 cannot overflow, the 20th is checked.
#[inline(always)]
fn digits_prefix(text: &[u8]) -> Option<(u64, usize)> {
    let (v, n, _) = digit_run(text, 0, 0);
    match n {
        0 => None,
        1..=19 => Some((v, n as usize)),
        20 => {
            let (high, _, _) = digit_run(&text[..19], 0, 0);
            let v = high
                .checked_mul(10)?
                .checked_add(u64::from(text[19] - b'0'))?;
            Some((v, 20))
        }
        _ => None,
    }
}

#[inline(always)]
fn uint_prefix(text: &[u8], store: impl FnOnce(u64) -> Option<()>) -> Option<usize> {
    let (v, n) = digits_prefix(text)?;
    store(v)?;
    Some(n)
}

#[inline(always)]
fn int_prefix(text: &[u8], store: impl FnOnce(i64) -> Option<()>) -> Option<usize> {
    let negative = text.first() == Some(&b'-');
    let (magnitude, n) = digits_prefix(&text[usize::from(negative)..])?;
    let v = if negative {
        0i64.checked_sub_unsigned(magnitude)?
    } else {
        i64::try_from(magnitude).ok()?
    };
    store(v)?;
    Some(n + usize::from(negative))
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
    fn decimals_near_an_f32_midpoint_round_like_rusts_parser() {
        // The quick f32 way multiplies in f64 (within 2 ulps of the exact value): spellings of
        // every length that land within a few f64 ulps of a midpoint must still round exactly.
        for bits in (0x0080_0000u32..0x7f7f_ffff).step_by(104_729) {
            let lo = f32::from_bits(bits) as f64;
            let mid = (lo + f32::from_bits(bits + 1) as f64) / 2.0;
            for near in [
                mid.next_down().next_down(),
                mid.next_down(),
                mid,
                mid.next_up(),
            ] {
                for digits in 7..=16 {
                    let text = format!("{near:.digits$e}");
                    assert_eq!(
                        float::<f32>(&text, "<f4").unwrap().to_bits(),
                        text.parse::<f32>().unwrap().to_bits(),
                        "{text}"
                    );
                }
            }
        }
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

    /// The quick path either agrees with the general one or steps aside.
    fn agrees(kind: Kind, text: &str) -> Result<(), String> {
        let mut fast = vec![0u8; kind.size()];
        let general = parse(kind, text);
        // Padded past 16 bytes, so that the 16-byte decimal reader can take the cell.
        let cell = format!("{text},next,0.0,0.0,0.0");
        match number_prefix(kind, cell.as_bytes(), &mut fast) {
            Some(n) if n == text.len() && general.as_deref() != Ok(&fast[..]) => {
                return Err(format!(
                    "{kind:?} {text:?}: quick {fast:?}, general {general:?}"
                ));
            }
            Some(n) if general.is_ok() && n > text.len() => {
                return Err(format!("{kind:?} {text:?}: quick path read past the cell"));
            }
            _ => {}
        }
        Ok(())
    }

    #[test]
    fn quick_numbers_stop_at_the_end_of_their_spelling() {
        let mut out = [0u8; 4];
        assert_eq!(number_prefix(Kind::F32, b"1.5,2", &mut out), Some(3));
        assert_eq!(out, 1.5f32.to_le_bytes());
        assert_eq!(number_prefix(Kind::F32, b"-Infinity\n", &mut out), Some(9));
        assert_eq!(number_prefix(Kind::F32, b"1e,", &mut out), None);
        assert_eq!(number_prefix(Kind::F32, b"1e400,", &mut out), None);
        assert_eq!(number_prefix(Kind::U32, b"4294967296,", &mut out), None);
        assert_eq!(number_prefix(Kind::U32, b"-1,", &mut out), None);
        assert_eq!(
            number_prefix(Kind::I32, b"-2147483648,", &mut out),
            Some(11)
        );
        assert_eq!(out, i32::MIN.to_le_bytes());
        assert_eq!(number_prefix(Kind::I32, b" 5,", &mut out), None);
    }

    #[test]
    fn quick_integers_of_19_to_21_digits_are_exact_or_step_aside() {
        let edges = [
            "9999999999999999999",
            "10000000000000000000",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "100000000000000000000",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "-18446744073709551615",
            "00000000000000000001",
            "12345678901234567890",
        ];
        let kinds = [Kind::U64, Kind::I64, Kind::U32, Kind::I32];
        for text in edges {
            for kind in kinds {
                assert_eq!(agrees(kind, text), Ok(()), "{kind:?} {text}");
            }
        }
        // The largest uids take the quick path, not the general one.
        let mut out = [0u8; 8];
        assert_eq!(
            number_prefix(Kind::U64, b"18446744073709551615,", &mut out),
            Some(20)
        );
        assert_eq!(u64::from_le_bytes(out), u64::MAX);
        assert_eq!(
            number_prefix(Kind::U64, b"12345678901234567890\n", &mut out),
            Some(20)
        );
        assert_eq!(u64::from_le_bytes(out), 12_345_678_901_234_567_890);
        assert_eq!(
            number_prefix(Kind::U64, b"18446744073709551616,", &mut out),
            None
        );
    }

    /// Where the 16-byte reader takes a spelling, it reads what the bytewise reader reads;
    /// true when it took it.
    fn sixteen_bytes_agree(t: &[u8]) -> bool {
        let Some((negative, mantissa, fraction, len)) = crate::text::decimal16::point_decimal(t)
        else {
            return false;
        };
        let (d, n) = ShortDecimal::prefix_bytewise(t)
            .unwrap_or_else(|| panic!("{:?}: only the 16-byte reader took it", show_bytes(t)));
        assert_eq!(
            (d.negative, d.mantissa, d.exponent, n),
            (negative, mantissa, -(fraction as i32), len),
            "{:?}",
            show_bytes(t)
        );
        true
    }

    fn show_bytes(t: &[u8]) -> String {
        String::from_utf8_lossy(t).into_owned()
    }

    #[test]
    fn the_sixteen_byte_reader_reads_what_the_bytewise_reader_reads() {
        // Every split of up to 16 digits around a point, each byte that can end a spelling,
        // with and without a sign; digits from a fixed pseudo-random sequence.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut digit = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            b'0' + (seed >> 33) as u8 % 10
        };
        let mut taken = 0;
        for sign in [&b""[..], b"-"] {
            for int in 0..=16 {
                for frac in 0..=16 {
                    for end in [b',', b'\n', b'e', b'E', b'.', b'-', b'x', b'\t', b'"'] {
                        let mut t = sign.to_vec();
                        t.extend((0..int).map(|_| digit()));
                        t.push(b'.');
                        t.extend((0..frac).map(|_| digit()));
                        t.push(end);
                        t.extend_from_slice(b"0.0,1.5,2.25,-3e5\n");
                        if sixteen_bytes_agree(&t) {
                            taken += 1;
                        }
                        // Too short to hold a 16-byte window: the bytewise reader alone.
                        let short = &t[..t.len().min(sign.len() + 15)];
                        assert!(!sixteen_bytes_agree(short));
                    }
                }
            }
        }
        // On x86-64 with SSSE3 the quick reader takes the spellings it is for.
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("ssse3") {
            assert!(taken > 1000, "{taken}");
            assert!(sixteen_bytes_agree(b"-0.109662995,1.0825,0.0\n"));
            assert!(sixteen_bytes_agree(b"15239.269\n0.0,0.0,0.0,0.0"));
        }
        // Spellings it leaves to the bytewise reader.
        for t in [
            &b"1.5e-05,0.0,0.0,0.0"[..],
            b"12345678901234.5,0.0,0.0",
            b".5,0.0,0.0,0.0,0.0,0.0,0.0",
            b"1.,0.0,0.0,0.0,0.0,0.0,0.0",
            b"300,0.0,0.0,0.0,0.0,0.0,0.0",
            b"0.123456789012345,0.0,0.0",
        ] {
            assert!(!sixteen_bytes_agree(t), "{:?}", show_bytes(t));
        }
    }

    proptest::proptest! {
        #[test]
        fn the_sixteen_byte_reader_agrees_on_any_bytes(t in "[-0-9.eE,\n]{0,40}") {
            sixteen_bytes_agree(t.as_bytes());
        }

        #[test]
        fn quick_numbers_agree_with_the_general_parser(
            text in "-?[0-9]{0,21}(\\.[0-9]{0,8})?([eE][-+]?[0-9]{0,5})?|NaN|Infinity|-Infinity|[ +]?[0-9.]{1,4}",
        ) {
            for kind in [Kind::F32, Kind::F64, Kind::U8, Kind::U16, Kind::U32, Kind::U64, Kind::I8, Kind::I16, Kind::I32, Kind::I64] {
                proptest::prop_assert_eq!(agrees(kind, &text), Ok(()));
            }
        }
    }
}
