//! The shopper's profile: details, password, picture, and deleting the account.

use askama::Template;
use axum::extract::{Multipart, State};
use axum::response::Response;
use axum_extra::extract::CookieJar;

use super::forms::Upload;
use super::{
    CsrfForm, Flash, Layout, PageResult, Refusal, SignedIn, redirect_with, render,
    render_with_status,
};
use crate::assets::public_url;
use crate::auth::{self, CsrfToken, SESSION_COOKIE};
use crate::db::users::UserRow;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::services::accounts::{self, ProfileEdit};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    layout: Layout,
    user: UserRow,
    photo_url: Option<String>,
    /// The largest picture accepted, in MB, for the form's hint.
    max_upload_mb: usize,
    errors: FieldErrors,
    message: Option<String>,
}

async fn profile_page(
    state: &AppState,
    signed_in: &SignedIn,
    user: UserRow,
    errors: FieldErrors,
    message: Option<String>,
) -> Result<ProfilePage, AppError> {
    Ok(ProfilePage {
        layout: Layout::load(state, &signed_in.visitor, "Your profile", "profile").await?,
        photo_url: signed_in.user.photo_key.as_deref().map(public_url),
        max_upload_mb: state.services.pictures().max_upload_bytes() / 1024 / 1024,
        user,
        errors,
        message,
    })
}

pub async fn show(State(state): State<AppState>, signed_in: SignedIn) -> PageResult<Response> {
    let user = signed_in.user.clone();
    Ok(render(
        &profile_page(&state, &signed_in, user, FieldErrors::default(), None).await?,
    ))
}

/// Answers a failed profile form with the profile page and the problem on it.
async fn refused(
    state: &AppState,
    signed_in: &SignedIn,
    user: UserRow,
    error: AppError,
) -> PageResult<Response> {
    let refusal = Refusal::of(error)?;
    Ok(render_with_status(
        refusal.status,
        &profile_page(state, signed_in, user, refusal.errors, refusal.message).await?,
    ))
}

pub async fn update(
    State(state): State<AppState>,
    signed_in: SignedIn,
    jar: CookieJar,
    CsrfForm(edit): CsrfForm<ProfileEdit>,
) -> PageResult<Response> {
    let edit = ProfileEdit {
        address: Some(edit.address.unwrap_or_default()),
        ..edit
    };
    match accounts::update_profile(&state.services, &signed_in.user, &edit).await {
        Ok(_) => Ok(redirect_with(jar, "/profile", Flash::ProfileSaved)),
        Err(error) => {
            let typed = UserRow {
                first_name: edit.first_name.unwrap_or_default(),
                email: edit.email.unwrap_or_default(),
                address: edit.address,
                ..signed_in.user.clone()
            };
            refused(&state, &signed_in, typed, error).await
        }
    }
}

#[derive(serde::Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    signed_in: SignedIn,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> PageResult<Response> {
    let session_id = signed_in
        .visitor
        .session_id()
        .unwrap_or_default()
        .to_owned();
    match accounts::change_password(
        &state.services,
        &signed_in.user,
        &session_id,
        &form.current_password,
        &form.new_password,
    )
    .await
    {
        Ok(()) => Ok(redirect_with(jar, "/profile", Flash::PasswordChanged)),
        Err(error) => refused(&state, &signed_in, signed_in.user.clone(), error).await,
    }
}

pub async fn upload_photo(
    State(state): State<AppState>,
    signed_in: SignedIn,
    jar: CookieJar,
    multipart: Multipart,
) -> PageResult<Response> {
    let cookie = CsrfToken::from_jar(&jar);
    let upload = match Upload::read(
        multipart,
        cookie.as_ref(),
        "photo",
        state.services.pictures(),
    )
    .await
    {
        Ok(upload) => upload,
        Err(super::PageError(error @ AppError::Forbidden(_))) => return Err(error.into()),
        Err(super::PageError(error)) => {
            return refused(&state, &signed_in, signed_in.user.clone(), error).await;
        }
    };
    match accounts::set_photo(&state.services, &signed_in.user, upload.file).await {
        Ok(_) => Ok(redirect_with(jar, "/profile", Flash::PhotoUpdated)),
        Err(error) => refused(&state, &signed_in, signed_in.user.clone(), error).await,
    }
}

#[derive(serde::Deserialize)]
pub struct DeleteForm {
    password: String,
}

pub async fn delete(
    State(state): State<AppState>,
    signed_in: SignedIn,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<DeleteForm>,
) -> PageResult<Response> {
    match accounts::delete_account(&state.services, &signed_in.user, &form.password).await {
        Ok(()) => Ok(redirect_with(
            jar.add(auth::removal_cookie(SESSION_COOKIE)),
            "/",
            Flash::AccountDeleted,
        )),
        Err(error) => refused(&state, &signed_in, signed_in.user.clone(), error).await,
    }
}
