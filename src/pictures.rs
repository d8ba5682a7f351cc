//! Uploaded pictures: checked from their header, decoded within a memory budget, turned
//! upright, shrunk to fit, and re-encoded, which drops all metadata (EXIF, GPS, comments).
//!
//! Decoding is what an upload costs: a 236 KB PNG can claim 9000 × 9000 pixels, 300 MB once
//! decoded. So the header's size is checked against a megapixel limit before any pixel is
//! decoded; each decode then reserves its estimated memory from a budget the instance's
//! decodes share (see [`gate`]), waiting briefly or else answering 503; and JPEGs, most
//! photos, decode straight to the scale they are stored at (see [`decode`]).

mod decode;
mod gate;

use std::io::Cursor;
use std::sync::LazyLock;
use std::time::Duration;

use bytes::Bytes;
use image::{DynamicImage, ImageFormat};

pub use crate::config::PictureSettings;
use crate::error::AppError;
use decode::{Header, Unreadable};
use gate::DecodeGate;

/// Largest width or height of a stored picture.
pub const MAX_SIDE: u32 = 512;

pub struct Picture {
    pub bytes: Bytes,
    pub ext: &'static str,
    pub content_type: &'static str,
}

/// The picture pipeline of one instance: its limits and its decode budget.
#[derive(Debug)]
pub struct Pictures {
    max_upload_mb: u32,
    max_megapixels: u32,
    decode_budget_bytes: u64,
    gate: DecodeGate,
}

impl Pictures {
    pub fn new(settings: &PictureSettings) -> Self {
        let decode_budget_bytes = u64::from(settings.picture_decode_memory_mb) * 1024 * 1024;
        Self {
            max_upload_mb: settings.picture_max_upload_mb,
            max_megapixels: settings.picture_max_megapixels,
            decode_budget_bytes,
            gate: DecodeGate::new(
                decode_budget_bytes,
                settings.picture_decodes_at_once as usize,
                Duration::from_millis(settings.picture_decode_wait_ms),
            ),
        }
    }

    /// The largest picture file accepted, in bytes.
    pub fn max_upload_bytes(&self) -> usize {
        self.max_upload_mb as usize * 1024 * 1024
    }

    /// The answer to an upload over [`Pictures::max_upload_bytes`].
    pub fn too_large(&self) -> AppError {
        AppError::PayloadTooLarge(format!(
            "That picture is larger than {} MB.",
            self.max_upload_mb
        ))
    }

    /// Checks, decodes and re-encodes an upload, on blocking threads.
    pub async fn process_upload(&self, bytes: Bytes) -> Result<Picture, AppError> {
        if bytes.len() > self.max_upload_bytes() {
            return Err(self.too_large());
        }
        let format = sniff(&bytes)?;
        let header = {
            let bytes = bytes.clone();
            blocking(move || Header::read(&bytes, format, MAX_SIDE as u16).map_err(unreadable))
                .await?
        };
        if header.pixels() > u64::from(self.max_megapixels) * 1_000_000 {
            return Err(AppError::invalid(
                "photo",
                format!(
                    "That picture is too large: {} × {} pixels. Pictures of up to {} megapixels are accepted.",
                    header.width, header.height, self.max_megapixels
                ),
            ));
        }
        if header.decode_bytes > self.decode_budget_bytes {
            // Only WebP and progressive JPEG cost this much below the megapixel limit.
            return Err(AppError::invalid(
                "photo",
                format!(
                    "That picture takes too much memory to open: {} × {} pixels in this format. Save it smaller, or as a standard (baseline) JPEG.",
                    header.width, header.height
                ),
            ));
        }
        let Some(permit) = self.gate.admit(header.decode_bytes).await else {
            metrics::counter!("picture_uploads_busy_total").increment(1);
            return Err(AppError::Unavailable(
                "The shop is busy with other pictures. Please try again in a moment.".into(),
            ));
        };
        // The permit goes with the work: a client that leaves does not free the memory the
        // decode still holds.
        blocking(move || {
            let _permit = permit;
            shrink_and_encode(&bytes, format)
        })
        .await
    }
}

/// For commands outside the server (the Flask import): the default limits.
pub async fn process_upload(bytes: Bytes) -> Result<Picture, AppError> {
    static DEFAULT: LazyLock<Pictures> =
        LazyLock::new(|| Pictures::new(&PictureSettings::default()));
    DEFAULT.process_upload(bytes).await
}

