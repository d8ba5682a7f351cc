//! The verdict: each target as a named check, printed as PASS or FAIL lines and the summary
//! "N passed, M failed" that ends the output (deploy/local/ha-test.sh reads that last line).

use super::state::{PHASES, Phase, Record};

#[derive(Default)]
pub struct Checks {
    results: Vec<(String, bool, String)>,
}

impl Checks {
    /// Adds a check; `detail` is printed only when it failed.
    pub fn check(&mut self, name: &str, ok: bool, detail: impl Into<String>) {
        self.results.push((name.to_owned(), ok, detail.into()));
    }

    /// The names of the checks that failed.
    #[cfg(test)]
    pub fn failing(&self) -> impl Iterator<Item = &str> {
        self.results
            .iter()
            .filter(|(_, ok, _)| !ok)
            .map(|(name, _, _)| name.as_str())
    }

    /// (passed, failed)
    pub fn counts(&self) -> (usize, usize) {
        let passed = self.results.iter().filter(|(_, ok, _)| *ok).count();
        (passed, self.results.len() - passed)
    }

    /// Prints every check and the summary line; true when all passed.
    pub fn finish(&self) -> bool {
        println!();
        for (name, ok, detail) in &self.results {
            if *ok {
                println!("PASS {name}");
            } else {
                println!("FAIL {name}: {detail}");
            }
        }
        let (passed, failed) = self.counts();
        println!("{passed} passed, {failed} failed");
        failed == 0
    }
}

/// The faults were injected, and the service answered as each phase demands: every request
/// in the baseline, in the rolling upgrade and while the old primary rejoins, every GET while instances die, drain
/// and restart, and every anonymous GET while the database is away (the failover and the
/// zone loss), from the catalog snapshot.
pub fn requests(checks: &mut Checks, fault_errors: &[String], records: &[Record]) {
    checks.check(
        "fault injection: every cluster.sh command succeeded",
        fault_errors.is_empty(),
        fault_errors.join("; "),
    );
    for phase in PHASES {
        let failed = records.iter().filter(|r| r.phase == phase && !r.ok);
        let (failed, failed_gets) = failed.fold((0, 0), |(all, gets), r| {
            (all + 1, gets + usize::from(r.kind.is_get()))
        });
        match phase {
            Phase::Baseline => checks.check(
                "baseline: no failed request",
                failed == 0,
                format!("{failed} failed"),
            ),
            // Without --next-binary the phase does not run.
            Phase::Upgrade if records.iter().any(|r| r.phase == phase) => checks.check(
                "upgrade: no failed request",
                failed == 0,
                format!("{failed} failed"),
            ),
            Phase::Rejoin => checks.check(
                "rejoin: no failed request",
                failed == 0,
                format!("{failed} failed"),
            ),
            Phase::Kill | Phase::Drain | Phase::Restart => checks.check(
                &format!("{}: no failed GET", phase.name()),
                failed_gets == 0,
                format!("{failed_gets} failed GETs"),
            ),
            Phase::Failover | Phase::ZoneLoss => guests_answered(checks, phase, records),
            // Checked in `upgrade` and `dependencies`, with what they need.
            Phase::Upgrade
            | Phase::StorageOutage
            | Phase::SlowDatabase
            | Phase::SlowerDatabase
            | Phase::DatabaseBack
            | Phase::Setup
            | Phase::After => {}
        }
    }
}

/// Every anonymous GET of the phase answered 200, however long the database was away.
pub fn guests_answered(checks: &mut Checks, phase: Phase, records: &[Record]) {
    let guests: Vec<&Record> = records
        .iter()
        .filter(|r| r.phase == phase && r.kind.is_guest())
        .collect();
    let unavailable = guests.iter().filter(|r| r.status == Some(503)).count();
    let failed = guests.iter().filter(|r| !r.ok).count();
    let stale = guests.iter().filter(|r| r.ok && r.stale).count();
    println!(
        "{}: {} anonymous GETs, {stale} of them answered from a catalog past its time to live, {unavailable} answered 503",
        phase.name(),
        guests.len()
    );
    checks.check(
        &format!("{}: every anonymous GET answered (none 503)", phase.name()),
        failed == 0 && !guests.is_empty(),
        format!(
            "{failed} of {} failed, {unavailable} of them 503",
            guests.len()
        ),
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ha::state::{GuestPage, Kind};

    fn answered(phase: Phase, kind: Kind) -> Record {
        Record {
            ok: true,
            status: Some(200),
            ..failed(phase, kind)
        }
    }

    fn failed(phase: Phase, kind: Kind) -> Record {
        Record {
            phase,
            kind,
            sent_at: Duration::ZERO,
            latency: Duration::ZERO,
            ok: false,
            status: None,
            stale: false,
            served_by: None,
            detail: String::new(),
        }
    }

    #[test]
    fn each_phase_is_held_to_its_own_target() {
        let records = [
            // A failed POST while an instance dies is allowed; a failed GET is not.
            failed(Phase::Kill, Kind::Checkout),
            failed(Phase::Drain, Kind::Shop),
            // A signed-in page may fail while the database is away (the recovery check
            // measures it); an anonymous one may not.
            failed(Phase::Failover, Kind::Home),
            answered(Phase::Failover, Kind::Guest(GuestPage::Home)),
            failed(Phase::ZoneLoss, Kind::Guest(GuestPage::CatalogApi)),
        ];
        let mut checks = Checks::default();
        requests(&mut checks, &[], &records);
        let failing: Vec<&str> = checks
            .results
            .iter()
            .filter(|(_, ok, _)| !ok)
            .map(|(name, _, _)| name.as_str())
            .collect();
        assert_eq!(
            failing,
            [
                "drain: no failed GET",
                "zone loss: every anonymous GET answered (none 503)"
            ]
        );
        assert_eq!(checks.counts(), (6, 2));
    }
}
