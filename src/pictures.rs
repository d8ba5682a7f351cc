//! Uploaded pictures: decoded with limits against decompression bombs, turned upright,
//! shrunk to fit, and re-encoded, which drops all metadata (EXIF, GPS, comments).

use std::io::Cursor;

use bytes::Bytes;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::error::AppError;

/// The largest upload accepted, in bytes.
pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// Largest width or height of a stored picture.
pub const MAX_SIDE: u32 = 512;
/// Pictures with more pixels than this on either side are refused before decoding.
const MAX_DECODED_SIDE: u32 = 10_000;
/// Memory the decoder may use.
const MAX_DECODER_BYTES: u64 = 256 * 1024 * 1024;

pub struct Picture {
    pub bytes: Bytes,
    pub ext: &'static str,
    pub content_type: &'static str,
}

/// Checks, decodes and re-encodes an upload on a blocking thread.
pub async fn process_upload(bytes: Bytes) -> Result<Picture, AppError> {
    tokio::task::spawn_blocking(move || process(&bytes))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
}

fn process(bytes: &[u8]) -> Result<Picture, AppError> {
    if bytes.is_empty() {
        return Err(AppError::BadRequest("Choose a picture to upload.".into()));
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(too_large());
    }
    let format = image::guess_format(bytes).ok();
    if !matches!(
        format,
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)
    ) {
        return Err(AppError::UnsupportedMediaType(
            "Upload a JPEG, PNG or WebP picture.".into(),
        ));
    }
    let unreadable = || {
        AppError::invalid(
            "photo",
            "That file is not a readable JPEG, PNG or WebP picture.",
        )
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| unreadable())?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DECODED_SIDE);
    limits.max_image_height = Some(MAX_DECODED_SIDE);
    limits.max_alloc = Some(MAX_DECODER_BYTES);
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| decode_error(e, unreadable))?;
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(e, unreadable))?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    if image.width() > MAX_SIDE || image.height() > MAX_SIDE {
        image = image.resize(MAX_SIDE, MAX_SIDE, image::imageops::FilterType::Triangle);
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

fn decode_error(error: image::ImageError, unreadable: impl Fn() -> AppError) -> AppError {
    match error {
        image::ImageError::Limits(_) => AppError::invalid(
            "photo",
            format!("That picture is too large: at most {MAX_DECODED_SIDE} pixels on each side."),
        ),
        _ => unreadable(),
    }
}

pub fn too_large() -> AppError {
    AppError::PayloadTooLarge(format!(
        "That picture is larger than {} MB.",
        MAX_UPLOAD_BYTES / 1024 / 1024
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_pixel(width, height, image::Rgb([120, 80, 40]));
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn large_pictures_are_shrunk_to_fit_and_become_jpeg() {
        let picture = process(&png(1200, 600)).unwrap();
        assert_eq!(picture.ext, "jpg");
        let stored = image::load_from_memory(&picture.bytes).unwrap();
        assert_eq!((stored.width(), stored.height()), (512, 256));
    }

    #[test]
    fn files_that_are_not_pictures_are_refused() {
        let error = process(b"<?php echo 'hi'; ?>").err().unwrap();
        assert!(matches!(error, AppError::UnsupportedMediaType(_)));
        // A PNG signature followed by garbage.
        let mut fake = png(4, 4);
        fake.truncate(20);
        assert!(matches!(
            process(&fake).err().unwrap(),
            AppError::Invalid(_)
        ));
    }

    #[test]
    fn decompression_bombs_are_refused_before_decoding() {
        // A tiny file that claims 20000×20000 pixels.
        let bomb = png(20_000, 1);
        let mut header_only = bomb.clone();
        // Rewrite the IHDR height to 20000 (bytes 20..24) without adding pixel data.
        header_only[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        assert!(process(&header_only).is_err());
    }
}
