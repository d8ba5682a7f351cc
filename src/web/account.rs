//! Registering, signing in and out, and resetting a forgotten password.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::cart::EmptyForm;
use super::forms::check_confirmed;
use super::{
    CsrfForm, Flash, Layout, PageResult, Refusal, local_target, redirect_with, render,
    render_with_status, safe_next,
};
use crate::auth::{self, Visitor};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::services::accounts::{self, Registration};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    layout: Layout,
    form: Registration,
    /// The page to come back to once registered, or empty for the shop.
    next: String,
    errors: FieldErrors,
    message: Option<String>,
}

pub async fn register_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<NextQuery>,
) -> PageResult<Response> {
    Ok(render(&RegisterPage {
        layout: Layout::load(&state, &visitor, "Create your account", "account").await?,
        form: Registration::default(),
        next: query
            .next
            .as_deref()
            .and_then(local_target)
            .unwrap_or_default(),
        errors: FieldErrors::default(),
        message: None,
    }))
}

#[derive(serde::Deserialize)]
pub struct RegisterForm {
    username: String,
    email: String,
    password: String,
    /// The password typed again (missing counts as not the same).
    #[serde(default)]
    password_confirm: String,
    first_name: String,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

pub async fn register(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<RegisterForm>,
) -> PageResult<Response> {
    let confirmed = check_confirmed(&form.password, &form.password_confirm);
    let registration = Registration {
        username: form.username,
        email: form.email,
        password: form.password,
        first_name: form.first_name,
        address: form.address,
    };
    let registered = match confirmed {
        Ok(()) => accounts::register(&state.services, &registration, visitor.client_ip).await,
        Err(error) => Err(error),
    };
    match registered {
        Ok(user) => {
            let jar = auth::sign_in(&state, &visitor, &user, jar).await?;
            Ok(redirect_with(
                jar,
                &safe_next(form.next.as_deref()),
                Flash::Registered,
            ))
        }
        Err(error) => {
            let refusal = Refusal::of(error)?;
            let page = RegisterPage {
                layout: Layout::load(&state, &visitor, "Create your account", "account").await?,
                form: Registration {
                    password: String::new(),
                    ..registration
                },
                next: form
                    .next
                    .as_deref()
                    .and_then(local_target)
                    .unwrap_or_default(),
                errors: refusal.errors,
                message: refusal.message,
            };
            Ok(render_with_status(refusal.status, &page))
        }
    }
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    layout: Layout,
    username: String,
    next: String,
    message: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn sign_in_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<NextQuery>,
) -> PageResult<Response> {
    if visitor.user().is_some() {
        return Ok(Redirect::to(&safe_next(query.next.as_deref())).into_response());
    }
    Ok(render(&SignInPage {
        layout: Layout::load(&state, &visitor, "Sign in", "account").await?,
        username: String::new(),
        next: safe_next(query.next.as_deref()),
        message: None,
    }))
}

#[derive(serde::Deserialize)]
pub struct SignInForm {
    username: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

pub async fn sign_in(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<SignInForm>,
) -> PageResult<Response> {
    let next = safe_next(form.next.as_deref());
    match accounts::authenticate(
        &state.services,
        &form.username,
        &form.password,
        visitor.client_ip,
    )
    .await
    {
        Ok(user) => {
            let jar = auth::sign_in(&state, &visitor, &user, jar).await?;
            Ok(redirect_with(jar, &next, Flash::SignedIn))
        }
        Err(error) => {
            let refusal = Refusal::of(error)?;
            let page = SignInPage {
                layout: Layout::load(&state, &visitor, "Sign in", "account").await?,
                username: form.username.chars().take(254).collect(),
                next,
                message: refusal.summary(),
            };
            Ok(render_with_status(refusal.status, &page))
        }
    }
}

pub async fn sign_out(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> PageResult<Response> {
    let jar = auth::sign_out(&state, &visitor, jar).await?;
    Ok(redirect_with(jar, "/", Flash::SignedOut))
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    layout: Layout,
    message: Option<String>,
}

pub async fn forgot_form(State(state): State<AppState>, visitor: Visitor) -> PageResult<Response> {
    Ok(render(&ForgotPage {
        layout: Layout::load(&state, &visitor, "Forgot your password?", "account").await?,
        message: None,
    }))
}

#[derive(serde::Deserialize)]
pub struct ForgotForm {
    email: String,
}

pub async fn forgot(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<ForgotForm>,
) -> PageResult<Response> {
    match accounts::request_password_reset(&state.services, &form.email, visitor.client_ip).await {
        Ok(()) => Ok(redirect_with(jar, "/signin", Flash::ResetSent)),
        Err(error) => {
            let refusal = Refusal::of(error)?;
            let page = ForgotPage {
                layout: Layout::load(&state, &visitor, "Forgot your password?", "account").await?,
                message: refusal.summary(),
            };
            Ok(render_with_status(refusal.status, &page))
        }
    }
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    layout: Layout,
    token: String,
    /// The link has expired or was used: the page says so instead of showing the form.
    spent: bool,
    errors: FieldErrors,
    message: Option<String>,
}

impl ResetPage {
    async fn load(state: &AppState, visitor: &Visitor, token: String) -> PageResult<Self> {
        Ok(Self {
            layout: Layout::load(state, visitor, "Choose a new password", "account").await?,
            token,
            spent: false,
            errors: FieldErrors::default(),
            message: None,
        })
    }
}

/// The reset page for a link that no longer works: it explains why, and how to get a new
/// one (answered 404, as the link leads nowhere).
async fn spent_link(state: &AppState, visitor: &Visitor) -> PageResult<Response> {
    let mut page = ResetPage::load(state, visitor, String::new()).await?;
    page.layout.title = "This reset link no longer works".into();
    page.spent = true;
    Ok(render_with_status(StatusCode::NOT_FOUND, &page))
}

pub async fn reset_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> PageResult<Response> {
    if !accounts::reset_link_is_valid(&state.services, &token).await? {
        return spent_link(&state, &visitor).await;
    }
    Ok(render(&ResetPage::load(&state, &visitor, token).await?))
}

#[derive(serde::Deserialize)]
pub struct ResetForm {
    password: String,
    /// The password typed again (missing counts as not the same).
    #[serde(default)]
    password_confirm: String,
}

pub async fn reset(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Path(token): Path<String>,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> PageResult<Response> {
    // The link first: whatever was typed, a spent link is the news.
    if !accounts::reset_link_is_valid(&state.services, &token).await? {
        return spent_link(&state, &visitor).await;
    }
    let reset = match check_confirmed(&form.password, &form.password_confirm) {
        Ok(()) => accounts::reset_password(&state.services, &token, &form.password).await,
        Err(error) => Err(error),
    };
    match reset {
        Ok(()) => Ok(redirect_with(jar, "/signin", Flash::PasswordReset)),
        // Spent by another tab meanwhile.
        Err(AppError::NotFound(_)) => spent_link(&state, &visitor).await,
        Err(error) => {
            let refusal = Refusal::of(error)?;
            let page = ResetPage {
                errors: refusal.errors,
                message: refusal.message,
                ..ResetPage::load(&state, &visitor, token).await?
            };
            Ok(render_with_status(refusal.status, &page))
        }
    }
}
