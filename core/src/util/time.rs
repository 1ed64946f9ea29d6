//! Wall-clock helpers: ISO 8601 timestamps from and to Unix milliseconds, without a date crate.
//! The crate's only date code.
//!
//! Two readers, because two kinds of text arrive: [`ms_from_iso`] takes the RFC 3339 profile
//! that Notion's and Framer's own timestamps (and ours) use, and refuses anything looser;
//! [`ms_from_iso8601`] takes the looser forms people type into Notion date properties (no
//! seconds, no offset, `+02`). Both read the same digits the same way.

const MS_PER_DAY: i64 = 86_400_000;

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
pub fn ms_from_iso(s: &str) -> Option<i64> {
    if is_rfc3339(s.as_bytes()) {
        ms_from_iso8601(s)
    } else {
        None
    }
}

/// Parses any ISO 8601 date or date-time Notion sends into Unix milliseconds: `YYYY-MM-DD`,
/// optionally followed by `T`, `t` or a space and `HH:MM[:SS[.fff...]]`, optionally followed by
/// `Z` or an offset `±HH`, `±HHMM` or `±HH:MM`. A bare date is midnight UTC; a time without an
/// offset is taken as UTC. Digits past milliseconds are dropped, not rounded.
pub fn ms_from_iso8601(text: &str) -> Option<i64> {
    let (date, time) = match text.split_once(['T', 't', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let days = days_from_date(date)?;
    let ms_of_day = match time {
        Some(time) => ms_of_day_utc(time)?,
        None => 0,
    };
    Some(days * MS_PER_DAY + ms_of_day)
}

/// [`ms_from_iso8601`] written back as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn normalize_iso8601(text: &str) -> Option<String> {
    ms_from_iso8601(text).map(iso_from_ms)
}

/// The RFC 3339 shape: `YYYY-MM-DD`, or that plus `THH:MM:SS[.f+](Z|±HH:MM)`.
fn is_rfc3339(b: &[u8]) -> bool {
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    let date = digits(0..4) && at(4, b"-") && digits(5..7) && at(7, b"-") && digits(8..10);
    if !date || b.len() == 10 {
        return date;
    }
    let clock = at(10, b"Tt ")
        && digits(11..13)
        && at(13, b":")
        && digits(14..16)
        && at(16, b":")
        && digits(17..19);
    if !clock {
        return false;
    }
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let count = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if count == 0 {
            return false;
        }
        rest = &fraction[count..];
    }
    match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// `YYYY-MM-DD` -> days since 1970-01-01.
fn days_from_date(date: &str) -> Option<i64> {
    let mut parts = date.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (year, month, day) = (digits(year, 4)?, digits(month, 2)?, digits(day, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Both are two-digit numbers in range, so the conversions cannot fail.
    Some(days_from_civil(
        year,
        u32::try_from(month).ok()?,
        u32::try_from(day).ok()?,
    ))
}

/// `HH:MM[:SS[.fff]][Z|±HH[[:]MM]]` -> milliseconds since that day's UTC midnight (may be
/// negative or exceed a day once the offset is applied).
fn ms_of_day_utc(time: &str) -> Option<i64> {
    let offset_at = time.find(['Z', 'z', '+', '-']).unwrap_or(time.len());
    let (clock, offset) = time.split_at(offset_at);
    let mut fields = clock.splitn(3, ':');
    let hours = digits(fields.next()?, 2)?;
    let minutes = digits(fields.next()?, 2)?;
    let (seconds, millis) = match fields.next() {
        Some(rest) => seconds_and_millis(rest)?,
        None => (0, 0),
    };
    if hours > 23 || minutes > 59 || seconds > 60 {
        return None;
    }
    let local = ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis;
    Some(local - offset_ms(offset)?)
}

/// `SS[.fff...]` -> (seconds, milliseconds); digits past the third are dropped.
fn seconds_and_millis(text: &str) -> Option<(i64, i64)> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let seconds = digits(whole, 2)?;
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis = format!("{:0<3}", &fraction[..fraction.len().min(3)])
        .parse()
        .ok()?;
    Some((seconds, millis))
}

/// `""`, `Z`, `±HH`, `±HHMM` or `±HH:MM` -> milliseconds east of UTC.
fn offset_ms(offset: &str) -> Option<i64> {
    if offset.is_empty() || offset.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    // The offset starts with one of the ASCII characters `ms_of_day_utc` split at.
    let body = &offset[1..];
    let (hours, minutes) = match body.split_once(':') {
        Some(parts) => parts,
        None if body.len() <= 2 => (body, ""),
        // `get` rather than slicing: the text may hold multi-byte characters.
        None => (body.get(..2)?, &body[2..]),
    };
    let minutes = if minutes.is_empty() {
        0
    } else {
        digits(minutes, 2)?
    };
    Some(sign * (digits(hours, 2)? * 60 + minutes) * 60_000)
}

/// Exactly `len` ASCII digits as a number.
fn digits(text: &str, len: usize) -> Option<i64> {
    if text.len() == len && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
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
    use proptest::prelude::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso_from_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_from_ms(1_733_443_025_379), "2024-12-05T23:57:05.379Z");
        assert_eq!(iso_from_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_from_ms(-1), "1969-12-31T23:59:59.999Z");
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

    #[test]
    fn rfc3339_refuses_what_only_the_lenient_reader_takes() {
        for loose in [
            "2024-12-05T23:57Z",
            "2024-12-05T23:57:05+02",
            "2024-12-05T23:57:05+0200",
            "2024-12-05T23:57:05.Z",
            "2024-12-05T23x57y05Z",
            "2024-+1-05",
            "-024-12-05",
        ] {
            assert_eq!(ms_from_iso(loose), None, "{loose}");
        }
        assert_eq!(
            ms_from_iso8601("2024-12-05T23:57Z"),
            Some(1_733_443_020_000)
        );
        assert_eq!(
            ms_from_iso8601("2024-12-06T01:57:05+0200"),
            Some(1_733_443_025_000)
        );
    }

    #[test]
    fn dates_normalise_to_utc_iso() {
        let cases = [
            ("2024-12-05", "2024-12-05T00:00:00.000Z"),
            ("2024-12-05T10:30:00.000+02:00", "2024-12-05T08:30:00.000Z"),
            ("2024-12-05T23:57:05.379Z", "2024-12-05T23:57:05.379Z"),
            ("2024-01-01T01:00:00-03:30", "2024-01-01T04:30:00.000Z"),
            ("2024-01-01T00:30+01:00", "2023-12-31T23:30:00.000Z"),
            ("2024-02-29T12:00:00.5Z", "2024-02-29T12:00:00.500Z"),
            ("2024-12-05T10:30:00", "2024-12-05T10:30:00.000Z"),
            ("2024-12-05 10:30:00+02", "2024-12-05T08:30:00.000Z"),
            ("2024-12-05T10:30:00.123456Z", "2024-12-05T10:30:00.123Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(normalize_iso8601(text).as_deref(), Some(expected), "{text}");
        }
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "2024-12-05T25:00:00Z",
            "2024-1-5",
            "2024-12-05T10:30:00+2",
            "2024-+1-05",
            "2024-12-05T10:+1",
            // Multi-byte text where the offset is cut used to panic.
            "2024-01-01T10:00Zaé",
            "2024-01-01T10:00+0é00",
            "2024-12-05T23:57:05+0é00",
        ] {
            assert_eq!(normalize_iso8601(bad), None, "{bad}");
            assert_eq!(ms_from_iso(bad), None, "{bad}");
        }
    }

    /// 0001-01-01 .. 9998-12-31: four-digit years even after a 14 h offset either way.
    const INSTANTS: std::ops::Range<i64> = -62_135_596_800_000..253_370_764_800_000;

    /// `ms` written as local time at `offset_min` minutes east of UTC with `fraction` digits of
    /// the second (none for 0), and the instant that text denotes (the digits not shown dropped).
    fn written(
        ms: i64,
        offset_min: i64,
        fraction: usize,
        sep: char,
        offset: &str,
    ) -> (String, i64) {
        let local = iso_from_ms(ms + offset_min * 60_000);
        let (date, clock) = (&local[..10], &local[11..19]);
        let millis = ms.rem_euclid(1000);
        let shown = match fraction {
            0 => String::new(),
            n => format!(".{}", &format!("{millis:03}000")[..n]),
        };
        let kept = match fraction {
            0 => 0,
            1 => millis / 100 * 100,
            2 => millis / 10 * 10,
            _ => millis,
        };
        (
            format!("{date}{sep}{clock}{shown}{offset}"),
            ms - millis + kept,
        )
    }

    fn offset_text(offset_min: i64, colon: bool) -> String {
        let sign = if offset_min < 0 { '-' } else { '+' };
        let (h, m) = (offset_min.abs() / 60, offset_min.abs() % 60);
        if colon {
            format!("{sign}{h:02}:{m:02}")
        } else {
            format!("{sign}{h:02}{m:02}")
        }
    }

    proptest! {
        #[test]
        fn round_trips(ms in -62_000_000_000_000i64..250_000_000_000_000i64) {
            prop_assert_eq!(ms_from_iso(&iso_from_ms(ms)), Some(ms));
            prop_assert_eq!(ms_from_iso8601(&iso_from_ms(ms)), Some(ms));
        }

        #[test]
        fn both_readers_agree_on_rfc3339(
            ms in INSTANTS,
            offset_min in -14 * 60i64..=14 * 60,
            fraction in 0usize..=6,
            sep in proptest::sample::select(vec!['T', 't', ' ']),
            zulu in any::<bool>(),
        ) {
            let offset_min = if zulu { 0 } else { offset_min };
            let offset = if zulu { "Z".to_owned() } else { offset_text(offset_min, true) };
            let (text, instant) = written(ms, offset_min, fraction, sep, &offset);
            prop_assert_eq!(ms_from_iso(&text), Some(instant), "{}", text);
            prop_assert_eq!(ms_from_iso8601(&text), Some(instant), "{}", text);
            prop_assert_eq!(normalize_iso8601(&text), Some(iso_from_ms(instant)));
        }

        #[test]
        fn the_lenient_reader_takes_the_looser_forms(
            ms in INSTANTS,
            hours in -14i64..=14,
            minutes in proptest::sample::select(vec![0i64, 30, 45]),
            form in 0usize..4,
        ) {
            // No offset (UTC), `±HH`, `±HHMM`, and a clock without seconds.
            let offset_min = match form {
                0 | 3 => 0,
                1 => hours * 60,
                _ => hours * 60 + hours.signum() * minutes,
            };
            let offset = match form {
                0 | 3 => String::new(),
                1 => offset_text(offset_min, false)[..3].to_owned(),
                _ => offset_text(offset_min, false),
            };
            let (mut text, mut instant) = written(ms, offset_min, 0, 'T', &offset);
            if form == 3 {
                text.replace_range(16..19, "");
                instant -= instant.rem_euclid(60_000);
            }
            prop_assert_eq!(ms_from_iso8601(&text), Some(instant), "{}", text);
            prop_assert_eq!(ms_from_iso(&text), None, "{}", text);
        }

        #[test]
        fn strict_answers_are_lenient_answers_and_normal_forms_are_fixed_points(
            text in "(1[0-9]|20)[0-9]{2}-[01][0-9]-[0-3][0-9]([Tt ][0-2][0-9]:[0-6][0-9](:[0-6][0-9](\\.[0-9]{0,4})?)?([Zz]|[+-][01][0-9](:?[0-5][0-9])?)?)?"
        ) {
            let lenient = ms_from_iso8601(&text);
            if let Some(strict) = ms_from_iso(&text) {
                prop_assert_eq!(lenient, Some(strict));
            }
            if let Some(ms) = lenient {
                let normal = iso_from_ms(ms);
                prop_assert_eq!(ms_from_iso(&normal), Some(ms));
                prop_assert_eq!(normalize_iso8601(&normal), Some(normal.clone()));
                // Read in UTC, in-range fields do not carry: the normal form shows what was
                // written. (Days past a month's end and the leap second :60 do carry.)
                let utc = !text[10..].contains(['+', '-']);
                let day: u32 = text[8..10].parse().unwrap();
                if utc && day <= 28 && text.get(17..19) != Some("60") {
                    prop_assert_eq!(&normal[..10], &text[..10]);
                    if let Some(clock) = text.get(11..16) {
                        prop_assert_eq!(&normal[11..16], clock);
                    }
                    if text.get(16..17) == Some(":") {
                        prop_assert_eq!(&normal[17..19], &text[17..19]);
                    }
                }
            }
        }

        #[test]
        fn any_text_is_read_or_refused_never_a_panic(text in "\\PC{0,40}") {
            if let Some(ms) = ms_from_iso(&text) {
                prop_assert_eq!(ms_from_iso8601(&text), Some(ms));
            }
        }
    }
}
