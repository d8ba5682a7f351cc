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
use crate::services::limits::{self, Account, Attempt};

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

/// Reset links expire after 30 minutes.
const RESET_LINK_MS: i64 = 30 * 60 * 1000;
/// The longest sign-in name worth looking up: an email address.
const MAX_LOGIN_CHARS: usize = 254;

/// Creates an account. Fields are checked first; then the client address's registration
/// counter is taken, before the password is hashed, and given back if the account could
/// not be made.
pub async fn register(
    state: &AppState,
    form: &Registration,
    client: Option<IpAddr>,
) -> AppResult<UserRow> {
    let mut errors = FieldErrors::default();
    let username = errors.check("username", Username::parse(&form.username));
    let email = errors.check("email", Email::parse(&form.email));
    let password = errors.check(
        "password",
        Password::parse(
            &form.password,
            &[&form.username, &form.email, &form.first_name],
        ),
    );
    let first_name = errors.check("first_name", FirstName::parse(&form.first_name));
    let address = errors.check("address", Address::parse_optional(form.address.as_deref()));
    let (Some(username), Some(email), Some(password), Some(first_name), Some(address)) =
        (username, email, password, first_name, address)
    else {
        return Err(AppError::Invalid(errors));
    };
    let attempt = Attempt::registration(&state.config.limits, client);
    attempt.take(&state.db).await?;
    let created = async {
        let password_hash = auth::hash_password(password.expose().to_owned()).await?;
        state
            .db
            .create_user(NewUser {
                username: &username,
                email: &email,
                password_hash: &password_hash,
                first_name: &first_name,
                address: address.as_ref(),
            })
            .await
    }
    .await;
    let id = match created {
        Ok(id) => id,
        Err(error) => {
            attempt.give_back(&state.db).await?;
            return Err(error);
        }
    };
    state
        .events
        .record(Event::new(EventKind::SignUp).user(Some(id)));
    state
        .db
        .user_by_id(id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("user {id} vanished after insert")))
}

