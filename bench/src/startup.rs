//! `startup`: how soon a new instance serves. Starts the shop's binary on an existing data
//! folder (a database that is already migrated and seeded, as a scaled-out instance finds
//! it) and times the first 200 of /readyz, several times.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shop's binary, e.g. target/release/coffee-radar.
    #[arg(long)]
    pub binary: std::path::PathBuf,
    /// Its data folder (SQLite database and files); made and migrated by a first start.
    #[arg(long)]
    pub data_dir: std::path::PathBuf,
    /// Where it listens (loopback).
    #[arg(long, default_value = "127.0.0.1:18195")]
    pub listen: std::net::SocketAddr,
    /// Timed starts, after one untimed start that migrates and seeds the database.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// How long one start may take before the run gives up.
    #[arg(long, default_value_t = 30)]
    pub give_up_secs: u64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.listen.ip().is_loopback(),
        "listen on a loopback address"
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()?;
    let ready = format!("http://{}/readyz", args.listen);
    let mut times = Vec::new();
    for run in 0..=args.runs {
        let mut child = tokio::process::Command::new(&args.binary)
            .arg("--data-dir")
            .arg(&args.data_dir)
            .args(["serve", "--listen", &args.listen.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", args.binary.display()))?;
        let started = Instant::now();
        let took = loop {
            if let Ok(answer) = client.get(&ready).send().await
                && answer.status().is_success()
            {
                break started.elapsed();
            }
            if let Some(status) = child.try_wait()? {
                bail!("the shop exited before it was ready: {status}");
            }
            if started.elapsed() > Duration::from_secs(args.give_up_secs) {
                bail!("not ready within {} s", args.give_up_secs);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        stop(&mut child).await?;
        if run == 0 {
            println!(
                "first start (migrates and seeds): ready in {} ms",
                took.as_millis()
            );
        } else {
            times.push(took);
        }
    }
    times.sort();
    let ms = |d: &Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    println!(
        "ready on an existing database, {} starts: median {}, slowest {}",
        times.len(),
        times.get(times.len() / 2).map_or("-".into(), ms),
        times.last().map_or("-".into(), ms),
    );
    Ok(())
}

/// SIGTERM, as systemd and the Auto Scaling group stop an instance, then its exit.
async fn stop(child: &mut tokio::process::Child) -> anyhow::Result<()> {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    }
    match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
        Ok(status) => status.map(drop).context("waiting for the shop to exit"),
        Err(_) => child.kill().await.context("killing the shop"),
    }
}
