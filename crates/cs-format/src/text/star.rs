//! RELION STAR files as cryoSPARC particles become them (FORMATS.md §13, pyem's `csparc2star`):
//! the rotation convention, the unit conversions, and how a value is spelled so that RELION and
//! the `starfile` package read it back unchanged.

use std::borrow::Cow;

/// A cryoSPARC pose (a rotation vector: axis × angle in radians) as RELION's Euler angles
/// (rot, tilt, psi) in degrees.
///
/// RELION's rotation matrix `A` is the transpose of the pose's Rodrigues matrix
/// `R = I + sinθ·K + (1−cosθ)·K²`; it is built here directly (the cross-product matrix with the
/// opposite sign, as pyem's `expmap` does) and decomposed as RELION's `Euler_matrix2angles`
/// does. pyem's `csparc2star` and cryoDRGN's `parse_pose_csparc` agree on this convention.
pub fn pose_to_euler(pose: [f64; 3]) -> [f64; 3] {
    euler_of(&relion_matrix(pose))
}

/// RELION's rotation matrix of a cryoSPARC pose (the transpose of its Rodrigues matrix).
pub fn relion_matrix(v: [f64; 3]) -> [[f64; 3]; 3] {
    let theta = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    let mut a = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    if theta < 1e-16 {
        return a;
    }
    let w = [v[0] / theta, v[1] / theta, v[2] / theta];
    let k = [[0.0, w[2], -w[1]], [-w[2], 0.0, w[0]], [w[1], -w[0], 0.0]];
    let (s, c) = (theta.sin(), 1.0 - theta.cos());
    for (i, row) in a.iter_mut().enumerate() {
        for (j, aij) in row.iter_mut().enumerate() {
            let kk: f64 = (0..3).map(|m| k[i][m] * k[m][j]).sum();
            *aij += s * k[i][j] + c * kk;
        }
    }
    a
}

/// RELION's ZYZ Euler angles (rot, tilt, psi) in degrees of a rotation matrix, as RELION's
/// `Euler_matrix2angles` gives them (tilt in [0°, 180°]).
pub fn euler_of(a: &[[f64; 3]; 3]) -> [f64; 3] {
    let abs_sb = a[0][2].hypot(a[1][2]);
    let (rot, tilt, psi) = if abs_sb > 16.0 * 1e-16 {
        (
            a[2][1].atan2(a[2][0]),
            abs_sb.atan2(a[2][2]),
            a[1][2].atan2(-a[0][2]),
        )
    } else if a[2][2] > 0.0 {
        (0.0, 0.0, (-a[1][0]).atan2(a[0][0]))
    } else {
        (0.0, std::f64::consts::PI, a[1][0].atan2(-a[0][0]))
    };
    [rot.to_degrees(), tilt.to_degrees(), psi.to_degrees()]
}

/// Beam tilt in milliradians from cryoSPARC's `ctf/tilt_A` element and `ctf/cs_mm`
/// (pyem: `asin(tilt_A / cs_mm · 1e-7) · 1e3`).
pub fn beam_tilt_mrad(tilt_a: f64, cs_mm: f64) -> f64 {
    (tilt_a / cs_mm * 1e-7).asin() * 1e3
}

/// Why a text value cannot be written so that STAR readers read it back.
pub fn unwritable(s: &str) -> Option<&'static str> {
    if s.contains(['"', '\'']) {
        Some("holds a quote, which RELION and starfile do not read back from a STAR file")
    } else if s.chars().any(char::is_control) {
        Some("holds a control character (a newline or tab), which a STAR value cannot hold")
    } else {
        None
    }
}

