//! Pictures: stored after the upload pipeline (see [`crate::pictures`]), and served by
//! the `/media` route.

use bytes::Bytes;

use super::Services;
use crate::error::{AppError, AppResult};
use crate::storage::is_valid_key;

/// The bytes of a stored picture; a key the shop could not have written is "not found"
/// without asking the store.
pub async fn picture(services: &Services, key: &str) -> AppResult<Bytes> {
    if !is_valid_key(key) {
        return Err(AppError::not_found("That picture"));
    }
    Ok(services.storage.get(key).await?)
}

/// Checks, shrinks and stores an uploaded picture under `folder`; returns its key. The
/// one way in for profile pictures and product pictures alike.
pub(super) async fn store_picture(
    services: &Services,
    folder: &'static str,
    upload: Bytes,
) -> AppResult<String> {
    let picture = services.pictures.process_upload(upload).await?;
    Ok(services
        .storage
        .put_content_addressed(folder, picture.ext, picture.bytes)
        .await?)
}
