//! Short decimals `[-]I.F` read sixteen bytes at a time (x86-64 with SSSE3): the bytes are
//! classified in one compare, the digits gathered past the point with one shuffle and combined
//! with three multiply-adds. This is how most float cells of a CSV written by `cs-to-csv` are
//! spelled (`-0.109662995`, `15239.269`); anything else (an exponent, no point, more than 16
//! bytes to the end of the spelling, fewer than 16 bytes left in the text, another CPU) is left
//! to the scalar reader in `parse`, which gives the same answer for these spellings.

/// The decimal `[-]I.F` (1 to 14 digits in all) at the start of `t` when all of it, and the
/// byte after it, lie within 16 bytes of its first digit, and that byte is not an exponent
/// mark: (negative, all the digits as one integer, digits after the point, length).
#[inline]
pub(crate) fn point_decimal(t: &[u8]) -> Option<(bool, u64, u32, usize)> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("ssse3") {
            let negative = t.first() == Some(&b'-');
            let start = usize::from(negative);
            let window: &[u8; 16] = t.get(start..start + 16)?.try_into().ok()?;
            // SAFETY: the CPU has SSSE3 (checked just above), the only requirement of
            // `x86::point_decimal`; it reads nothing but `window`.
            let (mantissa, fraction, len) = unsafe { x86::point_decimal(window) }?;
            return Some((negative, mantissa, fraction, start + len));
        }
    }
    let _ = t;
    None
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_cvtsi128_si32, _mm_madd_epi16, _mm_maddubs_epi16,
        _mm_min_epu8, _mm_movemask_epi8, _mm_packs_epi32, _mm_set1_epi16, _mm_set1_epi32,
        _mm_set1_epi8, _mm_set_epi64x, _mm_shuffle_epi8, _mm_srli_si128, _mm_sub_epi8,
    };

    /// Shuffle controls that gather the digits of `I.F` (point at byte `k`, first byte after
    /// the fraction at `e`) into the last `e - 1` lanes, most significant first, zeroing the
    /// lanes before them: `GATHER[k][e]`.
    static GATHER: [[[u8; 16]; 16]; 16] = gather_table();

    const fn gather_table() -> [[[u8; 16]; 16]; 16] {
        let mut table = [[[0x80u8; 16]; 16]; 16];
        let mut k = 1;
        while k < 16 {
            let mut e = k + 2;
            while e < 16 {
                let n = e - 1; // digits
                let mut j = 0;
                while j < n {
                    table[k][e][16 - n + j] = (if j < k { j } else { j + 1 }) as u8;
                    j += 1;
                }
                e += 1;
            }
            k += 1;
        }
        table
    }

    #[inline]
    #[target_feature(enable = "ssse3")]
    fn vector(bytes: &[u8; 16]) -> __m128i {
        let (low, high) = bytes.split_at(8);
        let word = |b: &[u8]| i64::from_le_bytes(b.try_into().unwrap_or_default());
        _mm_set_epi64x(word(high), word(low))
    }

    /// `I.F` at the start of `window` (see [`super::point_decimal`]): (digits as one integer,
    /// digits after the point, length).
    #[target_feature(enable = "ssse3")]
    pub(super) fn point_decimal(window: &[u8; 16]) -> Option<(u64, u32, usize)> {
        let values = _mm_sub_epi8(vector(window), _mm_set1_epi8(b'0' as i8));
        // A digit's value is at most 9 when read unsigned; every other byte's is more.
        let is_digit = _mm_cmpeq_epi8(_mm_min_epu8(values, _mm_set1_epi8(9)), values);
        let other = !(_mm_movemask_epi8(is_digit) as u32) & 0xffff;
        let k = other.trailing_zeros() as usize; // the point, after the integer digits
        if k == 0 || k > 13 || window[k] != b'.' {
            return None;
        }
        let after = other >> (k + 1);
        if after & 1 != 0 || after == 0 {
            return None; // no digit after the point, or the end is not in the window
        }
        let e = k + 1 + after.trailing_zeros() as usize;
        if matches!(window[e], b'e' | b'E') {
            return None;
        }
        let digits = _mm_shuffle_epi8(values, vector(&GATHER[k][e]));
        // Pairs (10a + b), then groups of four, then of eight.
        let pairs = _mm_maddubs_epi16(digits, _mm_set1_epi16(0x010a));
        let fours = _mm_madd_epi16(pairs, _mm_set1_epi32(0x0001_0064));
        let fours = _mm_packs_epi32(fours, fours);
        let eights = _mm_madd_epi16(fours, _mm_set1_epi32(0x0001_2710));
        let high = _mm_cvtsi128_si32(eights) as u64;
        let low = _mm_cvtsi128_si32(_mm_srli_si128::<4>(eights)) as u64;
        Some((high * 100_000_000 + low, (e - k - 1) as u32, e))
    }
}
