//! Reading a picture's header, and decoding its pixels no larger than needed.
//!
//! The header tells the picture's size, and so what decoding it will cost, before any pixel
//! is decoded. Each format is decoded by the codec that costs least:
//! - JPEG (most photos) with `jpeg-decoder`, whose inverse DCT can output 1/2, 1/4 or 1/8
//!   of the picture directly: a 24-megapixel photo decodes to 750 × 500 pixels, about 1 MB.
//!   Progressive JPEGs still keep every DCT coefficient (2 bytes a sample) until the last scan.
//! - PNG with the `png` crate, reduced to 8 bits a sample (a 16-bit PNG would cost twice as
//!   much for nothing: the stored picture has 8): the whole picture, 1 to 4 bytes a pixel.
//! - WebP with the image crate's decoder: the whole picture, plus its working buffers.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageBuffer, ImageDecoder, ImageFormat};

/// The file is not a picture these codecs can read.
#[derive(Debug)]
pub struct Unreadable;

/// Fixed cost of any decode: the codec's own tables and buffers, the input's copy.
const CODEC_OVERHEAD_BYTES: u64 = 1024 * 1024;

/// What a picture's header says.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub width: u32,
    pub height: u32,
    /// Estimated peak memory of decoding it (at reduced scale where the format allows).
    pub decode_bytes: u64,
}

impl Header {
    /// Reads the header only: no pixel is decoded.
    pub fn read(bytes: &[u8], format: ImageFormat, fit: u16) -> Result<Self, Unreadable> {
        let (width, height, decode_bytes) = match format {
            ImageFormat::Jpeg => {
                let jpeg = JpegPlan::read(bytes, fit)?;
                (jpeg.width, jpeg.height, jpeg.decode_bytes())
            }
            ImageFormat::Png => {
                let reader = png_reader(bytes)?;
                let info = reader.info();
                let frame = reader.output_buffer_size().ok_or(Unreadable)?;
                (info.width, info.height, frame as u64)
            }
            ImageFormat::WebP => {
                let decoder = webp_decoder(bytes)?;
                let (width, height) = decoder.dimensions();
                // The lossy decoder keeps its YUV planes beside the RGB(A) picture.
                (width, height, decoder.total_bytes().saturating_mul(2))
            }
            _ => return Err(Unreadable),
        };
        Ok(Self {
            width,
            height,
            decode_bytes: decode_bytes.saturating_add(CODEC_OVERHEAD_BYTES),
        })
    }

    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

/// Decodes the picture, at no less than `fit` pixels on its longer side where the format
/// can decode at reduced scale, and says how to turn it upright.
pub fn decode(
    bytes: &[u8],
    format: ImageFormat,
    fit: u16,
) -> Result<(DynamicImage, Option<Orientation>), Unreadable> {
    match format {
        ImageFormat::Jpeg => decode_jpeg(bytes, fit),
        ImageFormat::Png => decode_png(bytes),
        ImageFormat::WebP => {
            let mut decoder = webp_decoder(bytes)?;
            let orientation = decoder.orientation().ok();
            let image = DynamicImage::from_decoder(decoder).map_err(|_| Unreadable)?;
            Ok((image, orientation))
        }
        _ => Err(Unreadable),
    }
}

// --- JPEG ---

/// A JPEG's size, and the size it decodes to when scaled to fit.
struct JpegPlan {
    width: u32,
    height: u32,
    scaled_width: u32,
    scaled_height: u32,
    components: u32,
    progressive: bool,
}

impl JpegPlan {
    fn read(bytes: &[u8], fit: u16) -> Result<Self, Unreadable> {
        let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
        decoder.read_info().map_err(|_| Unreadable)?;
        let info = decoder.info().ok_or(Unreadable)?;
        let (scaled_width, scaled_height) = decoder.scale(fit, fit).map_err(|_| Unreadable)?;
        let components = match info.pixel_format {
            jpeg_decoder::PixelFormat::L8 => 1,
            jpeg_decoder::PixelFormat::RGB24 => 3,
            jpeg_decoder::PixelFormat::CMYK32 => 4,
            // 16-bit samples only come with lossless JPEG, which does not scale.
            jpeg_decoder::PixelFormat::L16 => return Err(Unreadable),
        };
        let progressive = match info.coding_process {
            jpeg_decoder::CodingProcess::DctSequential => false,
            jpeg_decoder::CodingProcess::DctProgressive => true,
            jpeg_decoder::CodingProcess::Lossless => return Err(Unreadable),
        };
        Ok(Self {
            width: u32::from(info.width),
            height: u32::from(info.height),
            scaled_width: u32::from(scaled_width),
            scaled_height: u32::from(scaled_height),
            components,
            progressive,
        })
    }

