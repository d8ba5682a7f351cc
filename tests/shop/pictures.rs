//! Uploaded pictures cost bounded memory: real decompression bombs are refused from their
//! header, a phone's photo still goes through, and a burst of large uploads beyond the decode
//! budget is answered 503 with Retry-After while the shop keeps answering.

use std::io::{Cursor, Write};

use crate::common::{TestApp, csrf_token, get_json, png};
use image::ImageEncoder;
use reqwest::{Client, StatusCode};
use serde_json::Value;

/// A valid PNG (every chunk's CRC right) of `width` × `height` black pixels: it compresses
/// to almost nothing and decodes to one byte a pixel.
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let row = vec![0u8; width as usize];
    for _ in 0..height {
        stream.write_all(&row).unwrap();
    }
    stream.finish().unwrap();
    writer.finish().unwrap();
    out
}

/// A real 64 × 64 JPEG whose frame header says `width` × `height`: JPEG has no checksum, so
/// this is what a bomb looks like to a decoder until it runs out of data.
fn jpeg_claiming(width: u16, height: u16) -> Vec<u8> {
    let mut jpeg = jpeg(64, 64, None);
    let sof = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline frame header");
    // Marker (2), length (2), precision (1), then height and width.
    jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    jpeg
}

/// A photo-like JPEG (smooth gradients), with an EXIF orientation when given.
fn jpeg(width: u32, height: u32, exif_orientation: Option<u8>) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 120])
    });
    let mut out = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80);
    if let Some(orientation) = exif_orientation {
        encoder
            .set_exif_metadata(exif_with_orientation(orientation))
            .unwrap();
    }
    encoder
        .write_image(&image, width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// The smallest EXIF block (big-endian TIFF) holding only an Orientation tag.
fn exif_with_orientation(orientation: u8) -> Vec<u8> {
    let mut exif = b"MM\0\x2a\0\0\0\x08".to_vec();
    exif.extend_from_slice(&1u16.to_be_bytes()); // one entry
    exif.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    exif.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    exif.extend_from_slice(&1u32.to_be_bytes()); // one value
    exif.extend_from_slice(&[0, orientation, 0, 0]);
    exif.extend_from_slice(&0u32.to_be_bytes()); // no next directory
    exif
}

async fn put_photo(
    client: &Client,
    app: &TestApp,
    body: Vec<u8>,
    content_type: &str,
) -> reqwest::Response {
    client
        .put(app.url("/api/v1/me/photo"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The picture an accepted upload stored, fetched from its URL: its type and its pixels.
async fn stored_picture(
    app: &TestApp,
    accepted: reqwest::Response,
) -> (String, image::DynamicImage) {
    assert_eq!(accepted.status(), StatusCode::OK);
    let me: Value = accepted.json().await.unwrap();
    let stored = app
        .client()
        .get(app.url(me["photo_url"].as_str().expect("a picture URL")))
        .send()
        .await
        .unwrap();
    let content_type = stored.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let bytes = stored.bytes().await.unwrap();
    (content_type, image::load_from_memory(&bytes).unwrap())
}

async fn error_of(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.expect("answers are JSON");
    let message = body["error"].as_str().map(str::to_owned);
    (status, message.unwrap_or_else(|| body.to_string()))
}

fn photo_form(csrf: &str, field: &str, bytes: Vec<u8>) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("csrf", csrf.to_owned())
        .part(
            field.to_owned(),
            reqwest::multipart::Part::bytes(bytes)
                .file_name("picture.png")
                .mime_str("image/png")
                .unwrap(),
        )
}

#[tokio::test]
async fn real_decompression_bombs_are_refused_by_the_megapixel_limit() {
    let app = TestApp::spawn().await;
    let client = app.signed_in("bomber").await;
    let bomb = png_bomb(9000, 9000);
    assert!(
        bomb.len() < 1024 * 1024,
        "a bomb is small: {} bytes",
        bomb.len()
    );
    let limit = "Pictures of up to 24 megapixels are accepted.";

    let (status, message) =
        error_of(put_photo(&client, &app, bomb.clone(), "image/png").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
    assert!(
        message.contains("9000 × 9000") && message.contains(limit),
        "{message}"
    );

    let (status, message) =
        error_of(put_photo(&client, &app, jpeg_claiming(9000, 9000), "image/jpeg").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
    assert!(message.contains(limit), "{message}");

    // The page form answers with the profile page and the same message.
    let csrf = csrf_token(&client, &app.url("/profile")).await;
    let response = client
        .post(app.url("/profile/photo"))
        .multipart(photo_form(&csrf, "photo", bomb.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains(limit), "the page names the limit");
    let me = get_json(&client, app.url("/api/v1/me")).await;
    assert_eq!(me["photo_url"], Value::Null, "no picture was stored");

    // And the staff's product pictures.
    app.grant_admin("bomber");
    let response = client
        .post(app.url("/admin/products/1/picture"))
        .multipart(photo_form(&csrf, "picture", bomb))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains(limit));
}

#[tokio::test]
async fn the_megapixel_limit_is_a_setting() {
    let app = TestApp::spawn_with(&["--picture-max-megapixels", "1"]).await;
    let client = app.signed_in("tiny").await;
    let (status, message) =
        error_of(put_photo(&client, &app, png(1200, 900), "image/png").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("up to 1 megapixels"), "{message}");
    let response = put_photo(&client, &app, png(1000, 1000), "image/png").await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "exactly 1 megapixel is fine"
    );
}

/// A PNG of random-looking pixels: it hardly compresses, so its file is about 3 bytes a pixel.
fn noisy_png(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let image = image::RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [a, b, c, _] = state.to_le_bytes();
        image::Rgb([a, b, c])
    });
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn the_upload_size_limit_is_a_setting() {
    let app = TestApp::spawn_with(&["--picture-max-upload-mb", "1"]).await;
    let client = app.signed_in("compact").await;
    let big = noisy_png(700, 600);
    assert!(big.len() > 1024 * 1024, "{} bytes", big.len());
    let (status, message) =
        error_of(put_photo(&client, &app, big.clone(), "image/png").await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(message.contains("1 MB"), "{message}");

    let profile = client
        .get(app.url("/profile"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(profile.contains("up to 1 MB"), "the form says the limit");
    let csrf = csrf_token(&client, &app.url("/profile")).await;
    let page = client
        .post(app.url("/profile/photo"))
        .multipart(photo_form(&csrf, "photo", big))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(page.text().await.unwrap().contains("larger than 1 MB"));

    let small = noisy_png(400, 400);
    assert!(small.len() < 1024 * 1024);
    assert_eq!(
        put_photo(&client, &app, small, "image/png").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_24_megapixel_phone_photo_is_accepted_stored_at_512_pixels_and_upright() {
    let app = TestApp::spawn().await;
    let client = app.signed_in("phone").await;
    // 6000 × 4000, taken with the phone turned: EXIF says "rotate 90° clockwise".
    let photo = jpeg(6000, 4000, Some(6));
    assert!(photo.len() < 5 * 1024 * 1024, "{} bytes", photo.len());
    let response = put_photo(&client, &app, photo, "image/jpeg").await;
    let (content_type, decoded) = stored_picture(&app, response).await;
    assert_eq!(content_type, "image/jpeg");
    assert_eq!(
        (decoded.width(), decoded.height()),
        (341, 512),
        "shrunk to 512 pixels and turned upright (portrait)"
    );
}

#[tokio::test]
async fn large_uploads_beyond_the_decode_budget_get_503_while_the_shop_answers() {
    // Each of these pictures decodes to 36 MB: the budget takes one at a time, though four
    // decodes at once would be allowed. A short wait.
    let app = TestApp::spawn_with(&[
        "--picture-decode-memory-mb",
        "50",
        "--picture-decodes-at-once",
        "4",
        "--picture-decode-wait-ms",
        "20",
    ])
    .await;
    let client = app.signed_in("burst").await;
    let picture = png(4000, 3000);
    let uploads = (0..8).map(|_| put_photo(&client, &app, picture.clone(), "image/png"));
    let health = async {
        let mut statuses = Vec::new();
        for _ in 0..10 {
            let response = app.client().get(app.url("/healthz")).send().await.unwrap();
            statuses.push(response.status());
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        statuses
    };
    let (responses, health) = tokio::join!(futures::future::join_all(uploads), health);

    assert!(health.iter().all(|s| *s == StatusCode::OK), "{health:?}");
    let mut accepted = 0;
    let mut busy = 0;
    for response in responses {
        match response.status() {
            StatusCode::OK => accepted += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                busy += 1;
                assert!(
                    response.headers().contains_key("retry-after"),
                    "503 says when to come back"
                );
                let (_, message) = error_of(response).await;
                assert!(message.contains("busy"), "{message}");
            }
            other => panic!("unexpected answer {other}"),
        }
    }
    assert!(accepted >= 1, "the first upload goes through");
    assert!(busy >= 1, "uploads beyond the budget are turned away");
    let home = app.client().get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_picture_that_needs_more_than_the_whole_decode_budget_is_refused() {
    let app = TestApp::spawn_with(&["--picture-decode-memory-mb", "10"]).await;
    let client = app.signed_in("roomy").await;
    // 2000 × 2000 RGB decodes to 12 MB.
    let (status, message) =
        error_of(put_photo(&client, &app, png(2000, 2000), "image/png").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("too much memory"), "{message}");
    let response = put_photo(&client, &app, png(1000, 1000), "image/png").await;
    assert_eq!(response.status(), StatusCode::OK, "3 MB fits");
}

#[tokio::test]
async fn a_24_megapixel_jpeg_decodes_at_reduced_scale_within_a_small_budget() {
    // Whole, a 6000 × 4000 photo is 72 MB of pixels; decoded at 1/8 it is 750 × 500, about
    // 1 MB a plane. The budget holds the second and not the first, so only a decode at
    // reduced scale, charged as such, gets through.
    let app = TestApp::spawn_with(&["--picture-decode-memory-mb", "4"]).await;
    let client = app.signed_in("thrifty").await;
    let response = put_photo(&client, &app, jpeg(6000, 4000, None), "image/jpeg").await;
    let (_, decoded) = stored_picture(&app, response).await;
    assert_eq!((decoded.width(), decoded.height()), (512, 341));

    // A PNG decodes whole: even 1200 × 1200 (4 MB) is more than this budget.
    let (status, message) =
        error_of(put_photo(&client, &app, png(1200, 1200), "image/png").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("too much memory"), "{message}");
}
