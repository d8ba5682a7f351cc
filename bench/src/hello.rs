//! `hello`: the ceiling the benchmark compares the shop with. A minimal axum server answering
//! "Hello, world!" on the same machine, measured by the same client in the same run: what
//! any page of the shop costs beyond it is the shop's own work.

use std::process::Stdio;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to listen (loopback; port 0 picks a free one, printed on the first line).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
}

/// Serves until killed; the first line on stdout is "listening on ADDR".
pub async fn serve(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.listen.ip().is_loopback(),
        "listen on a loopback address"
    );
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "Hello, world!" }));
    axum::serve(listener, app).await?;
    Ok(())
}

/// The ceiling server, started as a process of its own (so that it gets its own runtime and
/// threads, as the shop has) and killed when dropped.
pub struct Ceiling {
    pub base: String,
    _child: tokio::process::Child,
}

impl Ceiling {
    pub async fn start() -> anyhow::Result<Self> {
        let mut child = tokio::process::Command::new(std::env::current_exe()?)
            .arg("hello")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting the hello-world server")?;
        let stdout = child.stdout.take().context("its stdout")?;
        let line = BufReader::new(stdout)
            .lines()
            .next_line()
            .await?
            .context("the hello-world server said nothing")?;
        let addr = line
            .strip_prefix("listening on ")
            .with_context(|| format!("the hello-world server said {line:?}"))?;
        Ok(Self {
            base: format!("http://{addr}"),
            _child: child,
        })
    }
}