/// Runs `work` on a blocking thread. A codec that panics on a crafted file has found a bug,
/// not broken the shop: the file is refused like any unreadable one.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(outcome) => outcome,
        Err(error) if error.is_panic() => {
            tracing::warn!("a picture codec panicked; the upload is refused");
            Err(unreadable(Unreadable))
        }
        Err(error) => Err(AppError::Internal(error.into())),
    }
}

/// The upload's format, from its first bytes; only JPEG, PNG and WebP are taken.
fn sniff(bytes: &[u8]) -> Result<ImageFormat, AppError> {
    if bytes.is_empty() {
        return Err(AppError::BadRequest("Choose a picture to upload.".into()));
    }
    match image::guess_format(bytes) {
        Ok(format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => Ok(format),
        _ => Err(AppError::UnsupportedMediaType(
            "Upload a JPEG, PNG or WebP picture.".into(),
        )),
    }
}

fn unreadable(_: Unreadable) -> AppError {
    AppError::invalid(
        "photo",
        "That file is not a readable JPEG, PNG or WebP picture.",
    )
}

/// Decodes (at reduced scale where possible), shrinks to fit, turns upright, re-encodes.
fn shrink_and_encode(bytes: &[u8], format: ImageFormat) -> Result<Picture, AppError> {
    let (mut image, orientation) =
        decode::decode(bytes, format, MAX_SIDE as u16).map_err(unreadable)?;
    if image.width() > MAX_SIDE || image.height() > MAX_SIDE {
        // Area averaging: good for large reductions, and needs no memory beyond its result.
        image = image.thumbnail(MAX_SIDE, MAX_SIDE);
    }
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    encode(image)
}

/// Pictures with transparency stay PNG; the rest become JPEG, smaller for photos.
fn encode(image: DynamicImage) -> Result<Picture, AppError> {
    let mut out = Vec::new();
    let picture = if image.color().has_alpha() {
        image
            .to_rgba8()
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .map_err(|e| AppError::Internal(e.into()))?;
        ("png", "image/png")
    } else {
        let rgb = image.to_rgb8();
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
        rgb.write_with_encoder(encoder)
            .map_err(|e| AppError::Internal(e.into()))?;
        ("jpg", "image/jpeg")
    };
    Ok(Picture {
        bytes: Bytes::from(out),
        ext: picture.0,
        content_type: picture.1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Bytes {
        let image = image::RgbImage::from_pixel(width, height, image::Rgb([120, 80, 40]));
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out.into()
    }

    fn pictures() -> Pictures {
        Pictures::new(&PictureSettings::default())
    }

    #[tokio::test]
    async fn large_pictures_are_shrunk_to_fit_and_become_jpeg() {
        let picture = pictures().process_upload(png(1200, 600)).await.unwrap();
        assert_eq!(picture.ext, "jpg");
        let stored = image::load_from_memory(&picture.bytes).unwrap();
        assert_eq!((stored.width(), stored.height()), (512, 256));
    }

    #[tokio::test]
    async fn files_that_are_not_pictures_are_refused() {
        let error = pictures()
            .process_upload(Bytes::from_static(b"<?php echo 'hi'; ?>"))
            .await
            .err()
            .unwrap();
        assert!(matches!(error, AppError::UnsupportedMediaType(_)));
        // A PNG signature followed by garbage.
        let fake = png(4, 4).slice(..20);
        assert!(matches!(
            pictures().process_upload(fake).await.err().unwrap(),
            AppError::Invalid(_)
        ));
    }

    #[tokio::test]
    async fn webp_is_read_and_transparent_pictures_stay_png() {
        let rgba = image::RgbaImage::from_pixel(600, 300, image::Rgba([10, 20, 30, 128]));
        let mut webp = Vec::new();
        image::codecs::webp::WebPEncoder::new_lossless(&mut webp)
            .encode(&rgba, 600, 300, image::ExtendedColorType::Rgba8)
            .unwrap();
        let picture = pictures().process_upload(webp.into()).await.unwrap();
        assert_eq!(picture.ext, "png");
        let stored = image::load_from_memory(&picture.bytes).unwrap();
        assert_eq!((stored.width(), stored.height()), (512, 256));
        assert!(stored.color().has_alpha());
    }
}
