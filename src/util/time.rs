//! Wall-clock helpers: RFC 3339 timestamps from and to Unix milliseconds, without a date crate.

/// Formats Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (what JavaScript's `toISOString` gives).
pub fn iso_from_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let day_secs = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        day_secs / 3600,
        day_secs % 3600 / 60,
        day_secs % 60
    )
}

/// Parses an RFC 3339 timestamp (`2024-12-05T23:57:05.379Z`, `...+02:00`, or a bare date) into
/// Unix milliseconds. Returns `None` for anything else.
#[allow(clippy::many_single_char_names)]
pub fn ms_from_iso(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = s.get(0..4)?.parse().ok()?;
    let m: u32 = s.get(5..7)?.parse().ok()?;
    let d: u32 = s.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    if b.len() == 10 {
        return Some(days * 86_400_000);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 19 {
        return None;
    }
    let hh: i64 = s.get(11..13)?.parse().ok()?;
    let mm: i64 = s.get(14..16)?.parse().ok()?;
    let ss: i64 = s.get(17..19)?.parse().ok()?;
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let padded = format!("{:0<3}", &frac[..digits.min(3)]);
        millis = padded.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset_secs = parse_offset(rest)?;
    Some((days * 86_400 + hh * 3600 + mm * 60 + ss - offset_secs) * 1000 + millis)
}

fn parse_offset(s: &str) -> Option<i64> {
    match s {
        "Z" | "z" => Some(0),
        _ if s.len() == 6 && (s.starts_with('+') || s.starts_with('-')) && &s[3..4] == ":" => {
            let h: i64 = s.get(1..3)?.parse().ok()?;
            let m: i64 = s.get(4..6)?.parse().ok()?;
            let sign = if s.starts_with('-') { -1 } else { 1 };
            Some(sign * (h * 3600 + m * 60))
        }
        _ => None,
    }
}

// Howard Hinnant's algorithms: exact for the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso_from_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_from_ms(1_733_443_025_379), "2024-12-05T23:57:05.379Z");
        assert_eq!(iso_from_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn parses_what_notion_and_framer_send() {
        assert_eq!(
            ms_from_iso("2024-12-05T23:57:05.379Z"),
            Some(1_733_443_025_379)
        );
        assert_eq!(
            ms_from_iso("2024-12-05T23:57:00.000Z"),
            Some(1_733_443_020_000)
        );
        assert_eq!(
            ms_from_iso("2024-12-06T01:57:05+02:00"),
            Some(1_733_443_025_000)
        );
        assert_eq!(ms_from_iso("2024-12-05"), Some(1_733_356_800_000));
        assert_eq!(ms_from_iso("yesterday"), None);
        assert_eq!(ms_from_iso("2024-13-05"), None);
        assert_eq!(ms_from_iso("2024-12-05T23:57:05"), None);
    }

    proptest::proptest! {
        #[test]
        fn round_trips(ms in -62_000_000_000_000i64..250_000_000_000_000i64) {
            proptest::prop_assert_eq!(ms_from_iso(&iso_from_ms(ms)), Some(ms));
        }
    }
}
