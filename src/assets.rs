//! Static files (CSS, scripts, pictures of the demo catalog) compiled into the binary, so
//! that one file is the whole shop. Each is published under a name carrying its content
//! hash (`app.0ef5a97049a4.css`), so it can be cached for a year by browsers and CloudFront.
//! With ASSET_BASE_URL the pages load them from a CDN (see `coffee-radar assets publish`).

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::storage::{IMMUTABLE, Storage};

pub struct Asset {
    pub name: &'static str,
    pub bytes: &'static [u8],
    pub content_type: &'static str,
    /// The name with the content hash before the extension.
    pub fingerprinted: String,
}

macro_rules! embed {
    ($($name:literal => $content_type:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("../static/", $name)) as &[u8], $content_type)),*]
    };
}

const FILES: &[(&str, &[u8], &str)] = embed![
    "app.css" => "text/css; charset=utf-8",
    "radar.js" => "text/javascript; charset=utf-8",
    "shop.js" => "text/javascript; charset=utf-8",
    "pay.js" => "text/javascript; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "products/mug.svg" => "image/svg+xml",
    "products/mug-gray.svg" => "image/svg+xml",
    "products/mug-black.svg" => "image/svg+xml",
    "products/t-shirt.svg" => "image/svg+xml",
    "products/coffee-maker.svg" => "image/svg+xml",
    "products/bag.svg" => "image/svg+xml",
    "products/passport-cover.svg" => "image/svg+xml",
];

struct Index {
    by_name: HashMap<&'static str, Asset>,
    /// Fingerprinted name → plain name.
    by_fingerprint: HashMap<String, &'static str>,
}

static INDEX: LazyLock<Index> = LazyLock::new(|| {
    let by_name: HashMap<_, _> = FILES
        .iter()
        .map(|&(name, bytes, content_type)| {
            let hash = hex::encode(&Sha256::digest(bytes)[..6]);
            let fingerprinted = match name.rsplit_once('.') {
                Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
                None => format!("{name}.{hash}"),
            };
            (
                name,
                Asset {
                    name,
                    bytes,
                    content_type,
                    fingerprinted,
                },
            )
        })
        .collect();
    let by_fingerprint = by_name
        .values()
        .map(|a| (a.fingerprinted.clone(), a.name))
        .collect();
    Index {
        by_name,
        by_fingerprint,
    }
});

/// The versioned path of a static file, such as `/static/app.0ef5a97049a4.css`.
pub fn path(name: &str) -> String {
    INDEX
        .by_name
        .get(name)
        .map_or_else(String::new, |a| format!("/static/{}", a.fingerprinted))
}

/// The bytes of a static file (the demo catalog seeds its pictures from here).
pub fn bytes(name: &str) -> Option<&'static [u8]> {
    INDEX.by_name.get(name).map(|asset| asset.bytes)
}

pub fn all() -> impl Iterator<Item = &'static Asset> {
    INDEX.by_name.values()
}

/// Serves `/static/<fingerprinted name>` for a year, and the plain name for an hour (for
/// links made before a release).
pub async fn serve(Path(name): Path<String>) -> Response {
    let (asset, cache) = match INDEX.by_fingerprint.get(name.as_str()) {
        Some(plain) => (&INDEX.by_name[plain], IMMUTABLE),
        None => match INDEX.by_name.get(name.as_str()) {
            Some(asset) => (asset, "public, max-age=3600"),
            None => return (StatusCode::NOT_FOUND, "No such file.").into_response(),
        },
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        asset.bytes,
    )
        .into_response()
}

/// Uploads every static file under `static/<fingerprinted name>`, for a CDN to serve.
pub async fn publish(storage: &Storage) -> anyhow::Result<usize> {
    let mut count = 0;
    for asset in all() {
        let key = format!("static/{}", asset.fingerprinted);
        storage
            .put(&key, Bytes::from_static(asset.bytes), asset.content_type)
            .await?;
        count += 1;
    }
    Ok(count)
}
/// A picture's URL, or the shop's logo when there is none.
pub fn image_url(key: Option<&str>) -> String {
    key.map_or_else(|| crate::assets::path("favicon.svg"), public_url)
}

/// Where a browser fetches a stored object (served by `/media`).
pub fn public_url(key: &str) -> String {
    format!("/media/{key}")
}
