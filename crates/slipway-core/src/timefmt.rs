//! Times for people: milliseconds since the epoch to `2026-11-26 08:41:07Z` and back. Pure
//! calendar arithmetic (the time itself is always passed in).

/// Formats epoch milliseconds as UTC `YYYY-MM-DD HH:MM:SSZ`.
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parses `TIME` given on the command line: epoch milliseconds, or a UTC date-time
/// `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]]` with an optional `Z` (a space may replace `T`).
pub fn parse(text: &str) -> Result<i64, String> {
    let bad = || {
        format!("`{text}` is not a time; use epoch milliseconds or UTC like 2026-11-26T08:30:00Z")
    };
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let t = text.trim().trim_end_matches('Z').replace(' ', "T");
    let (date, time) = t.split_once('T').unwrap_or((&t, "00:00:00"));
    let parts: Vec<&str> = date.split('-').collect();
    if parts.len() != 3 {
        return Err(bad());
    }
    let num = |s: &str| s.parse::<i64>().map_err(|_| bad());
    let (y, m, d) = (num(parts[0])?, num(parts[1])?, num(parts[2])?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let hms: Vec<&str> = time.split(':').collect();
    let (hh, mm) = (
        num(hms.first().copied().unwrap_or("0"))?,
        num(hms.get(1).copied().unwrap_or("0"))?,
    );
    let (ss, frac) = match hms.get(2) {
        Some(s) => match s.split_once('.') {
            Some((whole, f)) => (
                num(whole)?,
                format!("{f:0<3}")[..3].parse::<i64>().map_err(|_| bad())?,
            ),
            None => (num(s)?, 0),
        },
        None => (0, 0),
    };
    if hh > 23 || mm > 59 || ss > 60 {
        return Err(bad());
    }
    let days = days_from_civil(y, m, d);
    Ok(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000) + frac)
}

// Civil-calendar conversions (proleptic Gregorian), by counting days in 400-year eras.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(utc(0), "1970-01-01 00:00:00Z");
        let t = parse("2026-11-26T08:41:07Z").unwrap();
        assert_eq!(utc(t), "2026-11-26 08:41:07Z");
        assert_eq!(parse("2024-02-29 12:00").unwrap() % 1000, 0);
        assert_eq!(utc(parse("2024-02-29").unwrap()), "2024-02-29 00:00:00Z");
        assert_eq!(parse("1700000000000").unwrap(), 1_700_000_000_000);
        assert_eq!(parse("2026-01-01T00:00:00.25Z").unwrap() % 1000, 250);
        assert!(parse("yesterday").is_err());
        assert!(parse("2026-13-01").is_err());
    }
}
