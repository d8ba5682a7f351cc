//! The phases under load, one after another, each with its fault: an instance killed, another
//! drained, both restarted, every instance replaced by the next release (when there is one),
//! the database failed over, the old primary back as the replica, the object store away and
//! the database slow (see `dependencies`), then zone a lost at once (its instance and the
//! primary database). Every phase lasts --phase-secs but the failover's and the zone loss's,
//! which last until the service has recovered (or their cap), and the dependencies' phases,
//! which have lengths of their own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Args;
use super::cluster;
use super::dependencies;
use super::state::{PHASES, Phase, Shared};
use super::upgrade::{self, Rolled};

/// The failover phase ends once no request has failed for this long.
const RECOVERED_AFTER: Duration = Duration::from_secs(10);

/// What the fault injection left for the checks.
pub struct Faults {
    /// Each cluster.sh command that failed.
    pub errors: Vec<String>,
    /// When the failover was started, since the run's start.
    pub failover_at: Duration,
    /// When the old primary started to rejoin (the failover phase's end).
    pub rejoin_at: Duration,
    /// When the database address led straight to the primary again, after the slow phases.
    pub database_back_at: Duration,
    /// When zone a was lost.
    pub zone_loss_at: Duration,
    /// The rolling upgrade, when --next-binary asked for one.
    pub upgrade: Option<Rolled>,
}

/// Runs every phase to its end.
pub async fn inject(shared: &Arc<Shared>, args: &Args) -> Faults {
    let mut driver = Driver {
        shared: shared.clone(),
        script: args.cluster.clone(),
        phase_len: Duration::from_secs(args.phase_secs),
        faults: Faults {
            errors: Vec::new(),
            failover_at: Duration::ZERO,
            rejoin_at: Duration::ZERO,
            database_back_at: Duration::ZERO,
            zone_loss_at: Duration::ZERO,
            upgrade: None,
        },
    };
    let away = args.database_away_secs.to_string();
    let cap = Duration::from_secs(args.recovery_target_secs) + RECOVERED_AFTER;
    let (slow, slower) = (
        args.dependencies.slow_database_ms,
        args.dependencies.slower_database_ms,
    );
    let mut delay_proxy = None;
    for phase in PHASES {
        if phase == Phase::Upgrade && args.next_binary.is_none() {
            continue;
        }
        let start = Instant::now();
        shared.enter(phase);
        match phase {
            Phase::Setup | Phase::Baseline | Phase::After => {}
            Phase::Kill => driver.cluster(&["kill", &args.kill]).await,
            Phase::Drain => driver.drain(&args.drain, start).await,
            Phase::Restart => driver.restart(&[&args.kill, &args.drain]).await,
            Phase::Upgrade => {
                let next = args.next_binary.as_deref().expect("skipped without one");
                let overlap = Duration::from_secs(args.upgrade_overlap_secs);
                let instances = ["a1", "b1", "b2"];
                driver.faults.upgrade = Some(
                    upgrade::roll(shared, &args.cluster, &args.base, next, &instances, overlap)
                        .await,
                );
            }
            Phase::Failover => {
                driver.faults.failover_at = shared.since_start();
                driver
                    .until_recovered(&["failover", "--away", &away], start, cap)
                    .await;
            }
            Phase::Rejoin => {
                driver.faults.rejoin_at = shared.since_start();
                driver.cluster(&["rejoin"]).await;
            }
            Phase::StorageOutage => driver.storage_outage(&args.dependencies, start).await,
            Phase::SlowDatabase | Phase::SlowerDatabase => {
                let delay = if phase == Phase::SlowDatabase {
                    slow
                } else {
                    slower
                };
                driver
                    .slow_database(&mut delay_proxy, &args.dependencies, delay, start)
                    .await;
            }
            Phase::DatabaseBack => {
                driver.faults.database_back_at = shared.since_start();
                driver.database_back(&mut delay_proxy, start, cap).await;
            }
            Phase::ZoneLoss => {
                driver.faults.zone_loss_at = shared.since_start();
                driver
                    .until_recovered(&["zone-loss", "--away", &away], start, cap)
                    .await;
            }
        }
        // The drain and the failover have waited already; the others wait here.
        if !dependencies::holds_itself(phase) {
            driver.hold(start).await;
        }
    }
    driver.faults
}

pub struct Driver {
    pub(super) shared: Arc<Shared>,
    pub(super) script: PathBuf,
    phase_len: Duration,
    pub(super) faults: Faults,
}

impl Driver {
    /// Runs one cluster.sh command; a failure is kept for the checks.
    pub(super) async fn cluster(&mut self, args: &[&str]) {
        if let Err(e) = cluster::run(&self.shared, &self.script, args).await {
            self.faults.errors.push(e);
        }
    }

    /// Waits out the rest of the phase.
    async fn hold(&self, phase_start: Instant) {
        self.hold_for(phase_start, self.phase_len).await;
    }

    /// Waits until the phase has lasted `length`.
    pub(super) async fn hold_for(&self, phase_start: Instant, length: Duration) {
        tokio::time::sleep(length.saturating_sub(phase_start.elapsed())).await;
    }

    /// SIGTERM: the instance drains, then exits. The stop waits for both while the load and
    /// the phase go on.
    async fn drain(&mut self, name: &str, phase_start: Instant) {
        let (shared, script, name) = (self.shared.clone(), self.script.clone(), name.to_owned());
        let stop =
            tokio::spawn(async move { cluster::run(&shared, &script, &["stop", &name]).await });
        self.hold(phase_start).await;
        match stop.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.faults.errors.push(e),
            Err(e) => self.faults.errors.push(format!("cluster stop: {e}")),
        }
    }

    /// The killed and the drained instance start again, one after the other.
    async fn restart(&mut self, names: &[&str]) {
        for name in names {
            self.cluster(&["start", name]).await;
        }
    }

    /// Runs the fault (the primary goes, the replica takes over), then lets the phase last
    /// until the service has answered every request for a while and acknowledged a checkout
    /// since its last failure: at least one phase, at most `cap`.
    pub(super) async fn until_recovered(
        &mut self,
        fault: &[&str],
        phase_start: Instant,
        cap: Duration,
    ) {
        self.cluster(fault).await;
        let cap = cap.max(self.phase_len);
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let elapsed = phase_start.elapsed();
            if (elapsed >= self.phase_len && self.shared.healthy_for(RECOVERED_AFTER))
                || elapsed >= cap
            {
                break;
            }
        }
    }
}