/// Append a text value as a STAR token: as it is, or in double quotes when it is empty, holds a
/// space or `#`, or could be read as STAR syntax (`_name`, `data_`, `loop_`, `$`, `;`). The
/// caller has checked it with [`unwritable`].
pub fn push_token(out: &mut Vec<u8>, s: &str) {
    if needs_quotes(s) {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

fn needs_quotes(s: &str) -> bool {
    const RESERVED: [&str; 5] = ["data_", "loop_", "save_", "stop_", "global_"];
    let lower = s.get(..7).unwrap_or(s).to_ascii_lowercase();
    s.is_empty()
        || s.contains([' ', '#'])
        || s.starts_with(['_', '$', ';'])
        || RESERVED.iter().any(|r| lower.starts_with(r))
}

/// Append `v` with six decimals, as pyem (`%.6f`) writes numbers.
pub fn push_fixed6(out: &mut Vec<u8>, v: f64) {
    // Below 2^53 / 10^6 the value in millionths rounds to an exact integer: print it with a
    // point. Near a tie the product's rounding could decide otherwise than the exact decimal
    // value does: those few go through `format!`.
    let x = v * 1e6;
    if v.is_finite() && v.abs() < 9.0e9 && (x - x.floor() - 0.5).abs() > 1e-5 {
        let micro = x.round();
        let n = micro.abs() as u64;
        if micro < 0.0 || (micro == 0.0 && v.is_sign_negative()) {
            out.push(b'-');
        }
        let mut buf = itoa::Buffer::new();
        out.extend_from_slice(buf.format(n / 1_000_000).as_bytes());
        out.push(b'.');
        let frac = buf.format(n % 1_000_000 + 1_000_000).as_bytes();
        out.extend_from_slice(&frac[1..]);
    } else {
        out.extend_from_slice(format!("{v:.6}").as_bytes());
    }
}

/// Remove cryoSPARC's 21-digit uid prefixes (`[0-9]{21}_`) from a file name, the first
/// `count` of them or (`None`) all, as pyem's `--strip-uid` does.
pub fn strip_path_uids(s: &str, count: Option<usize>) -> Cow<'_, str> {
    let b = s.as_bytes();
    let mut out = String::new();
    let (mut from, mut at, mut done) = (0, 0, 0);
    while at + 22 <= b.len() && count.is_none_or(|c| done < c) {
        if b[at..at + 21].iter().all(u8::is_ascii_digit) && b[at + 21] == b'_' {
            out.push_str(&s[from..at]);
            at += 22;
            from = at;
            done += 1;
        } else {
            at += 1;
        }
    }
    if done == 0 {
        return Cow::Borrowed(s);
    }
    out.push_str(&s[from..]);
    Cow::Owned(out)
}

/// `path` moved into `folder` (its file name kept), as pyem's `--micrograph-path` does.
pub fn in_folder(folder: &str, path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    if folder.is_empty() || folder.ends_with('/') {
        format!("{folder}{name}")
    } else {
        format!("{folder}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spelled(v: f64) -> String {
        let mut out = Vec::new();
        push_fixed6(&mut out, v);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn six_decimals_are_printed_as_printf_prints_them() {
        for v in [
            0.0,
            -0.0,
            1.5,
            -1.5,
            8769.4375,
            -62.296822,
            1e-7,
            -4e-7,
            123456.7890125,
            8.9e9,
            1e12,
            -3.25e10,
        ] {
            assert_eq!(spelled(v), format!("{v:.6}"), "{v}");
        }
    }

    proptest::proptest! {
        #[test]
        fn six_decimals_of_any_float32_are_printfs(bits in proptest::prelude::any::<u32>()) {
            let v = f64::from(f32::from_bits(bits));
            proptest::prop_assert_eq!(spelled(v), format!("{v:.6}"));
        }
    }

    #[test]
    fn a_zero_pose_is_zero_angles() {
        assert_eq!(pose_to_euler([0.0; 3]), [0.0, 0.0, 0.0]);
    }

    #[test]
    fn uid_prefixes_are_stripped_as_pyem_strips_them() {
        let p = "J5/extract/000148145326166250488_FoilHole_000148145326166250489_x.mrc";
        assert_eq!(
            strip_path_uids(p, None),
            "J5/extract/FoilHole_x.mrc".to_string()
        );
        assert_eq!(
            strip_path_uids(p, Some(1)),
            "J5/extract/FoilHole_000148145326166250489_x.mrc".to_string()
        );
        // 20 digits are not a uid; 25 digits end in one.
        assert_eq!(
            strip_path_uids("01234567890123456789_a", None),
            "01234567890123456789_a"
        );
        assert_eq!(
            strip_path_uids("9999000148145326166250488_a", None),
            "9999a"
        );
    }

    #[test]
    fn tokens_are_quoted_when_a_reader_would_split_or_misread_them() {
        for (s, want) in [
            ("a.mrc", "a.mrc"),
            ("", "\"\""),
            ("a b.mrc", "\"a b.mrc\""),
            ("a#b", "\"a#b\""),
            ("_x", "\"_x\""),
            ("DATA_x", "\"DATA_x\""),
            ("loop_", "\"loop_\""),
            ("é.mrc", "é.mrc"),
        ] {
            let mut out = Vec::new();
            push_token(&mut out, s);
            assert_eq!(String::from_utf8(out).unwrap_or_default(), want);
        }
        assert!(unwritable("a\"b").is_some() && unwritable("a'b").is_some());
        assert!(unwritable("a\nb").is_some() && unwritable("a\tb").is_some());
        assert!(unwritable("a b#c").is_none());
    }
}
