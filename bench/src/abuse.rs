//! `abuse`: what a hostile or careless crowd costs one instance, all at the same time:
//! clients uploading the most expensive pictures the limits accept, a burst of sign-ups and
//! sign-ins (each an Argon2id hash), and a thousand connections that sit idle, while
//! /healthz and the home page are polled. Reports the server's peak memory (VmHWM) and
//! what every kind of request was answered, and how fast.
//!
//! The peak is the process's lifetime peak: start the server fresh for the run.

use crate::process::memory;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::shop::{self, Outcome};
use crate::stats::{Latencies, ms};

/// The server's own limit on an upload, in bytes.
const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// The peak memory an instance must stay under, in MB.
const TARGET_PEAK_MB: f64 = 256.0;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shop's base URL, e.g. http://127.0.0.1:8080 (loopback only).
    #[arg(long)]
    pub base: String,
    /// The server's process id, for its peak memory (VmHWM).
    #[arg(long = "server-pid")]
    pub server_pid: u32,
    /// Clients uploading pictures, each its own signed-in account.
    #[arg(long, default_value_t = 8)]
    pub uploaders: usize,
    /// Pictures each uploader sends, one after the other (PNG and JPEG in turn).
    #[arg(long, default_value_t = 3)]
    pub uploads_each: usize,
    /// Clients that register or sign in at once: half register, half sign in.
    #[arg(long, default_value_t = 64)]
    pub accounts: usize,
    /// Connections opened and left idle: half send nothing, half one request then nothing.
    #[arg(long, default_value_t = 1000)]
    pub idle_connections: usize,
    /// The server's PICTURE_MAX_MEGAPIXELS: the pictures are made that large.
    #[arg(long, default_value_t = 24)]
    pub max_megapixels: u32,
    /// How often /healthz and the home page are asked, in milliseconds.
    #[arg(long, default_value_t = 100)]
    pub poll_ms: u64,
}

/// A picture to upload, made once.
struct Picture {
    label: &'static str,
    content_type: &'static str,
    bytes: Vec<u8>,
}

/// The answers to one kind of request.
#[derive(Default)]
struct Tally {
    statuses: BTreeMap<String, u64>,
    latencies: Latencies,
}

impl Tally {
    fn add(&mut self, outcome: &Outcome) {
        let key = outcome
            .status
            .map_or_else(|| "no answer".to_owned(), |s| s.to_string());
        *self.statuses.entry(key).or_default() += 1;
        self.latencies.push(outcome.latency);
    }

    fn merge(&mut self, other: Tally) {
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.latencies.extend(&other.latencies);
    }

    fn only(&self, allowed: &[&str]) -> bool {
        self.statuses.keys().all(|s| allowed.contains(&s.as_str()))
    }

    fn line(&mut self, label: &str) -> String {
        let total: u64 = self.statuses.values().sum();
        let statuses = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}×{n}"))
            .collect::<Vec<_>>()
            .join(" ");
        format!(
            "{label:<34} {total:>6}  {statuses:<24} {:>8} {:>8} {:>8}",
            ms(self.latencies.percentile(0.5)),
            ms(self.latencies.percentile(0.99)),
            ms(self.latencies.max()),
        )
    }
}

