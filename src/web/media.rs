//! Serving stored pictures. Keys are content-addressed, so the hash is the ETag and the
//! object can be cached for a year.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::services::media;
use crate::state::AppState;
use crate::storage::{content_type_of, is_valid_key};

pub async fn serve(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !is_valid_key(&key) {
        return AppError::not_found("That picture").into_response();
    }
    let etag = format!(
        "\"{}\"",
        key.rsplit('/')
            .next()
            .unwrap_or_default()
            .split('.')
            .next()
            .unwrap_or_default()
    );
    let cache = [
        (
            header::ETAG,
            HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(crate::storage::IMMUTABLE),
        ),
    ];
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    if matches {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    match media::picture(&state.services, &key).await {
        Ok(bytes) => (
            cache,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(content_type_of(&key)),
                ),
                // Pictures are never documents: an SVG must not run scripts.
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'none'; style-src 'unsafe-inline'; sandbox",
                    ),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}
