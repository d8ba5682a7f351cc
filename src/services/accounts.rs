//! Registering, signing in and out, changing and resetting passwords.

use std::net::IpAddr;

use axum_extra::extract::CookieJar;

use crate::app::AppState;
use crate::auth::{self, SESSION_COOKIE, Visitor};
use crate::db::cart::CartOwner;
use crate::db::now_ms;
use crate::db::users::{NewUser, UserRow};
use crate::domain::{Address, Email, FieldErrors, FirstName, Password, Username};
use crate::error::{AppError, AppResult};
use crate::events::{Event, EventKind};
use crate::mail::Mail;

/// What a registration form or request carries, before validation.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct Registration {
    pub username: String,
    pub email: String,
    pub password: String,
    pub first_name: String,
    #[serde(default)]
    pub address: Option<String>,
}

/// Failed sign-ins allowed per account, and per client address, in the window below.
const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
const MAX_FAILURES_PER_ADDRESS: i64 = 20;
const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Reset links expire after 30 minutes.
const RESET_LINK_MS: i64 = 30 * 60 * 1000;

pub async fn register(state: &AppState, form: &Registration) -> AppResult<UserRow> {
    let mut errors = FieldErrors::default();
    let username = errors.check("username", Username::parse(&form.username));
    let email = errors.check("email", Email::parse(&form.email));
    let password = errors.check("password", Password::parse(&form.password));
    let first_name = errors.check("first_name", FirstName::parse(&form.first_name));
    let address = errors.check("address", Address::parse_optional(form.address.as_deref()));
    let (Some(username), Some(email), Some(password), Some(first_name), Some(address)) =
        (username, email, password, first_name, address)
    else {
        return Err(AppError::Invalid(errors));
    };
    let password_hash = auth::hash_password(password.expose().to_owned()).await?;
    let id = state
        .db
        .create_user(NewUser {
            username: &username,
            email: &email,
            password_hash: &password_hash,
            first_name: &first_name,
            address: address.as_ref(),
        })
        .await?;
    state
        .events
        .record(Event::new(EventKind::SignUp).user(Some(id)));
    state
        .db
        .user_by_id(id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("user {id} vanished after insert")))
}

/// Checks credentials, with throttling per account and per client address shared by the
/// whole fleet. The answer never tells whether the username exists.
pub async fn authenticate(
    state: &AppState,
    username: &str,
    password: &str,
    client_ip: Option<IpAddr>,
) -> AppResult<UserRow> {
    let username = username.trim().to_lowercase();
    let account_key = format!("user:{username}");
    let address_key = client_ip.map(|ip| format!("ip:{ip}"));
    let since = now_ms() - FAILURE_WINDOW_MS;
    let too_many = AppError::TooManyRequests(
        "Too many failed sign-in attempts. Wait 15 minutes and try again, or reset your password."
            .into(),
    );
    if state
        .db
        .recent_sign_in_failures(&account_key, since)
        .await?
        >= MAX_FAILURES_PER_ACCOUNT
    {
        return Err(too_many);
    }
    if let Some(key) = &address_key
        && state.db.recent_sign_in_failures(key, since).await? >= MAX_FAILURES_PER_ADDRESS
    {
        return Err(too_many);
    }
    let user = match Username::parse(&username) {
        Ok(name) => state.db.user_by_username(name.as_str()).await?,
        Err(_) => None,
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    if auth::verify_password(hash, password.to_owned()).await?
        && let Some(user) = user
    {
        state.db.clear_sign_in_failures(&account_key).await?;
        state
            .events
            .record(Event::new(EventKind::SignIn).user(Some(user.id)));
        if auth::is_legacy_hash(&user.password_hash) {
            // Imported from the Flask shop: upgrade to Argon2id now that we know the password.
            let upgraded = auth::hash_password(password.to_owned()).await?;
            state.db.set_password_hash(user.id, &upgraded).await?;
        }
        return Ok(user);
    }
    let mut subjects = vec![account_key.as_str()];
    if let Some(key) = &address_key {
        subjects.push(key);
    }
    state.db.record_sign_in_failure(&subjects).await?;
    Err(AppError::Unauthorized(
        "That username and password do not match.".into(),
    ))
}

/// Starts a fresh session for `user` (a new id: the old one is never reused, so a planted
/// cookie is worthless), carries the guest cart over, and ends the guest session.
pub async fn start_session(
    state: &AppState,
    visitor: &Visitor,
    user: &UserRow,
    jar: CookieJar,
) -> AppResult<CookieJar> {
    let token = auth::new_token();
    let expires = now_ms() + auth::SESSION_DAYS * 24 * 3600 * 1000;
    state
        .db
        .create_session(&auth::token_hash(&token), Some(user.id), expires)
        .await?;
    if let Some(previous) = visitor.session_id() {
        state
            .db
            .merge_carts(
                &CartOwner::Guest(previous.to_owned()),
                &CartOwner::User(user.id),
            )
            .await?;
        state.db.delete_session(previous).await?;
    }
    Ok(jar
        .add(auth::session_cookie(token, visitor.secure))
        .add(auth::csrf_cookie(auth::new_token(), visitor.secure)))
}

/// A session for a guest, created when they first put something in the cart.
pub async fn start_guest_session(
    state: &AppState,
    visitor: &Visitor,
    jar: CookieJar,
) -> AppResult<(String, CookieJar)> {
    let token = auth::new_token();
    let id = auth::token_hash(&token);
    let expires = now_ms() + auth::SESSION_DAYS * 24 * 3600 * 1000;
    state.db.create_session(&id, None, expires).await?;
    Ok((id, jar.add(auth::session_cookie(token, visitor.secure))))
}

pub async fn sign_out(state: &AppState, visitor: &Visitor, jar: CookieJar) -> AppResult<CookieJar> {
    if let Some(id) = visitor.session_id() {
        state.db.delete_session(id).await?;
    }
    Ok(jar.add(auth::removal_cookie(SESSION_COOKIE)))
}

pub async fn change_password(
    state: &AppState,
    user: &UserRow,
    session_id: &str,
    current: &str,
    new: &str,
) -> AppResult<()> {
    let new = Password::parse(new).map_err(|m| AppError::invalid("new_password", m))?;
    if !auth::verify_password(Some(user.password_hash.clone()), current.to_owned()).await? {
        return Err(AppError::invalid(
            "current_password",
            "Your current password is not right.",
        ));
    }
    let hash = auth::hash_password(new.expose().to_owned()).await?;
    state.db.set_password_hash(user.id, &hash).await?;
    state.db.delete_other_sessions(user.id, session_id).await?;
    Ok(())
}

/// Mails a single-use reset link if an account has this email. The caller always answers
/// the same way, so nobody learns whether an address is registered.
pub async fn request_password_reset(state: &AppState, email: &str) -> AppResult<()> {
    let Ok(email) = Email::parse(email) else {
        return Ok(());
    };
    let Some(user) = state.db.user_by_email(email.as_str()).await? else {
        return Ok(());
    };
    let token = auth::new_token();
    state
        .db
        .create_password_reset(user.id, &auth::token_hash(&token), now_ms() + RESET_LINK_MS)
        .await?;
    let link = format!("{}/password/reset/{token}", state.config.public_url);
    let body = format!(
        "Hello {},\n\nSomeone (hopefully you) asked to reset the password of your Coffee Radar \
         account \"{}\".\n\nChoose a new password here (the link works once, for 30 minutes):\n\n{link}\n\n\
         If you did not ask for this, ignore this message: your password stays as it is.\n\n— Coffee Radar\n",
        user.first_name, user.username
    );
    state
        .mailer
        .send(Mail {
            to: &user.email,
            subject: "Reset your Coffee Radar password".into(),
            body,
        })
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "could not send the reset mail");
            AppError::Unavailable(
                "We could not send mail right now. Please try again in a few minutes.".into(),
            )
        })
}