    /// The scaled planes and the picture made of them; for a progressive JPEG also every
    /// coefficient at full size (counted as if no component were subsampled: an upper bound).
    fn decode_bytes(&self) -> u64 {
        let scaled = u64::from(self.scaled_width)
            * u64::from(self.scaled_height)
            * u64::from(self.components);
        let coefficients = if self.progressive {
            u64::from(self.width) * u64::from(self.height) * u64::from(self.components) * 2
        } else {
            0
        };
        2 * scaled + coefficients
    }
}

fn decode_jpeg(bytes: &[u8], fit: u16) -> Result<(DynamicImage, Option<Orientation>), Unreadable> {
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    let (width, height) = decoder.scale(fit, fit).map_err(|_| Unreadable)?;
    let pixels = decoder.decode().map_err(|_| Unreadable)?;
    let info = decoder.info().ok_or(Unreadable)?;
    let (width, height) = (u32::from(width), u32::from(height));
    let image = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => {
            ImageBuffer::from_raw(width, height, pixels).map(DynamicImage::ImageLuma8)
        }
        jpeg_decoder::PixelFormat::RGB24 => {
            ImageBuffer::from_raw(width, height, pixels).map(DynamicImage::ImageRgb8)
        }
        jpeg_decoder::PixelFormat::CMYK32 => {
            ImageBuffer::from_raw(width, height, cmyk_to_rgb(&pixels)).map(DynamicImage::ImageRgb8)
        }
        jpeg_decoder::PixelFormat::L16 => None,
    }
    .ok_or(Unreadable)?;
    let orientation = decoder.exif_data().and_then(Orientation::from_exif_chunk);
    Ok((image, orientation))
}

/// Naive CMYK (0 = no ink, as the decoder gives it) to RGB: print colours need a colour
/// profile to be exact, but a profile picture only needs to look right.
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let ink = |channel: u8, black: u8| {
        let kept = u16::from(255 - channel) * u16::from(255 - black) / 255;
        kept as u8
    };
    cmyk.chunks_exact(4)
        .flat_map(|p| [ink(p[0], p[3]), ink(p[1], p[3]), ink(p[2], p[3])])
        .collect()
}

// --- PNG ---

fn png_reader(bytes: &[u8]) -> Result<png::Reader<Cursor<&[u8]>>, Unreadable> {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    decoder.read_info().map_err(|_| Unreadable)
}

fn decode_png(bytes: &[u8]) -> Result<(DynamicImage, Option<Orientation>), Unreadable> {
    let mut reader = png_reader(bytes)?;
    let mut pixels = vec![0; reader.output_buffer_size().ok_or(Unreadable)?];
    let frame = reader.next_frame(&mut pixels).map_err(|_| Unreadable)?;
    pixels.truncate(frame.buffer_size());
    let (width, height) = (frame.width, frame.height);
    let image = match frame.color_type {
        png::ColorType::Grayscale => {
            ImageBuffer::from_raw(width, height, pixels).map(DynamicImage::ImageLuma8)
        }
        png::ColorType::GrayscaleAlpha => {
            ImageBuffer::from_raw(width, height, pixels).map(DynamicImage::ImageLumaA8)
        }
        png::ColorType::Rgb => {
            ImageBuffer::from_raw(width, height, pixels).map(DynamicImage::ImageRgb8)
        }
        png::ColorType::Rgba => {
            ImageBuffer::from_raw(width, height, pixels).map(DynamicImage::ImageRgba8)
        }
        // Expanded to RGB(A) by the transformations.
        png::ColorType::Indexed => None,
    }
    .ok_or(Unreadable)?;
    let orientation = reader
        .info()
        .exif_metadata
        .as_deref()
        .and_then(Orientation::from_exif_chunk);
    Ok((image, orientation))
}

// --- WebP ---

fn webp_decoder(
    bytes: &[u8],
) -> Result<image::codecs::webp::WebPDecoder<Cursor<&[u8]>>, Unreadable> {
    image::codecs::webp::WebPDecoder::new(Cursor::new(bytes)).map_err(|_| Unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_jpeg_decodes_at_an_eighth_and_is_charged_so() {
        let photo = image::RgbImage::from_fn(6000, 4000, |x, y| {
            image::Rgb([(x / 24) as u8, (y / 16) as u8, 120])
        });
        let mut jpeg = Vec::new();
        photo
            .write_with_encoder(image::codecs::jpeg::JpegEncoder::new(&mut jpeg))
            .unwrap();
        let header = Header::read(&jpeg, ImageFormat::Jpeg, 512).unwrap();
        assert_eq!((header.width, header.height), (6000, 4000));
        assert_eq!(
            header.decode_bytes,
            2 * 750 * 500 * 3 + CODEC_OVERHEAD_BYTES,
            "the estimate is of the scaled planes"
        );
        let (decoded, _) = decode(&jpeg, ImageFormat::Jpeg, 512).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (750, 500));
    }

    #[test]
    fn cmyk_without_ink_is_white_and_full_black_is_black() {
        assert_eq!(
            cmyk_to_rgb(&[0, 0, 0, 0, 0, 0, 0, 255]),
            [255, 255, 255, 0, 0, 0]
        );
        assert_eq!(cmyk_to_rgb(&[255, 0, 0, 0]), [0, 255, 255]);
    }
}
