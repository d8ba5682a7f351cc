//! Recovery after a database failover (the planned one, or the zone loss's): from its start
//! until writes are acknowledged again (the first checkout sent after it) and no request
//! fails any more, within the window until the next fault.

use std::ops::Range;
use std::time::Duration;

use super::checks::Checks;
use super::state::{Kind, Record};
use crate::stats::ms;

/// What the requests sent in the window saw; times are since the fault's start.
#[derive(Debug, PartialEq)]
pub struct Recovery {
    name: &'static str,
    window: Range<Duration>,
    /// When the first checkout was acknowledged after the last failure.
    first_write: Option<Duration>,
    /// When the last failed request ended.
    last_failure: Option<Duration>,
    failed: usize,
    slowest: Duration,
}

impl Recovery {
    /// `window`: from the fault's start until the next fault (or the end of the load).
    pub fn measure(records: &[Record], name: &'static str, window: Range<Duration>) -> Recovery {
        let after: Vec<&Record> = records
            .iter()
            .filter(|r| window.contains(&r.sent_at))
            .collect();
        let since_fault = |r: &&Record| r.ended_at().saturating_sub(window.start);
        let last_failure = after.iter().filter(|r| !r.ok).map(since_fault).max();
        Recovery {
            name,
            // A checkout that got through before the fault struck does not count.
            first_write: after
                .iter()
                .filter(|r| r.ok && r.kind == Kind::Checkout)
                .map(since_fault)
                .filter(|t| last_failure.is_none_or(|f| *t >= f))
                .min(),
            last_failure,
            failed: after.iter().filter(|r| !r.ok).count(),
            slowest: after.iter().map(|r| r.latency).max().unwrap_or_default(),
            window,
        }
    }

    /// Writes acknowledged again after the last failure; None: they never came back.
    fn time_to_recover(&self) -> Option<Duration> {
        self.first_write
    }

    pub fn print(&self) {
        println!(
            "{} at +{:.1}s: {} requests failed, the last ending after {}; first checkout acknowledged after that: {}; slowest request {}",
            self.name,
            self.window.start.as_secs_f64(),
            self.failed,
            if self.last_failure.is_some() {
                secs(self.last_failure)
            } else {
                "-".into()
            },
            secs(self.first_write),
            ms(Some(self.slowest)),
        );
        println!(
            "time to recover after the {}: {}",
            self.name,
            secs(self.time_to_recover())
        );
    }

    /// Back within the target, and not still failing when the window closed.
    pub fn check(&self, checks: &mut Checks, target: Duration) {
        let still_failing_at_end = self
            .last_failure
            .is_some_and(|t| self.window.start + t + Duration::from_secs(5) > self.window.end);
        let recovery = self.time_to_recover();
        checks.check(
            &format!("{}: service back within {} s", self.name, target.as_secs()),
            recovery.is_some_and(|r| r <= target) && !still_failing_at_end,
            format!(
                "recovery {}; requests still failing at the end of the phase: {still_failing_at_end}",
                secs(recovery)
            ),
        );
    }
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("never".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ha::state::Phase;

    fn record(kind: Kind, sent_ms: u64, latency_ms: u64, ok: bool) -> Record {
        Record {
            phase: Phase::Failover,
            kind,
            sent_at: Duration::from_millis(sent_ms),
            latency: Duration::from_millis(latency_ms),
            ok,
            status: None,
            stale: false,
            served_by: None,
            detail: String::new(),
        }
    }

    #[test]
    fn recovery_is_the_first_write_after_the_last_failure() {
        let at = Duration::from_secs(60);
        let records = [
            record(Kind::Checkout, 59_000, 500, false), // before the failover: not counted
            record(Kind::Checkout, 90_000, 500, false), // after the window: not counted
            record(Kind::Checkout, 60_000, 10, true),   // through before the fault struck
            record(Kind::Home, 60_500, 1_000, false),   // fails, ends at +1.5 s
            record(Kind::Checkout, 61_000, 1_200, true), // a write at +2.2 s
            record(Kind::Shop, 62_000, 2_000, false),   // fails, ends at +4.0 s
            record(Kind::Checkout, 65_000, 100, true),  // the first write after: +5.1 s
        ];
        let recovery = Recovery::measure(&records, "failover", at..Duration::from_secs(90));
        assert_eq!(recovery.first_write, Some(Duration::from_millis(5_100)));
        assert_eq!(recovery.last_failure, Some(Duration::from_millis(4_000)));
        assert_eq!(recovery.failed, 2);
        assert_eq!(recovery.slowest, Duration::from_millis(2_000));
        assert_eq!(
            recovery.time_to_recover(),
            Some(Duration::from_millis(5_100))
        );
    }

    #[test]
    fn no_write_after_the_failover_is_no_recovery() {
        let records = [record(Kind::Home, 61_000, 10, true)];
        let window = Duration::from_secs(60)..Duration::from_secs(90);
        let recovery = Recovery::measure(&records, "failover", window);
        assert_eq!(recovery.time_to_recover(), None);
        let mut checks = Checks::default();
        recovery.check(&mut checks, Duration::from_secs(30));
        assert_eq!(checks.counts(), (0, 1));
    }

    #[test]
    fn failing_until_the_end_is_no_recovery() {
        let at = Duration::from_secs(60);
        let records = [
            record(Kind::Checkout, 61_000, 100, true),
            record(Kind::Home, 70_000, 100, false), // ends at +10.1 s, 4.9 s before the end
            record(Kind::Checkout, 70_200, 100, true),
        ];
        let mut checks = Checks::default();
        let target = Duration::from_secs(30);
        for end in [75, 76] {
            Recovery::measure(&records, "failover", at..Duration::from_secs(end))
                .check(&mut checks, target);
        }
        assert_eq!(checks.counts(), (1, 1));
    }
}
