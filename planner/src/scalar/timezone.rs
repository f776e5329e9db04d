//! Time zones: the session's `TimeZone`, `AT TIME ZONE` and zone names inside literals.
//!
//! A zone is either a **fixed offset** (`UTC`, `+05:30`, `UTC+3`, `<+05>-05` — the forms
//! `datetime::parse_zone` knows) or an **IANA region** (`America/New_York`, `EST5EDT`) whose
//! offset depends on the instant: daylight-saving rules and historical changes. Regions come
//! from the `jiff` crate's time zone database: the system's zoneinfo (what PostgreSQL's
//! Debian packages use too), or the copy bundled into the binary when the machine has none.
//!
//! Values are stored as PostgreSQL stores them: `timestamptz` is a UTC instant and
//! `timestamp` a wall-clock reading, both microseconds from 2000-01-01. Conversions:
//! - UTC → local ([`Zone::to_local`]): add the offset in force at that instant.
//! - local → UTC ([`Zone::to_utc`]): find the offset for a wall-clock time. Around a
//!   transition a local time can be skipped (spring forward) or repeated (fall back);
//!   PostgreSQL (`DetermineTimeZoneOffset`) then uses the offset from *before* a gap and the
//!   one from *after* an overlap, and so do we: `2021-03-14 02:30` in New York reads as
//!   `03:30-04`, `2021-11-07 01:30` as `01:30-05`.
//!
//! The session zone is kept per thread ([`set_session_zone`]): scalar functions receive only
//! their arguments, and a session runs each statement on one thread, setting it first.
//! Instants outside jiff's range (years beyond ±9999) use the offset at the nearest
//! representable instant; infinities never reach these functions.

use std::cell::RefCell;

/// Seconds from 1970-01-01 (Unix epoch) to 2000-01-01 (PostgreSQL epoch).
const PG_EPOCH_UNIX_SECS: i64 = 946_684_800;
const USECS_PER_SEC: i64 = 1_000_000;

/// A time zone: a constant offset or a region with rules.
#[derive(Clone, Debug)]
pub(crate) enum Zone {
    /// Seconds east of UTC.
    Fixed(i32),
    Region(jiff::tz::TimeZone),
}

thread_local! {
    /// The session time zone of the statement running on this thread, with the setting
    /// value it came from (so setting the same value again skips the database lookup).
    static SESSION_ZONE: RefCell<(String, Zone)> =
        const { RefCell::new((String::new(), Zone::Fixed(0))) };
}

/// Whether this thread's session zone was last set from the setting value `name`.
pub(crate) fn session_zone_is(name: &str) -> bool {
    SESSION_ZONE.with(|z| z.borrow().0 == name)
}

/// Makes `zone` (from the setting value `name`) this thread's session time zone.
pub(crate) fn set_session_zone(name: &str, zone: Zone) {
    SESSION_ZONE.with(|z| *z.borrow_mut() = (name.to_string(), zone));
}

/// Runs `f` with this thread's session time zone.
pub(crate) fn with_session_zone<R>(f: impl FnOnce(&Zone) -> R) -> R {
    SESSION_ZONE.with(|z| f(&z.borrow().1))
}

/// An IANA zone name (case-insensitive), with its canonical spelling.
pub(crate) fn region(name: &str) -> Option<(Zone, String)> {
    // Names are paths in the database; refuse anything that could walk out of it.
    if name.is_empty() || name.contains("..") || name.starts_with('/') {
        return None;
    }
    let tz = jiff::tz::TimeZone::get(name).ok()?;
    let canonical = tz.iana_name().unwrap_or(name).to_string();
    Some((Zone::Region(tz), canonical))
}

/// PostgreSQL microseconds (from 2000-01-01) as a jiff instant, clamped to jiff's range.
fn instant(pg_usecs: i64) -> jiff::Timestamp {
    let unix = pg_usecs.saturating_add(PG_EPOCH_UNIX_SECS * USECS_PER_SEC);
    jiff::Timestamp::from_microsecond(unix).unwrap_or(if unix < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    })
}

