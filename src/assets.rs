//! Static files (CSS, scripts, demo pictures) compiled into the binary, so that one file is
//! the whole shop. Each is served under a URL carrying its content hash, cached for a year.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

pub struct Asset {
    pub bytes: &'static [u8],
    pub content_type: &'static str,
    /// `/static/<name>?v=<hash>`: the URL pages link to.
    pub url: String,
}

macro_rules! embed {
    ($($name:literal => $content_type:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("../static/", $name)) as &[u8], $content_type)),*]
    };
}

const FILES: &[(&str, &[u8], &str)] = embed![
    "app.css" => "text/css; charset=utf-8",
    "radar.js" => "text/javascript; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "products/mug.svg" => "image/svg+xml",
    "products/t-shirt.svg" => "image/svg+xml",
    "products/coffee-maker.svg" => "image/svg+xml",
    "products/bag.svg" => "image/svg+xml",
    "products/passport-cover.svg" => "image/svg+xml",
];

static ASSETS: LazyLock<HashMap<&'static str, Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|&(name, bytes, content_type)| {
            let hash = hex::encode(&Sha256::digest(bytes)[..6]);
            let url = format!("/static/{name}?v={hash}");
            (
                name,
                Asset {
                    bytes,
                    content_type,
                    url,
                },
            )
        })
        .collect()
});

/// The versioned URL of a static file.
pub fn url(name: &str) -> &'static str {
    ASSETS.get(name).map_or("", |asset| asset.url.as_str())
}

/// The bytes of a static file (the demo catalog seeds its pictures from here).
pub fn bytes(name: &str) -> Option<&'static [u8]> {
    ASSETS.get(name).map(|asset| asset.bytes)
}

pub async fn serve(Path(name): Path<String>) -> Response {
    match ASSETS.get(name.as_str()) {
        Some(asset) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(asset.content_type),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
            ],
            asset.bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "No such file.").into_response(),
    }
}
