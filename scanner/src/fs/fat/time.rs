//! FAT timestamps as Unix seconds, and the calendar arithmetic other modules share.

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). The one copy:
/// FAT timestamps, bundle ages and the welcome screen's rule age use it.
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A FAT timestamp (local time of the machine that wrote it, taken as UTC) in Unix seconds.
pub(super) fn unix_time(t: fatfs::DateTime) -> Option<i64> {
    let (d, h) = (t.date, t.time);
    if !(1..=12).contains(&d.month)
        || !(1..=31).contains(&d.day)
        || h.hour > 23
        || h.min > 59
        || h.sec > 59
    {
        return None;
    }
    let days = days_from_civil(i64::from(d.year), i64::from(d.month), i64::from(d.day));
    Some(days * 86_400 + i64::from(h.hour) * 3600 + i64::from(h.min) * 60 + i64::from(h.sec))
}
