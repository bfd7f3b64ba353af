//! The current time (UTC) spelled as cryoSPARC spells it in its files.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, as (year, month, day, hour, minute, second, microsecond), UTC.
fn now_parts() -> (i64, i64, i64, u64, u64, u64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros(),
    )
}

/// `created` of a `.csg` file: `YYYY-MM-DD HH:MM:SS.ffffff`.
pub fn now_csg() -> String {
    let (y, mo, d, h, mi, s, us) = now_parts();
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")
}

/// A `job.json` / `project.json` time: `YYYY-MM-DDTHH:MM:SS.fffZ`.
pub fn now_iso() -> String {
    let (y, mo, d, h, mi, s, us) = now_parts();
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z",
        us / 1000
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn spellings_have_the_fixed_layouts() {
        let c = super::now_csg();
        assert_eq!(c.len(), 26, "{c}");
        assert_eq!(&c[10..11], " ");
        let i = super::now_iso();
        assert_eq!(i.len(), 24, "{i}");
        assert!(i.ends_with('Z') && &i[10..11] == "T", "{i}");
    }
}