impl Zone {
    /// The offset (seconds east of UTC) in force at the UTC instant `utc`.
    pub(crate) fn offset_at(&self, utc: i64) -> i32 {
        match self {
            Zone::Fixed(off) => *off,
            Zone::Region(tz) => tz.to_offset(instant(utc)).seconds(),
        }
    }

    /// The offset to read the wall-clock time `local` with (PostgreSQL's choice around
    /// transitions: the earlier offset in a gap, the later one in an overlap).
    pub(crate) fn offset_for_local(&self, local: i64) -> i32 {
        match self {
            Zone::Fixed(off) => *off,
            Zone::Region(tz) => {
                let civil = jiff::tz::Offset::UTC.to_datetime(instant(local));
                match tz.to_ambiguous_timestamp(civil).offset() {
                    jiff::tz::AmbiguousOffset::Unambiguous { offset } => offset.seconds(),
                    jiff::tz::AmbiguousOffset::Gap { before, .. } => before.seconds(),
                    jiff::tz::AmbiguousOffset::Fold { after, .. } => after.seconds(),
                }
            }
        }
    }

    /// The wall-clock time at the UTC instant `utc`.
    pub(crate) fn to_local(&self, utc: i64) -> i64 {
        utc.saturating_add(self.offset_at(utc) as i64 * USECS_PER_SEC)
    }

    /// The UTC instant of the wall-clock time `local`.
    pub(crate) fn to_utc(&self, local: i64) -> i64 {
        local.saturating_sub(self.offset_for_local(local) as i64 * USECS_PER_SEC)
    }
}

/// The session zone's wall-clock time at `utc`.
pub(crate) fn session_local(utc: i64) -> i64 {
    with_session_zone(|z| z.to_local(utc))
}

/// The UTC instant of the session zone's wall-clock time `local`.
pub(crate) fn session_utc(local: i64) -> i64 {
    with_session_zone(|z| z.to_utc(local))
}

/// The session zone's offset at `utc`, seconds east of UTC.
pub(crate) fn session_offset_at(utc: i64) -> i32 {
    with_session_zone(|z| z.offset_at(utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PostgreSQL microseconds for a UTC date and time.
    fn pg(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> i64 {
        let ts = jiff::civil::date(y, mo, d)
            .at(h, mi, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .expect("valid")
            .timestamp();
        ts.as_microsecond() - PG_EPOCH_UNIX_SECS * USECS_PER_SEC
    }

    #[test]
    fn regions_follow_daylight_saving_and_postgres_transition_rules() {
        let (ny, name) = region("america/new_york").expect("zone database");
        assert_eq!(name, "America/New_York");
        assert_eq!(ny.offset_at(pg(2021, 7, 1, 12, 0)), -4 * 3600);
        assert_eq!(ny.offset_at(pg(2021, 1, 1, 12, 0)), -5 * 3600);
        // Spring forward: 02:30 does not exist; read with the offset from before (-05).
        assert_eq!(ny.to_utc(pg(2021, 3, 14, 2, 30)), pg(2021, 3, 14, 7, 30));
        // Fall back: 01:30 happens twice; read with the offset from after (-05).
        assert_eq!(ny.to_utc(pg(2021, 11, 7, 1, 30)), pg(2021, 11, 7, 6, 30));
        let utc = pg(2021, 7, 1, 16, 0);
        assert_eq!(ny.to_local(utc), pg(2021, 7, 1, 12, 0));
        assert_eq!(ny.to_utc(ny.to_local(utc)), utc);
    }

    #[test]
    fn fixed_offsets_and_unknown_names() {
        let z = Zone::Fixed(3600);
        assert_eq!(z.to_local(0), 3600 * USECS_PER_SEC);
        assert_eq!(z.to_utc(3600 * USECS_PER_SEC), 0);
        assert!(region("Nowhere/Special").is_none());
        assert!(region("../etc/passwd").is_none());
        // Far outside jiff's range: the nearest representable offset, no panic.
        let (ny, _) = region("America/New_York").expect("zone database");
        let _ = ny.to_local(i64::MAX - 1);
        let _ = ny.to_utc(i64::MIN + 1);
    }
}
