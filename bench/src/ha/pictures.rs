//! Picture uploads beside the shoppers: one signed-in shopper sets a new profile picture (a
//! small PNG, a different one each time) every --upload-every-ms. An upload that is refused
//! (a 5xx or no answer: the object store or the database away) is sent again, the same
//! picture, until it is accepted or the run stops retrying: what the object-store outage
//! phase checks.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::load::send_recorded;
use super::state::{Kind, Phase, Shared};
use crate::shop;

/// An upload refused, as the uploader saw it.
pub struct Refusal {
    pub phase: Phase,
    pub status: Option<u16>,
    pub latency: Duration,
    pub retry_after: bool,
}

/// What the uploader saw over the run.
#[derive(Default)]
pub struct Uploads {
    pub accepted: usize,
    /// Every refused attempt.
    pub refusals: Vec<Refusal>,
    /// Pictures refused at least once and accepted in the end: the phase of the first
    /// refusal.
    pub accepted_after_refusal: Vec<Phase>,
    /// Pictures refused and never accepted (the run ended first, or a 4xx): the phase of the
    /// first refusal, and the last answer.
    pub never_accepted: Vec<(Phase, String)>,
}

/// The uploader at work, until the load stops.
pub struct Uploader {
    task: Option<JoinHandle<Uploads>>,
}

impl Uploader {
    /// Registers and signs in `username`, then uploads each `every`; `every` zero: none.
    pub async fn start(
        shared: &Arc<Shared>,
        base: &str,
        username: String,
        every: Duration,
    ) -> anyhow::Result<Uploader> {
        if every.is_zero() {
            return Ok(Uploader { task: None });
        }
        let client = shop::client(true, Duration::from_secs(10))?;
        shop::register_and_sign_in(&client, base, &username).await?;
        shared.log(&format!(
            "{username} uploads a profile picture each {every:?}"
        ));
        let (shared, base) = (shared.clone(), base.to_owned());
        let task = tokio::spawn(async move { upload(&shared, &base, &client, every).await });
        Ok(Uploader { task: Some(task) })
    }

    /// Waits for the uploader to stop (it stops with the load, see [`Shared::is_stopping`]).
    pub async fn finish(self) -> Uploads {
        match self.task {
            Some(task) => task.await.unwrap_or_default(),
            None => Uploads::default(),
        }
    }
}

async fn upload(shared: &Shared, base: &str, client: &reqwest::Client, every: Duration) -> Uploads {
    let mut uploads = Uploads::default();
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    for n in 0u32.. {
        ticker.tick().await;
        if shared.is_stopping() {
            break;
        }
        let picture = png(n);
        let mut first_refused = None;
        loop {
            let request = client
                .put(format!("{base}/api/v1/me/photo"))
                .header("content-type", "image/png")
                .body(picture.clone());
            let outcome = send_recorded(shared, Kind::Upload, request, 200).await;
            if outcome.is(200) {
                uploads.accepted += 1;
                uploads.accepted_after_refusal.extend(first_refused);
                break;
            }
            let phase = shared.phase();
            let first = *first_refused.get_or_insert(phase);
            uploads.refusals.push(Refusal {
                phase,
                status: outcome.status,
                latency: outcome.latency,
                retry_after: outcome.retry_after,
            });
            if !outcome.is_transient() || shared.retries_stopped() {
                uploads
                    .never_accepted
                    .push((first, format!("picture {n}: {}", outcome.describe())));
                break;
            }
            ticker.tick().await;
        }
    }
    uploads
}

/// A 48×48 PNG whose colour depends on `n`: a new object for each picture.
fn png(n: u32) -> Vec<u8> {
    const SIDE: u32 = 48;
    let [a, b, c, _] = n.to_le_bytes();
    let pixels: Vec<u8> = (0..SIDE * SIDE)
        .flat_map(|i| [a, b ^ (i as u8), c.wrapping_add(i as u8 / 7)])
        .collect();
    let mut bytes = Vec::new();
    let mut encoder = ::png::Encoder::new(&mut bytes, SIDE, SIDE);
    encoder.set_color(::png::ColorType::Rgb);
    encoder.set_depth(::png::BitDepth::Eight);
    let written = encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&pixels));
    written.expect("a PNG in memory");
    bytes
}

#[cfg(test)]
mod tests {
    use super::png;

    #[test]
    fn each_picture_is_a_png_of_its_own() {
        let (first, second) = (png(1), png(2));
        assert!(first.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_ne!(first, second);
        let decoder = ::png::Decoder::new(std::io::Cursor::new(first));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (48, 48));
    }
}
