//! Extractors whose rejections speak the API's error language.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;

use crate::auth::Visitor;
use crate::db::users::UserRow;
use crate::error::AppError;
use crate::state::AppState;

/// A JSON body; malformed JSON, wrong types and a wrong content type get a clear 4xx.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct ApiJson<T>(pub T);

/// A raw body (a picture, or an optional JSON body read by hand); one over the body
/// limit gets a JSON 413 like every other API error.
pub struct ApiBytes(pub bytes::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(bytes::Bytes::from_request(request, state).await?))
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct ApiPath<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct ApiQuery<T>(pub T);

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType(
                "Send JSON with Content-Type: application/json.".into(),
            ),
            JsonRejection::JsonSyntaxError(_) => {
                AppError::BadRequest("The request body is not valid JSON.".into())
            }
            JsonRejection::JsonDataError(e) => {
                AppError::Invalid(crate::domain::FieldErrors::single(
                    "body",
                    format!(
                        "The JSON does not have the expected fields or types: {}",
                        e.body_text()
                    ),
                ))
            }
            JsonRejection::BytesRejection(rejection) => rejection.into(),
            other => AppError::BadRequest(other.body_text()),
        }
    }
}

impl From<BytesRejection> for AppError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge("The request body is too large.".into())
        } else {
            AppError::BadRequest(format!(
                "The request body could not be read: {}",
                rejection.body_text()
            ))
        }
    }
}

impl From<PathRejection> for AppError {
    fn from(_: PathRejection) -> Self {
        AppError::NotFound("Nothing exists at this address: check the id in the URL.".into())
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::BadRequest(format!(
            "The query string is not valid: {}",
            rejection.body_text()
        ))
    }
}

/// A signed-in user, by session cookie; anyone else gets 401.
pub struct ApiUser {
    pub user: UserRow,
    pub visitor: Visitor,
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        match visitor.user().cloned() {
            Some(user) => Ok(Self { user, visitor }),
            None => Err(AppError::Unauthorized(
                "Sign in first: POST /api/v1/sessions.".into(),
            )),
        }
    }
}

/// A signed-in staff member; others get 401, shoppers 403.
pub struct ApiStaff(pub UserRow);

impl FromRequestParts<AppState> for ApiStaff {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ApiUser { user, .. } = ApiUser::from_request_parts(parts, state).await?;
        crate::services::accounts::require_staff(&user)?;
        Ok(Self(user))
    }
}
