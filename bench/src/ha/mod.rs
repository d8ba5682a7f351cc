//! `ha`: the shopper journey at a steady rate through the load balancer while instances are
//! killed, drained and restarted and the database fails over; then the database is checked.
//!
//! Phases (each --phase-secs long unless said otherwise):
//!   baseline  no fault
//!   kill      one instance gets SIGKILL                      (cluster.sh kill a1)
//!   drain     another gets SIGTERM and drains, then exits    (cluster.sh stop b1)
//!   restart   both start again                               (cluster.sh start a1; start b1)
//!   upgrade   with --next-binary: a rolling upgrade, each instance in turn drained by
//!             the load balancer and replaced by the next release, --upgrade-overlap-secs
//!             apart                              (cluster.sh upgrade NAME --binary PATH)
//!   failover  primary stopped, the address leading nowhere for --database-away-secs,
//!             replica promoted, address re-pointed (cluster.sh failover --away N); lasts
//!             until the service has been healthy for a while (at most the recovery
//!             target + 10 s)
//!   rejoin    the old primary comes back as the replica            (cluster.sh rejoin)
//!   s3 outage, slow db, slower db, db back
//!             the object store away, then every database round trip slower, then fast
//!             again (see `dependencies`: lengths and checks of their own)
//!   zone loss a1 and the primary database SIGKILLed at once, then the failover as above
//!             (cluster.sh zone-loss --away N); lasts as the failover does
//!   after     no fault
//!
//! Beside the shoppers, an anonymous visitor reads pages and the catalog API: those must
//! answer in every phase, from the catalog snapshot while the database is away; and one
//! more shopper uploads profile pictures (`pictures`). Each instance's metrics and memory
//! are read every second (`instances`).
//!
//! The run, in the order of `run` below: `setup` (catalog, stock, shoppers), `load` (the
//! shoppers' journeys), `faults` (the phases above, through `cluster`), then the report and
//! the verdict: `report` (a table per phase), `recovery` (the failover's), `checks` and
//! `database`. `state` is what they share while the load runs.

mod checks;
mod cluster;
mod database;
mod delay_proxy;
mod dependencies;
mod faults;
mod instances;
mod load;
mod pictures;
mod recovery;
mod report;
mod setup;
pub mod soak;
mod state;
mod upgrade;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;

use crate::shop;
use checks::Checks;
use recovery::Recovery;
use state::Shared;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The load balancer's URL (loopback), e.g. http://127.0.0.1:18100
    #[arg(long)]
    pub base: String,
    /// The cluster script whose kill/stop/start/failover commands inject the faults.
    #[arg(long)]
    pub cluster: PathBuf,
    /// The database the app uses (postgres://… or mysql://…), for stock and the final checks.
    #[arg(long)]
    pub database_url: String,
    /// Requests per second, all shoppers together.
    #[arg(long, default_value_t = 40.0)]
    pub rate: f64,
    /// Virtual shoppers.
    #[arg(long, default_value_t = 12)]
    pub users: usize,
    /// Length of each phase but the failover's, in seconds.
    #[arg(long, default_value_t = 15)]
    pub phase_secs: u64,
    /// Target: the service answers again within this many seconds of the failover.
    #[arg(long, default_value_t = 30)]
    pub recovery_target_secs: u64,
    /// The instance killed with SIGKILL.
    #[arg(long, default_value = "a1")]
    pub kill: String,
    /// The instance stopped with SIGTERM (drained).
    #[arg(long, default_value = "b1")]
    pub drain: String,
    /// How long the database address leads nowhere in a failover, before the replica is
    /// promoted (RDS takes a minute or two).
    #[arg(long, default_value_t = 5)]
    pub database_away_secs: u64,
    /// The next release's binary for the rolling upgrade (the rehearsal build, cargo
    /// feature next-release-rehearsal); without it the upgrade phase is skipped.
    #[arg(long)]
    pub next_binary: Option<PathBuf>,
    /// In the rolling upgrade, the pause after each instance is replaced, while old and new
    /// instances serve side by side.
    #[arg(long, default_value_t = 2)]
    pub upgrade_overlap_secs: u64,
    /// Requests per second of the anonymous visitor (0: none).
    #[arg(long, default_value_t = 8.0)]
    pub guest_rate: f64,
    #[command(flatten)]
    pub dependencies: dependencies::Settings,
}

/// The scenario: setup, the load through every fault phase, then the report and the checks.
/// Ok(true) when every check passed.
pub async fn run(args: Args) -> anyhow::Result<bool> {
    let base = args.base.trim_end_matches('/').to_owned();
    if args.users == 0 || args.rate <= 0.0 {
        bail!("--users and --rate must be positive");
    }
    let shared = Arc::new(Shared::new());
    println!(
        "ha: {base}, {} shoppers, {} requests/s, phases of {} s; cluster {}",
        args.users,
        args.rate,
        args.phase_secs,
        args.cluster.display()
    );

    let setup = setup::prepare(&shared, &base, &args.database_url, args.users).await?;
    let guest = (
        shop::client(false, Duration::from_secs(10))?,
        args.guest_rate,
    );
    let load = load::start(
        &shared,
        &base,
        setup.shoppers,
        &setup.products,
        args.rate,
        guest,
    );
    let uploader = pictures::Uploader::start(
        &shared,
        &base,
        format!("{}p", setup.prefix),
        args.dependencies.upload_every(),
    )
    .await?;
    let sampler =
        dependencies::Sampler::start(&shared, args.cluster.clone(), Duration::from_secs(1));
    let faults = faults::inject(&shared, &args).await;
    let run_end = load.stop(&shared).await;
    let uploads = uploader.finish().await;
    let samples = sampler.finish().await;
    let results = shared.take_results();

    println!();
    report::phases(&results.records);
    println!();
    let mut checks = Checks::default();
    checks::requests(&mut checks, &faults.errors, &results.records);
    let target = Duration::from_secs(args.recovery_target_secs);
    let windows = [
        ("failover", faults.failover_at..faults.rejoin_at),
        (
            "slow database",
            faults.database_back_at..faults.zone_loss_at,
        ),
        ("zone loss", faults.zone_loss_at..run_end),
    ];
    for (name, window) in windows {
        let recovery = Recovery::measure(&results.records, name, window);
        recovery.print();
        recovery.check(&mut checks, target);
    }
    if let Some(rolled) = &faults.upgrade {
        upgrade::check(&mut checks, rolled, &setup.pool).await;
    }
    let clients = args.users + 2;
    dependencies::check(
        &mut checks,
        &args.dependencies,
        &results.records,
        &uploads,
        &samples,
        clients,
    );
    database::check(
        setup.pool,
        &setup.prefix,
        &results,
        &setup.initial_stock,
        &mut checks,
    )
    .await;
    Ok(checks.finish())
}
