//! Load generator for Coffee Radar.
//!
//!   coffee-radar-bench bench --base URL [--server-pid PID] [--duration S] [--connections N]
//!       requests/s and p50/p99/p99.9 latency of a hello-world server (the ceiling), the home
//!       page, shop list, product page and catalog API, anonymous and signed in, add to cart
//!       and checkout, and the server's peak memory
//!   coffee-radar-bench startup --binary PATH --data-dir DIR
//!       how soon an instance serves (/readyz) after start on an existing database
//!   coffee-radar-bench hello
//!       the hello-world server that `bench` measures as its ceiling
//!   coffee-radar-bench insights --base URL --database-url URL [--orders N]
//!       seeds a year of orders and times the staff Insights page and API over it
//!   coffee-radar-bench abuse --base URL --server-pid PID
//!       at once: 8 clients upload the most expensive pictures the limits accept, 64 sign up
//!       or sign in, 1,000 connections sit idle; /healthz and / are polled; reports the
//!       server's peak memory and the answers, and exits non-zero when a target is missed
//!   coffee-radar-bench ha --base URL --cluster deploy/local/cluster.sh --database-url postgres://… (or mysql://…)
//!       the shopper journey at a steady rate while instances die and the database fails over;
//!       ends with "N passed, M failed" and exits non-zero when a target is missed
//!
//! Every request goes to --base, which must be a loopback address.

mod abuse;
mod bench;
mod ha;
mod hello;
mod insights;
mod process;
mod shop;
mod startup;
mod stats;
mod wire;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "coffee-radar-bench", about = "Load generator for Coffee Radar")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Hostile load on one instance: its peak memory, and whether it keeps answering.
    Abuse(abuse::Args),
    /// Throughput and latency of the main pages and actions, and the server's peak memory.
    Bench(bench::Args),
    /// The load-and-fault test against deploy/local/cluster.sh.
    Ha(ha::Args),
    /// A minimal axum "Hello, world!" server: the ceiling `bench` compares with.
    Hello(hello::Args),
    /// How soon an instance is ready after start on an existing database.
    Startup(startup::Args),
    /// The staff Insights page and API over a year of orders.
    Insights(insights::Args),
}

fn loopback_only(base: &str) -> anyhow::Result<()> {
    let url = reqwest::Url::parse(base).map_err(|e| anyhow::anyhow!("{base}: {e}"))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        anyhow::bail!("only loopback addresses (127.0.0.0/8, ::1, localhost) are allowed: {base}")
    }
}

/// A database URL with a host names a loopback one (sqlite:// files have none).
fn loopback_database(url: &str) -> anyhow::Result<()> {
    let parsed = reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("--database-url: {e}"))?;
    match parsed.host_str() {
        None | Some("") => Ok(()),
        Some(_) => loopback_only(url)
            .map_err(|_| anyhow::anyhow!("--database-url must be on a loopback address")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let is_ha = matches!(cli.command, Command::Ha(_));
    let outcome = match cli.command {
        Command::Bench(args) => {
            async {
                loopback_only(&args.base)?;
                if let Some(url) = &args.database_url {
                    loopback_database(url)?;
                }
                bench::run(args).await.map(|()| true)
            }
            .await
        }
        Command::Abuse(args) => {
            async {
                loopback_only(&args.base)?;
                abuse::run(args).await
            }
            .await
        }
        Command::Insights(args) => {
            async {
                loopback_only(&args.base)?;
                loopback_database(&args.database_url)?;
                insights::run(args).await.map(|()| true)
            }
            .await
        }
        Command::Hello(args) => hello::serve(args).await.map(|()| true),
        Command::Startup(args) => startup::run(args).await.map(|()| true),
        Command::Ha(args) => {
            async {
                loopback_only(&args.base)?;
                loopback_database(&args.database_url)?;
                ha::run(args).await
            }
            .await
        }
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            if is_ha {
                // The ha test's output always ends with its summary line.
                println!("0 passed, 1 failed");
            }
            ExitCode::FAILURE
        }
    }
}