pub async fn run(args: Args) -> anyhow::Result<bool> {
    let base = args.base.trim_end_matches('/').to_owned();
    shop::catalog(&base).await?;
    let (hwm, rss) = memory(args.server_pid)?;
    println!(
        "abuse {base}: {} uploaders × {} pictures of {} MP, {} sign-ups and sign-ins, {} idle connections",
        args.uploaders,
        args.uploads_each,
        args.max_megapixels,
        args.accounts,
        args.idle_connections
    );
    println!("server at start: peak {}, resident {}", mb(hwm), mb(rss));

    let pictures = Arc::new(make_pictures(args.max_megapixels)?);
    for p in pictures.iter() {
        println!("  picture: {} ({} KB)", p.label, p.bytes.len() / 1024);
    }
    let run = shop::run_id();
    let uploaders = prepare_accounts(&base, &run, "u", args.uploaders, true).await?;
    let sign_ins = args.accounts / 2;
    let sign_ups = args.accounts - sign_ins;
    let returning = prepare_accounts(&base, &run, "r", sign_ins, false).await?;
    let (hwm, rss) = memory(args.server_pid)?;
    println!(
        "accounts ready ({} uploaders, {} to sign in): server peak {}, resident {}",
        uploaders.len(),
        returning.len(),
        mb(hwm),
        mb(rss)
    );

    let idle = open_idle(&base, args.idle_connections).await?;
    println!("{} idle connections open", idle.len());

    // Everything at once, polled all along.
    let stop = Arc::new(AtomicBool::new(false));
    let health = tokio::spawn(poll(base.clone(), "/healthz", args.poll_ms, stop.clone()));
    let home = tokio::spawn(poll(base.clone(), "/", args.poll_ms, stop.clone()));
    let started = Instant::now();
    let mut uploads = tokio::task::JoinSet::new();
    for (i, (_, client)) in uploaders.into_iter().enumerate() {
        let (base, pictures, count) = (base.clone(), pictures.clone(), args.uploads_each);
        uploads.spawn(async move {
            let mut tally = Tally::default();
            for n in 0..count {
                let picture = &pictures[(i + n) % pictures.len()];
                let request = client
                    .put(format!("{base}/api/v1/me/photo"))
                    .header("content-type", picture.content_type)
                    .body(picture.bytes.clone());
                tally.add(&shop::send(request, 200).await);
            }
            tally
        });
    }
    let mut hashes = tokio::task::JoinSet::new();
    for i in 0..sign_ups {
        let (base, run) = (base.clone(), run.clone());
        hashes.spawn(async move {
            let client = shop::client(true, Duration::from_secs(60)).ok()?;
            let username = format!("a{run}-s{i}");
            let request = client.post(format!("{base}/api/v1/users")).json(&json!({
                "username": username,
                "email": format!("{username}@bench.example.com"),
                "password": shop::PASSWORD,
                "first_name": "Bench",
            }));
            Some((true, shop::send(request, 201).await))
        });
    }
    for (username, client) in returning {
        let base = base.clone();
        hashes.spawn(async move {
            let request = client
                .post(format!("{base}/api/v1/sessions"))
                .json(&json!({ "username": username, "password": shop::PASSWORD }));
            Some((false, shop::send(request, 200).await))
        });
    }

    let mut upload_tally = Tally::default();
    while let Some(joined) = uploads.join_next().await {
        upload_tally.merge(joined?);
    }
    let (mut sign_up_tally, mut sign_in_tally) = (Tally::default(), Tally::default());
    while let Some(joined) = hashes.join_next().await {
        match joined? {
            Some((true, outcome)) => sign_up_tally.add(&outcome),
            Some((false, outcome)) => sign_in_tally.add(&outcome),
            None => bail!("could not make an HTTP client"),
        }
    }
    let burst = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut health = health.await?;
    let mut home = home.await?;
    let still_open = count_open(idle).await;
    let (hwm, rss) = memory(args.server_pid)?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (_, rss_later) = memory(args.server_pid)?;

    println!("\nburst done in {:.1} s\n", burst.as_secs_f64());
    println!(
        "{:<34} {:>6}  {:<24} {:>8} {:>8} {:>8}",
        "requests", "count", "answers", "p50", "p99", "max"
    );
    println!("{}", upload_tally.line("upload: PUT /api/v1/me/photo"));
    println!("{}", sign_up_tally.line("sign up: POST /api/v1/users"));
    println!("{}", sign_in_tally.line("sign in: POST /api/v1/sessions"));
    println!("{}", health.line("poll: GET /healthz"));
    println!("{}", home.line("poll: GET /"));
    println!(
        "\nidle connections still open after the burst: {still_open} of {}",
        args.idle_connections
    );
    println!(
        "server memory: peak (VmHWM) {}, resident right after {}, 5 s later {}",
        mb(hwm),
        mb(rss),
        mb(rss_later)
    );

    let peak_ok = hwm as f64 / 1024.0 <= TARGET_PEAK_MB;
    let polls_ok = health.only(&["200"]) && home.only(&["200"]);
    // Refusals are fine (503 when busy, 429 when throttled); server errors are not.
    let no_errors = [&upload_tally, &sign_up_tally, &sign_in_tally]
        .iter()
        .all(|t| {
            t.statuses
                .keys()
                .all(|s| s.starts_with('2') || s == "503" || s == "429")
        });
    println!(
        "targets: peak ≤ {TARGET_PEAK_MB} MB: {}; /healthz and / always 200: {}; no server errors: {}",
        yes(peak_ok),
        yes(polls_ok),
        yes(no_errors)
    );
    Ok(peak_ok && polls_ok && no_errors)
}

