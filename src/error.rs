//! One error type for the whole application. 4xx errors carry a message meant for the
//! person (or program) that sent the request; 5xx errors are logged with their cause and
//! answered with generic text.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::FieldErrors;

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("Some fields need attention.")]
    Invalid(FieldErrors),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(FieldErrors::single(field, message))
    }

    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} was not found."))
    }

    /// The text shown to the client: never the internals of a 5xx.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "Something went wrong on our side. Please try again.".into(),
            Self::Invalid(errors) => errors
                .iter()
                .map(|(_, message)| message)
                .collect::<Vec<_>>()
                .join(" "),
            other => other.to_string(),
        }
    }

    /// Logs server-side failures once, with their cause chain.
    pub fn log(&self) {
        match self {
            Self::Internal(error) => tracing::error!(error = ?error, "request failed"),
            Self::Unavailable(message) => tracing::warn!(%message, "dependency unavailable"),
            _ => {}
        }
    }
}

/// JSON errors: `{"error": "..."}`, plus `"fields"` for validation errors.
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let mut body = json!({ "error": self.public_message() });
        if let Self::Invalid(errors) = &self {
            body["fields"] = errors
                .iter()
                .map(|(field, message)| (field.to_owned(), json!(message)))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        let mut response = (self.status(), Json(body)).into_response();
        if matches!(self, Self::Unavailable(_)) {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("2"));
        }
        response
    }
}

/// A stored state this version cannot read is the shop's fault, not the visitor's.
impl From<crate::domain::UnknownValue> for AppError {
    fn from(error: crate::domain::UnknownValue) -> Self {
        Self::Internal(anyhow::Error::new(error))
    }
}

/// What a shopper hears while the database is away.
const DATABASE_AWAY: &str = "The shop's database is not answering. Please try again in a moment.";

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        use sqlx::Error as E;
        // The cause of an outage, for the logs (the client only hears "try again").
        if matches!(
            error,
            E::PoolTimedOut
                | E::PoolClosed
                | E::Io(_)
                | E::Tls(_)
                | E::Protocol(_)
                | E::WorkerCrashed
        ) {
            tracing::warn!(%error, "database connection failed");
        }
        match error {
            // A connection cut mid-conversation can surface as a protocol error (e.g. an
            // empty answer to PostgreSQL's SSL request): the database is away, not broken.
            E::PoolTimedOut
            | E::PoolClosed
            | E::Io(_)
            | E::Tls(_)
            | E::Protocol(_)
            | E::WorkerCrashed => Self::Unavailable(DATABASE_AWAY.into()),
            E::Database(ref db) if is_transient(db.as_ref()) => {
                Self::Unavailable(DATABASE_AWAY.into())
            }
            other => Self::Internal(other.into()),
        }
    }
}

/// Errors that pass: the database is shutting down, restarting, failing over (a standby
/// still read-only), or a transaction lost a deadlock or serialization race. Trying again
/// later can succeed, so they are 503s, not 500s.
fn is_transient(error: &dyn sqlx::error::DatabaseError) -> bool {
    let code = error.code().unwrap_or_default();
    let message = error.message();
    code.starts_with("08")
        // PostgreSQL: admin shutdown, crash shutdown, cannot connect now, read-only
        // transaction, serialization failure, deadlock.
        || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "25006" | "40001" | "40P01")
        // SQLite: busy or locked beyond the busy timeout.
        || matches!(code.as_ref(), "5" | "6" | "261" | "517")
        // MySQL/MariaDB report a read-only server under the generic HY000.
        || message.contains("read-only")
        || message.contains("read only")
}

impl From<anyhow::Error> for AppError {
    fn from(error: anyhow::Error) -> Self {
        Self::Internal(error)
    }
}

impl From<object_store::Error> for AppError {
    fn from(error: object_store::Error) -> Self {
        match error {
            object_store::Error::NotFound { .. } => Self::not_found("That file"),
            other => {
                tracing::warn!(error = %other, "object storage failed");
                Self::Unavailable(
                    "Picture storage is not available right now. Please try again later.".into(),
                )
            }
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(error: askama::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<FieldErrors> for AppError {
    fn from(errors: FieldErrors) -> Self {
        Self::Invalid(errors)
    }
}

/// Maps a unique-key violation to a 409 with the given message; other errors pass through.
pub fn on_unique_violation(error: sqlx::Error, message: &str) -> AppError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            AppError::Conflict(message.to_owned())
        }
        _ => error.into(),
    }
}
