//! Six-field cron schedules (`sec min hour day-of-month month day-of-week`, UTC) for `cron`
//! windows and `AT CRON` triggers (§7, §13).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    seconds: u64,
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    /// Day-of-month and day-of-week were both restricted: a day matches if either does.
    day_or: bool,
    text: String,
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Parses one field into a bit set over `min..=max`; `restricted` is false for `*` and `?`.
fn field(
    text: &str,
    min: u32,
    max: u32,
    names: &[&str],
    name_base: u32,
) -> Result<(u64, bool), String> {
    let value = |s: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(i as u32 + name_base);
        }
        s.parse::<u32>()
            .map_err(|_| format!("'{s}' is not a number"))
    };
    if text == "*" || text == "?" {
        let mut bits = 0u64;
        for v in min..=max {
            bits |= 1 << v;
        }
        return Ok((bits, false));
    }
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .map_err(|_| format!("bad step in '{part}'"))?,
            ),
            None => (part, 1),
        };
        if step == 0 {
            return Err(format!("step 0 in '{part}'"));
        }
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            (v, if part.contains('/') { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!("'{part}' is outside {min}-{max}"));
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, true))
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

impl CronSchedule {
    pub fn parse(text: &str) -> Result<CronSchedule, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.len() != 6 {
            return Err(format!(
                "expected six fields (second minute hour day-of-month month day-of-week), found {}",
                parts.len()
            ));
        }
        let (seconds, _) = field(parts[0], 0, 59, &[], 0)?;
        let (minutes, _) = field(parts[1], 0, 59, &[], 0)?;
        let (hours, _) = field(parts[2], 0, 23, &[], 0)?;
        let (days, dom_r) = field(parts[3], 1, 31, &[], 0)?;
        let (months, _) = field(parts[4], 1, 12, &MONTHS, 1)?;
        let (mut weekdays, dow_r) = field(parts[5], 0, 7, &DAYS, 0)?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1; // 7 is Sunday too
        }
        Ok(CronSchedule {
            seconds,
            minutes,
            hours: hours as u32,
            days: days as u32,
            months: months as u16,
            weekdays: (weekdays & 0x7f) as u8,
            day_or: dom_r && dow_r,
            text: text.to_string(),
        })
    }

    fn day_matches(&self, y: i64, m: u32, d: u32) -> bool {
        let dom = self.days & (1 << d) != 0;
        let weekday = (days_from_civil(y, m, d) + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday
        let dow = self.weekdays & (1 << weekday) != 0;
        if self.day_or {
            dom || dow
        } else {
            dom && dow
        }
    }

    /// The first firing time strictly after `after_ms` (epoch milliseconds, UTC), if any within
    /// the next few centuries.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let mut secs = after_ms.div_euclid(1000).checked_add(1)?;
        let limit_days = after_ms.div_euclid(86_400_000).saturating_add(366 * 400);
        // Beyond year ~292 million the millisecond result would not fit: no firing.
        if secs > i64::MAX / 1000 - 86_400 * 366 * 400 {
            return None;
        }
        loop {
            let days = secs.div_euclid(86_400);
            if days > limit_days {
                return None;
            }
            let (y, m, d) = civil_from_days(days);
            if self.months & (1 << m) == 0 {
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                secs = days_from_civil(ny, nm, 1) * 86_400;
                continue;
            }
            if !self.day_matches(y, m, d) {
                secs = (days + 1) * 86_400;
                continue;
            }
            let sod = secs.rem_euclid(86_400);
            let (h, mi, s) = (
                (sod / 3600) as u32,
                ((sod / 60) % 60) as u32,
                (sod % 60) as u32,
            );
            if self.hours & (1 << h) == 0 {
                secs = days * 86_400 + (h as i64 + 1) * 3600;
                continue;
            }
            if self.minutes & (1 << mi) == 0 {
                secs = days * 86_400 + h as i64 * 3600 + (mi as i64 + 1) * 60;
                continue;
            }
            if self.seconds & (1 << s) == 0 {
                secs += 1;
                continue;
            }
            return Some(secs * 1000);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_lengths() {
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        let (y, m, _) = civil_from_days(days_from_civil(2024, 2, 29) + 1);
        assert_eq!((y, m), (2024, 3));
    }

    #[test]
    fn civil_round_trip() {
        for days in [-1000, 0, 59, 365, 11_016, 19_000, 30_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }

    #[test]
    fn every_five_minutes() {
        let c = CronSchedule::parse("0 */5 * * * *").unwrap();
        assert_eq!(c.next_after(0), Some(300_000));
        assert_eq!(c.next_after(300_000), Some(600_000));
        assert_eq!(c.next_after(299_999), Some(300_000));
    }

    #[test]
    fn every_second_and_lists() {
        let c = CronSchedule::parse("* * * * * *").unwrap();
        assert_eq!(c.next_after(1500), Some(2000));
        let c = CronSchedule::parse("10,20 0 0 * * ?").unwrap();
        assert_eq!(c.next_after(0), Some(10_000));
        assert_eq!(c.next_after(10_000), Some(20_000));
        assert_eq!(c.next_after(20_000), Some(86_400_000 + 10_000));
    }

    #[test]
    fn weekdays_and_months() {
        // 1970-01-05 was a Monday.
        let c = CronSchedule::parse("0 0 12 ? * MON").unwrap();
        assert_eq!(c.next_after(0), Some((4 * 86_400 + 12 * 3600) * 1000));
        let c = CronSchedule::parse("0 0 0 1 MAR *").unwrap();
        assert_eq!(
            c.next_after(0),
            Some(days_from_civil(1970, 3, 1) * 86_400_000)
        );
    }

    #[test]
    fn rejects_bad_expressions() {
        assert!(CronSchedule::parse("* * * * *").is_err());
        assert!(CronSchedule::parse("60 * * * * *").is_err());
        assert!(CronSchedule::parse("*/0 * * * * *").is_err());
        assert!(CronSchedule::parse("x * * * * *").is_err());
        // February 30th never happens.
        assert_eq!(
            CronSchedule::parse("0 0 0 30 2 *").unwrap().next_after(0),
            None
        );
    }
}
