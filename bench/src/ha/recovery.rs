//! Recovery after the failover: from its start until writes are acknowledged again (the first
//! checkout sent after it) and no request fails any more.

use std::time::Duration;

use super::checks::Checks;
use super::state::{Kind, Record};
use crate::stats::ms;

/// What the requests sent after the failover's start saw; times are since that start.
#[derive(Debug, PartialEq)]
pub struct Recovery {
    failover_at: Duration,
    /// When the first checkout was acknowledged.
    first_write: Option<Duration>,
    /// When the last failed request ended.
    last_failure: Option<Duration>,
    failed: usize,
    slowest: Duration,
}

impl Recovery {
    pub fn measure(records: &[Record], failover_at: Duration) -> Recovery {
        let after: Vec<&Record> = records
            .iter()
            .filter(|r| r.sent_at >= failover_at)
            .collect();
        let since_failover = |r: &&Record| r.ended_at().saturating_sub(failover_at);
        Recovery {
            failover_at,
            first_write: after
                .iter()
                .filter(|r| r.ok && r.kind == Kind::Checkout)
                .map(since_failover)
                .min(),
            last_failure: after.iter().filter(|r| !r.ok).map(since_failover).max(),
            failed: after.iter().filter(|r| !r.ok).count(),
            slowest: after.iter().map(|r| r.latency).max().unwrap_or_default(),
        }
    }

    /// Writes acknowledged again and the last failure over; None: writes never came back.
    fn time_to_recover(&self) -> Option<Duration> {
        self.first_write
            .map(|write| write.max(self.last_failure.unwrap_or_default()))
    }

    pub fn print(&self) {
        println!(
            "failover at +{:.1}s: first checkout acknowledged after {}; {} requests failed, the last ending after {}; slowest request {}",
            self.failover_at.as_secs_f64(),
            secs(self.first_write),
            self.failed,
            if self.last_failure.is_some() {
                secs(self.last_failure)
            } else {
                "-".into()
            },
            ms(Some(self.slowest)),
        );
        println!(
            "time to recover after the failover: {}",
            secs(self.time_to_recover())
        );
    }

    /// Back within the target, and not still failing when the load stopped (`run_end`).
    pub fn check(&self, checks: &mut Checks, target: Duration, run_end: Duration) {
        let still_failing_at_end = self
            .last_failure
            .is_some_and(|t| self.failover_at + t + Duration::from_secs(5) > run_end);
        let recovery = self.time_to_recover();
        checks.check(
            &format!("failover: service back within {} s", target.as_secs()),
            recovery.is_some_and(|r| r <= target) && !still_failing_at_end,
            format!(
                "recovery {}; requests still failing at the end of the run: {still_failing_at_end}",
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
            served_by: None,
            detail: String::new(),
        }
    }

    #[test]
    fn recovery_ends_with_the_later_of_first_write_and_last_failure() {
        let at = Duration::from_secs(60);
        let records = [
            record(Kind::Checkout, 59_000, 500, false), // before the failover: not counted
            record(Kind::Home, 60_500, 1_000, false),   // fails, ends at +1.5 s
            record(Kind::Checkout, 61_000, 1_200, true), // first write at +2.2 s
            record(Kind::Shop, 62_000, 2_000, false),   // fails, ends at +4.0 s
            record(Kind::Checkout, 65_000, 100, true),
        ];
        let recovery = Recovery::measure(&records, at);
        assert_eq!(recovery.first_write, Some(Duration::from_millis(2_200)));
        assert_eq!(recovery.last_failure, Some(Duration::from_millis(4_000)));
        assert_eq!(recovery.failed, 2);
        assert_eq!(recovery.slowest, Duration::from_millis(2_000));
        assert_eq!(recovery.time_to_recover(), Some(Duration::from_secs(4)));
    }

    #[test]
    fn no_write_after_the_failover_is_no_recovery() {
        let records = [record(Kind::Home, 61_000, 10, true)];
        let recovery = Recovery::measure(&records, Duration::from_secs(60));
        assert_eq!(recovery.time_to_recover(), None);
        let mut checks = Checks::default();
        recovery.check(
            &mut checks,
            Duration::from_secs(30),
            Duration::from_secs(90),
        );
        assert_eq!(checks.counts(), (0, 1));
    }

    #[test]
    fn failing_until_the_end_is_no_recovery() {
        let at = Duration::from_secs(60);
        let records = [
            record(Kind::Checkout, 61_000, 100, true),
            record(Kind::Home, 70_000, 100, false), // ends at +10.1 s, 4.9 s before the end
        ];
        let recovery = Recovery::measure(&records, at);
        let mut checks = Checks::default();
        let target = Duration::from_secs(30);
        recovery.check(&mut checks, target, Duration::from_secs(75));
        recovery.check(&mut checks, target, Duration::from_secs(76));
        assert_eq!(checks.counts(), (1, 1));
    }
}