fn yes(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

/// The largest picture size the limit takes, about 3:2 like a photo.
fn dimensions(megapixels: u32) -> (u32, u32) {
    let pixels = u64::from(megapixels) * 1_000_000;
    let width = ((pixels as f64 * 1.5).sqrt() as u64).min(65_535);
    let height = (pixels / width).min(65_535);
    (width as u32, height as u32)
}

/// The most expensive pictures to decode at the limit, each under the upload size limit:
/// a 16-bit RGBA PNG (the decoder works through 8 bytes a pixel) and a progressive 4:4:4
/// JPEG (it keeps every coefficient, of every component at full size, until the last scan).
fn make_pictures(megapixels: u32) -> anyhow::Result<Vec<Picture>> {
    let (width, height) = dimensions(megapixels);
    // Smooth gradients, like a photo's sky: small files, the whole decoding cost.
    let shade =
        |x: u32, y: u32| -> [u8; 3] { [(x * 255 / width) as u8, (y * 255 / height) as u8, 90] };

    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Sixteen);
        encoder.set_compression(png::Compression::High);
        encoder.set_filter(png::Filter::Sub);
        let mut writer = encoder.write_header()?;
        let mut stream = writer.stream_writer()?;
        let mut row = Vec::with_capacity(width as usize * 8);
        for y in 0..height {
            row.clear();
            for x in 0..width {
                let [r, g, _] = shade(x, y);
                row.extend_from_slice(&[r, 0, g, 0, 90, 0, 255, 255]);
            }
            stream.write_all(&row)?;
        }
        stream.finish()?;
        writer.finish()?;
    }

    let rgb: Vec<u8> = (0..height)
        .flat_map(|y| (0..width).flat_map(move |x| shade(x, y)))
        .collect();
    let mut jpeg_bytes = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut jpeg_bytes, 85);
    encoder.set_progressive(true);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_4_4);
    encoder.encode(
        &rgb,
        u16::try_from(width)?,
        u16::try_from(height)?,
        jpeg_encoder::ColorType::Rgb,
    )?;
    drop(rgb);

    let pictures = vec![
        Picture {
            label: "PNG, RGBA 16 bits",
            content_type: "image/png",
            bytes: png_bytes,
        },
        Picture {
            label: "JPEG, progressive 4:4:4",
            content_type: "image/jpeg",
            bytes: jpeg_bytes,
        },
    ];
    for p in &pictures {
        if p.bytes.len() > MAX_UPLOAD_BYTES {
            bail!(
                "the {} picture is {} bytes, over the upload limit",
                p.label,
                p.bytes.len()
            );
        }
    }
    Ok(pictures)
}

/// Registers `count` accounts, 4 at a time; signed in (their client keeps the session) or
/// not (for the burst's sign-ins).
async fn prepare_accounts(
    base: &str,
    run: &str,
    prefix: &str,
    count: usize,
    sign_in: bool,
) -> anyhow::Result<Vec<(String, reqwest::Client)>> {
    let usernames = (0..count).map(|i| format!("a{run}-{prefix}{i}")).collect();
    let timeout = Duration::from_secs(60);
    if sign_in {
        return shop::signed_in_shoppers(base, usernames, timeout).await;
    }
    shop::four_at_a_time(usernames, |username| {
        let base = base.to_owned();
        async move {
            let client = shop::client(true, timeout)?;
            let request = client.post(format!("{base}/api/v1/users")).json(&json!({
                "username": username,
                "email": format!("{username}@bench.example.com"),
                "password": shop::PASSWORD,
                "first_name": "Bench",
            }));
            let outcome = shop::send(request, 201).await;
            if !outcome.is(201) {
                bail!("registering {username}: {}", outcome.describe());
            }
            Ok((username, client))
        }
    })
    .await
}

/// Opens `count` connections: the even ones send nothing, the odd ones one keep-alive
/// request whose answer they read, then nothing.
async fn open_idle(base: &str, count: usize) -> anyhow::Result<Vec<TcpStream>> {
    let url = reqwest::Url::parse(base)?;
    let host = url.host_str().context("a host")?.to_owned();
    let port = url.port_or_known_default().context("a port")?;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n");
    let mut open = Vec::with_capacity(count);
    for i in 0..count {
        let mut stream = match TcpStream::connect((host.as_str(), port)).await {
            Ok(stream) => stream,
            Err(e) => {
                bail!("connection {i} of {count}: {e} (raise the open-file limit: ulimit -n 4096)")
            }
        };
        if i % 2 == 1 {
            stream.write_all(request.as_bytes()).await?;
            let mut answer = [0u8; 1024];
            let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
                .await
                .context("an idle connection's first answer")??;
            if !answer[..read].starts_with(b"HTTP/1.1 200") {
                bail!(
                    "connection {i}: {}",
                    String::from_utf8_lossy(&answer[..read.min(60)])
                );
            }
        }
        open.push(stream);
    }
    Ok(open)
}

/// How many of the connections the server has not closed.
async fn count_open(streams: Vec<TcpStream>) -> usize {
    let mut open = 0;
    for stream in streams {
        let mut byte = [0u8; 1];
        // Closed: the read ends at once (0 bytes or an error); open: nothing comes.
        match tokio::time::timeout(Duration::from_millis(1), stream.peek(&mut byte)).await {
            Err(_) => open += 1,
            Ok(Ok(n)) if n > 0 => open += 1,
            Ok(_) => {}
        }
    }
    open
}

/// Asks `path` every `every_ms` until told to stop, on one keep-alive client.
async fn poll(base: String, path: &'static str, every_ms: u64, stop: Arc<AtomicBool>) -> Tally {
    let mut tally = Tally::default();
    let Ok(client) = shop::client(false, Duration::from_secs(10)) else {
        return tally;
    };
    while !stop.load(Ordering::Relaxed) {
        tally.add(&shop::send(shop::get(&client, &base, path), 200).await);
        tokio::time::sleep(Duration::from_millis(every_ms)).await;
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_as_large_as_the_limit_allows() {
        let (width, height) = dimensions(24);
        assert_eq!((width, height), (6000, 4000));
        let (width, height) = dimensions(5);
        assert!(u64::from(width) * u64::from(height) <= 5_000_000);
    }
}
