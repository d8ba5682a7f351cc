//! Registering, signing in and out, and resetting a forgotten password.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::cart::EmptyForm;
use super::{
    CsrfForm, Flash, Layout, PageResult, Refusal, redirect_with, render, render_with_status,
    safe_next,
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
    errors: FieldErrors,
    message: Option<String>,
}

pub async fn register_form(
    State(state): State<AppState>,
    visitor: Visitor,
) -> PageResult<Response> {
    Ok(render(&RegisterPage {
        layout: Layout::load(&state, &visitor, "Create your account", "account").await?,
        form: Registration::default(),
        errors: FieldErrors::default(),
        message: None,
    }))
}

#[derive(serde::Deserialize)]
pub struct RegisterForm {
    username: String,
    email: String,
    password: String,
    first_name: String,
    #[serde(default)]
    address: Option<String>,
}

pub async fn register(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<RegisterForm>,
) -> PageResult<Response> {
    let registration = Registration {
        username: form.username,
        email: form.email,
        password: form.password,
        first_name: form.first_name,
        address: form.address,
    };
    match accounts::register(&state.services, &registration, visitor.client_ip).await {
        Ok(user) => {
            let jar = auth::sign_in(&state, &visitor, &user, jar).await?;
            Ok(redirect_with(jar, "/shop", Flash::Registered))
        }
        Err(error) => {
            let refusal = Refusal::of(error)?;
            let page = RegisterPage {
                layout: Layout::load(&state, &visitor, "Create your account", "account").await?,
                form: Registration {
                    password: String::new(),
                    ..registration
                },
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
    error: Option<String>,
}

pub async fn reset_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> PageResult<Response> {
    if !accounts::reset_link_is_valid(&state.services, &token).await? {
        return Err(AppError::NotFound(
            "This reset link has expired or was already used. Ask for a new one.".into(),
        )
        .into());
    }
    Ok(render(&ResetPage {
        layout: Layout::load(&state, &visitor, "Choose a new password", "account").await?,
        token,
        error: None,
    }))
}

#[derive(serde::Deserialize)]
pub struct ResetForm {
    password: String,
}

pub async fn reset(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Path(token): Path<String>,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> PageResult<Response> {
    match accounts::reset_password(&state.services, &token, &form.password).await {
        Ok(()) => Ok(redirect_with(jar, "/signin", Flash::PasswordReset)),
        Err(error) => {
            let refusal = Refusal::of(error)?;
            let page = ResetPage {
                layout: Layout::load(&state, &visitor, "Choose a new password", "account").await?,
                token,
                error: refusal.summary(),
            };
            Ok(render_with_status(refusal.status, &page))
        }
    }
}