pub async fn reset_link_is_valid(state: &AppState, token: &str) -> AppResult<bool> {
    Ok(state
        .db
        .valid_password_reset(&auth::token_hash(token))
        .await?
        .is_some())
}

pub async fn reset_password(state: &AppState, token: &str, new_password: &str) -> AppResult<()> {
    let password = Password::parse(new_password).map_err(|m| AppError::invalid("password", m))?;
    let hash = auth::hash_password(password.expose().to_owned()).await?;
    match state
        .db
        .consume_password_reset(&auth::token_hash(token), &hash)
        .await?
    {
        Some(_) => Ok(()),
        None => Err(AppError::NotFound(
            "This reset link has expired or was already used. Ask for a new one.".into(),
        )),
    }
}

/// Checks, shrinks and stores a new profile picture; returns its storage key.
pub async fn set_photo(
    state: &AppState,
    user: &UserRow,
    upload: bytes::Bytes,
) -> AppResult<String> {
    let picture = state.pictures.process_upload(upload).await?;
    let key = state
        .storage
        .put_content_addressed("photos", picture.ext, picture.bytes)
        .await?;
    state.db.set_photo(user.id, &key).await?;
    Ok(key)
}

/// What a profile edit carries, before validation.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct ProfileEdit {
    pub first_name: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
}

/// Applies the fields given (absent ones keep their value; an empty address clears it).
pub async fn update_profile(
    state: &AppState,
    user: &UserRow,
    edit: &ProfileEdit,
) -> AppResult<UserRow> {
    let mut errors = FieldErrors::default();
    let first_name = errors.check(
        "first_name",
        FirstName::parse(edit.first_name.as_deref().unwrap_or(&user.first_name)),
    );
    let email = errors.check(
        "email",
        Email::parse(edit.email.as_deref().unwrap_or(&user.email)),
    );
    let address = errors.check(
        "address",
        Address::parse_optional(edit.address.as_deref().or(user.address.as_deref())),
    );
    let (Some(first_name), Some(email), Some(address)) = (first_name, email, address) else {
        return Err(AppError::Invalid(errors));
    };
    state
        .db
        .update_profile(user.id, &first_name, &email, address.as_ref())
        .await?;
    state
        .db
        .user_by_id(user.id)
        .await?
        .ok_or_else(|| AppError::not_found("Your account"))
}

/// Deletes the account after checking its password.
pub async fn delete_account(state: &AppState, user: &UserRow, password: &str) -> AppResult<()> {
    if !auth::verify_password(Some(user.password_hash.clone()), password.to_owned()).await? {
        return Err(AppError::invalid("password", "That password is not right."));
    }
    state.db.delete_user(user.id).await
}