/// Checks credentials: `login` is the username or the email. The attempt is counted
/// (per account and address, per address, per account; see [`crate::services::limits`])
/// before the password is hashed, and a refused attempt costs no hash at all. The answer
/// never tells whether the account exists.
pub async fn authenticate(
    state: &AppState,
    login: &str,
    password: &str,
    client: Option<IpAddr>,
) -> AppResult<UserRow> {
    let wrong = || AppError::Unauthorized("That username and password do not match.".into());
    let login = login.trim().to_lowercase();
    if login.chars().count() > MAX_LOGIN_CHARS || password.chars().count() > Password::MAX_CHARS {
        // Nothing that long was ever registered: no lookup, no hash, nothing stored.
        return Err(wrong());
    }
    let user = if let Ok(email) = Email::parse(&login) {
        state.db.user_by_email(email.as_str()).await?
    } else if let Ok(name) = Username::parse(&login) {
        state.db.user_by_username(name.as_str()).await?
    } else {
        None
    };
    let account = match &user {
        Some(user) => Account::Known(user.id),
        None => Account::Unknown(login),
    };
    let attempt = Attempt::sign_in(&state.config.limits, &account, client);
    attempt.take(&state.db).await?;
    // An unknown account is checked against a dummy hash: it takes as long as a known one.
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let matches = auth::verify_password(hash, password.to_owned()).await?;
    let Some(user) = user.filter(|_| matches) else {
        return Err(wrong());
    };
    // A success is not a failure: the hit goes back, and this address's failures for the
    // account are forgiven.
    attempt.give_back(&state.db).await?;
    limits::forgive_sign_in(&state.db, &account, client).await?;
    state
        .events
        .record(Event::new(EventKind::SignIn).user(Some(user.id)));
    if auth::is_legacy_hash(&user.password_hash) {
        // Imported from the Flask shop: upgrade to Argon2id now that we know the password.
        let upgraded = auth::hash_password(password.to_owned()).await?;
        state.db.set_password_hash(user.id, &upgraded).await?;
    }
    Ok(user)
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
    let lifetime_ms = state.config.guest_session_secs.saturating_mul(1000) as i64;
    state
        .db
        .create_session(&id, None, now_ms() + lifetime_ms)
        .await?;
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
    let new = Password::parse(new, &[&user.username, &user.email, &user.first_name])
        .map_err(|m| AppError::invalid("new_password", m))?;
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

/// Mails a single-use reset link if an account has this email; a new link replaces the
/// previous one. The caller always answers the same way, so nobody learns whether an
/// address is registered: requests beyond the account's mail limit send nothing, and the
/// mail goes out in the background (a slow mail server delays no answer).
pub async fn request_password_reset(
    state: &AppState,
    email: &str,
    client: Option<IpAddr>,
) -> AppResult<()> {
    Attempt::reset_request(&state.config.limits, client)
        .take(&state.db)
        .await?;
    let Ok(email) = Email::parse(email) else {
        return Ok(());
    };
    let Some(user) = state.db.user_by_email(email.as_str()).await? else {
        return Ok(());
    };
    if let Err(AppError::TooManyRequests(_)) = Attempt::reset_mail(&state.config.limits, user.id)
        .take(&state.db)
        .await
    {
        tracing::info!(
            user = user.id,
            "reset mail not sent: too many for this account"
        );
        return Ok(());
    }
    let token = auth::new_token();
    state
        .db
        .replace_password_reset(user.id, &auth::token_hash(&token), now_ms() + RESET_LINK_MS)
        .await?;
    let link = format!("{}/password/reset/{token}", state.config.public_url);
    let body = format!(
        "Hello {},\n\nSomeone (hopefully you) asked to reset the password of your Coffee Radar \
         account \"{}\".\n\nChoose a new password here (the link works once, for 30 minutes):\n\n{link}\n\n\
         If you did not ask for this, ignore this message: your password stays as it is.\n\n— Coffee Radar\n",
        user.first_name, user.username
    );
    let mailer = state.mailer.clone();
    tokio::spawn(async move {
        let sent = mailer
            .send(Mail {
                to: &user.email,
                subject: "Reset your Coffee Radar password".into(),
                body,
            })
            .await;
        match sent {
            Ok(()) => metrics::counter!("mails_sent_total", "kind" => "reset").increment(1),
            Err(error) => {
                metrics::counter!("mails_failed_total", "kind" => "reset").increment(1);
                tracing::warn!(error = %error, user = user.id, "could not send the reset mail");
            }
        }
    });
    Ok(())
}

pub async fn reset_link_is_valid(state: &AppState, token: &str) -> AppResult<bool> {
    Ok(state
        .db
        .valid_password_reset(&auth::token_hash(token))
        .await?
        .is_some())
}

/// Sets a new password from a reset link. The link is checked before anything is hashed;
/// a reset signs the account out everywhere and lifts its sign-in throttles.
pub async fn reset_password(state: &AppState, token: &str, new_password: &str) -> AppResult<()> {
    let spent = || {
        AppError::NotFound(
            "This reset link has expired or was already used. Ask for a new one.".into(),
        )
    };
    let token_hash = auth::token_hash(token);
    let Some(user_id) = state.db.valid_password_reset(&token_hash).await? else {
        return Err(spent());
    };
    let user = state.db.user_by_id(user_id).await?.ok_or_else(spent)?;
    let password = Password::parse(
        new_password,
        &[&user.username, &user.email, &user.first_name],
    )
    .map_err(|m| AppError::invalid("password", m))?;
    let hash = auth::hash_password(password.expose().to_owned()).await?;
    if state
        .db
        .consume_password_reset(&token_hash, &hash)
        .await?
        .is_none()
    {
        return Err(spent());
    }
    limits::lift_account(&state.db, user_id).await
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
