//! Reading forms safely: every state-changing form carries the browser's CSRF token, and a
//! form that cannot be read is answered with a page, not a stack trace.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;
use axum_extra::extract::CookieJar;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::PageError;
use crate::auth::CsrfToken;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::state::AppState;

/// A form the visitor can put right: what the form page shows about the error, and the
/// status it is answered with.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    /// Messages next to the fields they are about.
    pub errors: FieldErrors,
    /// A message about the whole form.
    pub message: Option<String>,
}

impl Refusal {
    /// Errors about what was sent (invalid fields, a taken name, too little stock, too many
    /// attempts…) go back to the form; a forged form, a missing page or an outage is the
    /// error page's.
    pub fn of(error: AppError) -> Result<Self, PageError> {
        let status = error.status();
        match error {
            AppError::Invalid(errors) => Ok(Self {
                status,
                errors,
                message: None,
            }),
            AppError::Forbidden(_) | AppError::NotFound(_) => Err(error.into()),
            error if status.is_client_error() => Ok(Self {
                status,
                errors: FieldErrors::default(),
                message: Some(error.public_message()),
            }),
            error => Err(error.into()),
        }
    }

    /// One line for forms that show a single message: the form's, or the first field's.
    pub fn summary(&self) -> Option<String> {
        self.message.clone().or_else(|| {
            self.errors
                .iter()
                .next()
                .map(|(_, message)| message.to_owned())
        })
    }
}

/// A quantity of a variant that was refused, to show again where it was typed (the product
/// page, a cart line) with why.
pub struct RefusedQuantity {
    pub variant_id: i64,
    /// As typed, cut to a length a quantity field shows.
    pub typed: String,
    pub message: String,
}

impl RefusedQuantity {
    pub fn new(variant_id: i64, typed: &str, refusal: &Refusal) -> Self {
        Self {
            variant_id,
            typed: typed.chars().take(10).collect(),
            message: refusal.summary().unwrap_or_default(),
        }
    }
}

/// A new password typed twice (the second time in `password_confirm`) must be typed the
/// same both times: a slip in a hidden field would lock the shopper out.
pub fn check_confirmed(password: &str, again: &str) -> Result<(), AppError> {
    if password == again {
        Ok(())
    } else {
        Err(AppError::invalid(
            "password_confirm",
            "The two passwords are not the same. Type the new password in both fields.",
        ))
    }
}

/// A URL-encoded form whose `csrf` field matches the browser's CSRF cookie.
pub struct CsrfForm<T>(pub T);

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let cookie = CsrfToken::from_jar(&CookieJar::from_headers(request.headers()));
        let is_form = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(
                AppError::UnsupportedMediaType("This address takes a web form.".into()).into(),
            );
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| AppError::PayloadTooLarge("That form is too large.".into()))?;
        let field: CsrfField = serde_urlencoded::from_bytes(&body).unwrap_or(CsrfField {
            csrf: String::new(),
        });
        check_token(cookie.as_ref(), &field.csrf)?;
        serde_urlencoded::from_bytes(&body).map(CsrfForm).map_err(|e| {
            tracing::debug!(error = %e, "unreadable form");
            AppError::BadRequest("Some fields of the form are missing or not in the expected format. Go back and check it.".into()).into()
        })
    }
}

/// The token a form carries must be the one in the browser's cookie.
pub fn check_token(cookie: Option<&CsrfToken>, submitted: &str) -> Result<(), PageError> {
    match cookie {
        Some(CsrfToken(expected))
            if !submitted.is_empty() && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes())) =>
        {
            Ok(())
        }
        _ => Err(AppError::Forbidden(
            "This form has expired or did not come from this shop. Go back, reload the page and try again.".into(),
        )
        .into()),
    }
}

/// An uploaded file and the CSRF token from a multipart form.
pub struct Upload {
    pub file: Bytes,
    /// The text field asked for by [`Upload::read_with_text`] (blank when not sent).
    pub text: String,
}

impl Upload {
    /// Reads a multipart form with a `csrf` field and one file field named `field`.
    pub async fn read(
        multipart: Multipart,
        cookie: Option<&CsrfToken>,
        field: &str,
        pictures: &crate::pictures::Pictures,
    ) -> Result<Self, PageError> {
        Self::read_with_text(multipart, cookie, field, None, pictures).await
    }

    /// As [`Upload::read`], also keeping the text field named `text_field`.
    pub async fn read_with_text(
        mut multipart: Multipart,
        cookie: Option<&CsrfToken>,
        field: &str,
        text_field: Option<&str>,
        pictures: &crate::pictures::Pictures,
    ) -> Result<Self, PageError> {
        let mut csrf = String::new();
        let mut text = String::new();
        let mut file = None;
        let unreadable =
            || AppError::BadRequest("The upload could not be read. Choose the file again.".into());
        while let Some(part) = multipart
            .next_field()
            .await
            .map_err(|e| upload_error(&e.body_text(), pictures))?
        {
            match part.name() {
                Some("csrf") => csrf = part.text().await.map_err(|_| unreadable())?,
                Some(name) if Some(name) == text_field => {
                    text = part.text().await.map_err(|_| unreadable())?;
                }
                Some(name) if name == field => {
                    file = Some(
                        part.bytes()
                            .await
                            .map_err(|e| upload_error(&e.body_text(), pictures))?,
                    );
                }
                _ => {}
            }
        }
        check_token(cookie, &csrf)?;
        let file = file
            .filter(|f| !f.is_empty())
            .ok_or_else(|| AppError::invalid(field, "Choose a picture to upload."))?;
        Ok(Self { file, text })
    }
}

fn upload_error(detail: &str, pictures: &crate::pictures::Pictures) -> AppError {
    if detail.contains("limit") || detail.contains("large") {
        pictures.too_large()
    } else {
        AppError::BadRequest("The upload could not be read. Choose the file again.".into())
    }
}

/// A number field that may be left blank: blank is `None`, anything else must be a whole
/// number. (Reads the text itself, so it also works inside forms with flattened parts.)
pub fn empty_is_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let text: Option<String> = serde::Deserialize::deserialize(deserializer)?;
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(number) => number
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("{number:?} is not a whole number"))),
    }
}
