//! Registering, signing in and out, changing and resetting passwords.

use std::net::IpAddr;
use std::time::Duration;

use super::Services;
use crate::db::cart::CartOwner;
use crate::db::now_ms;
use crate::db::sessions::SessionRow;
use crate::db::users::{NewUser, UserRow};
use crate::domain::token;
use crate::domain::{Address, Email, FieldErrors, FirstName, Password, Username};
use crate::error::{AppError, AppResult};
use crate::events::{Event, EventKind};
use crate::mail::Mail;
use crate::passwords;
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

/// The longest sign-in name worth looking up: an email address.
const MAX_LOGIN_CHARS: usize = 254;

/// Creates an account. Fields are checked first; then the client address's registration
/// counter is taken, before the password is hashed, and given back if the account could
/// not be made.
pub async fn register(
    services: &Services,
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
    let attempt = Attempt::registration(&services.settings.limits, client);
    attempt.take(&services.db).await?;
    let created = async {
        let password_hash = passwords::hash_password(password.expose().to_owned()).await?;
        services
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
            attempt.give_back(&services.db).await?;
            return Err(error);
        }
    };
    services
        .events
        .record(Event::new(EventKind::SignUp).user(Some(id)));
    let user =
        services.db.user_by_id(id).await?.ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("user {id} vanished after insert"))
        })?;
    super::notices::welcome(services, &user);
    Ok(user)
}

/// Checks credentials: `login` is the username or the email. The attempt is counted
/// (per account and address, per address, per account; see [`crate::services::limits`])
/// before the password is hashed, and a refused attempt costs no hash at all. The answer
/// never tells whether the account exists.
pub async fn authenticate(
    services: &Services,
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
        services.db.user_by_email(email.as_str()).await?
    } else if let Ok(name) = Username::parse(&login) {
        services.db.user_by_username(name.as_str()).await?
    } else {
        None
    };
    let account = match &user {
        Some(user) => Account::Known(user.id),
        None => Account::Unknown(login),
    };
    let attempt = Attempt::sign_in(&services.settings.limits, &account, client);
    attempt.take(&services.db).await?;
    // An unknown account is checked against a dummy hash: it takes as long as a known one.
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let matches = passwords::verify_password(hash, password.to_owned()).await?;
    let Some(user) = user.filter(|_| matches) else {
        return Err(wrong());
    };
    // A success is not a failure: the hit goes back, and this address's failures for the
    // account are forgiven.
    attempt.give_back(&services.db).await?;
    limits::forgive_sign_in(&services.db, &account, client).await?;
    services
        .events
        .record(Event::new(EventKind::SignIn).user(Some(user.id)));
    if passwords::needs_rehash(&user.password_hash) {
        // Imported from the Flask shop, or hashed with older settings: upgrade it now that
        // the password is known.
        let upgraded = passwords::hash_password(password.to_owned()).await?;
        services.db.set_password_hash(user.id, &upgraded).await?;
    }
    Ok(user)
}

/// How long a signed-in session and a guest's session last (RetentionSettings).
pub fn session_lifetimes(services: &Services) -> (Duration, Duration) {
    let settings = &services.settings;
    (
        Duration::from_secs(settings.session_secs),
        Duration::from_secs(settings.guest_session_secs),
    )
}

/// A lifetime as a mail says it: "30 minutes", "2 hours", "1 day".
fn lifetime_words(secs: u64) -> String {
    let (count, unit) = match secs {
        s if s % 86_400 == 0 => (s / 86_400, "day"),
        s if s % 3600 == 0 => (s / 3600, "hour"),
        s if s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {unit}{plural}")
}

fn millis(secs: u64) -> i64 {
    secs.saturating_mul(1000).min(i64::MAX as u64) as i64
}

/// The session a cookie's token opens, with its user, while it is valid. A token this shop
/// could not have made is not looked up.
pub async fn session(services: &Services, token: &str) -> AppResult<Option<SessionRow>> {
    if !token::is_well_formed(token) {
        return Ok(None);
    }
    services.db.session(&token::token_hash(token)).await
}

/// Starts a fresh session for `user` (a new id: the old one is never reused, so a planted
/// cookie is worthless), carries the guest cart of `previous` over, and ends that session.
/// Returns the new session's token, for the cookie.
pub async fn start_session(
    services: &Services,
    previous: Option<&str>,
    user: &UserRow,
) -> AppResult<String> {
    let token = token::new_token();
    let expires = now_ms() + millis(services.settings.session_secs);
    services
        .db
        .create_session(&token::token_hash(&token), Some(user.id), expires)
        .await?;
    if let Some(previous) = previous {
        services
            .db
            .merge_carts(
                &CartOwner::Guest(previous.to_owned()),
                &CartOwner::User(user.id),
            )
            .await?;
        services.db.delete_session(previous).await?;
    }
    Ok(token)
}

/// A guest's session, made when they first put something in the cart.
pub struct GuestSession {
    pub id: String,
    /// For the cookie.
    pub token: String,
}

pub async fn start_guest_session(services: &Services) -> AppResult<GuestSession> {
    let token = token::new_token();
    let id = token::token_hash(&token);
    let lifetime_ms = millis(services.settings.guest_session_secs);
    services
        .db
        .create_session(&id, None, now_ms() + lifetime_ms)
        .await?;
    Ok(GuestSession { id, token })
}

pub async fn sign_out(services: &Services, session_id: Option<&str>) -> AppResult<()> {
    if let Some(id) = session_id {
        services.db.delete_session(id).await?;
    }
    Ok(())
}

pub async fn change_password(
    services: &Services,
    user: &UserRow,
    session_id: &str,
    current: &str,
    new: &str,
) -> AppResult<()> {
    let new = Password::parse(new, &[&user.username, &user.email, &user.first_name])
        .map_err(|m| AppError::invalid("new_password", m))?;
    if !passwords::verify_password(Some(user.password_hash.clone()), current.to_owned()).await? {
        return Err(AppError::invalid(
            "current_password",
            "Your current password is not right.",
        ));
    }
    let hash = passwords::hash_password(new.expose().to_owned()).await?;
    services.db.set_password_hash(user.id, &hash).await?;
    services
        .db
        .delete_other_sessions(user.id, session_id)
        .await?;
    Ok(())
}

/// Mails a single-use reset link if an account has this email; a new link replaces the
/// previous one. The caller always answers the same way, so nobody learns whether an
/// address is registered: requests beyond the account's mail limit send nothing, and the
/// mail goes out in the background (a slow mail server delays no answer).
pub async fn request_password_reset(
    services: &Services,
    email: &str,
    client: Option<IpAddr>,
) -> AppResult<()> {
    Attempt::reset_request(&services.settings.limits, client)
        .take(&services.db)
        .await?;
    let Ok(email) = Email::parse(email) else {
        return Ok(());
    };
    let Some(user) = services.db.user_by_email(email.as_str()).await? else {
        return Ok(());
    };
    if let Err(AppError::TooManyRequests(_)) =
        Attempt::reset_mail(&services.settings.limits, user.id)
            .take(&services.db)
            .await
    {
        tracing::info!(
            user = user.id,
            "reset mail not sent: too many for this account"
        );
        return Ok(());
    }
    let token = token::new_token();
    services
        .db
        .replace_password_reset(
            user.id,
            &token::token_hash(&token),
            now_ms() + millis(services.settings.reset_link_secs),
        )
        .await?;
    let link = format!("{}/password/reset/{token}", services.settings.public_url);
    let works_for = lifetime_words(services.settings.reset_link_secs);
    let body = format!(
        "Hello {},\n\nSomeone (hopefully you) asked to reset the password of your Coffee Radar \
         account \"{}\".\n\nChoose a new password here (the link works once, for {works_for}):\n\n{link}\n\n\
         If you did not ask for this, ignore this message: your password stays as it is.\n\n— Coffee Radar\n",
        user.first_name, user.username
    );
    let mailer = services.mailer.clone();
    tokio::spawn(async move {
        let sent = mailer
            .send(Mail {
                to: &user.email,
                subject: "Reset your Coffee Radar password".into(),
                body,
                html: None,
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

pub async fn reset_link_is_valid(services: &Services, token: &str) -> AppResult<bool> {
    Ok(services
        .db
        .valid_password_reset(&token::token_hash(token))
        .await?
        .is_some())
}

/// Sets a new password from a reset link. The link is checked before anything is hashed;
/// a reset signs the account out everywhere and lifts its sign-in throttles.
pub async fn reset_password(services: &Services, token: &str, new_password: &str) -> AppResult<()> {
    let spent = || {
        AppError::NotFound(
            "This reset link has expired or was already used. Ask for a new one.".into(),
        )
    };
    let token_hash = token::token_hash(token);
    let Some(user_id) = services.db.valid_password_reset(&token_hash).await? else {
        return Err(spent());
    };
    let user = services.db.user_by_id(user_id).await?.ok_or_else(spent)?;
    let password = Password::parse(
        new_password,
        &[&user.username, &user.email, &user.first_name],
    )
    .map_err(|m| AppError::invalid("password", m))?;
    let hash = passwords::hash_password(password.expose().to_owned()).await?;
    if services
        .db
        .consume_password_reset(&token_hash, &hash)
        .await?
        .is_none()
    {
        return Err(spent());
    }
    limits::lift_account(&services.db, user_id).await
}

/// Checks, shrinks and stores a new profile picture; returns the updated account.
pub async fn set_photo(
    services: &Services,
    user: &UserRow,
    upload: bytes::Bytes,
) -> AppResult<UserRow> {
    let key = super::media::store_picture(services, "photos", upload).await?;
    services.db.set_photo(user.id, &key).await?;
    account(services, user.id).await
}

/// Staff only: anyone else is refused with 403 (a page, an API call or a report alike).
pub fn require_staff(user: &UserRow) -> AppResult<()> {
    if user.is_admin() {
        Ok(())
    } else {
        Err(AppError::Forbidden("This is for the shop's staff.".into()))
    }
}

/// The account with this id, as it is now.
pub async fn account(services: &Services, id: i64) -> AppResult<UserRow> {
    services
        .db
        .user_by_id(id)
        .await?
        .ok_or_else(|| AppError::not_found("Your account"))
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
    services: &Services,
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
    services
        .db
        .update_profile(user.id, &first_name, &email, address.as_ref())
        .await?;
    account(services, user.id).await
}

/// Deletes the account after checking its password.
pub async fn delete_account(services: &Services, user: &UserRow, password: &str) -> AppResult<()> {
    if !passwords::verify_password(Some(user.password_hash.clone()), password.to_owned()).await? {
        return Err(AppError::invalid("password", "That password is not right."));
    }
    services.db.delete_user(user.id).await
}

#[cfg(test)]
mod tests {
    use super::lifetime_words;

    #[test]
    fn a_lifetime_reads_in_its_largest_whole_unit() {
        assert_eq!(lifetime_words(1800), "30 minutes");
        assert_eq!(lifetime_words(3600), "1 hour");
        assert_eq!(lifetime_words(7200), "2 hours");
        assert_eq!(lifetime_words(86_400), "1 day");
        assert_eq!(lifetime_words(90), "90 seconds");
        assert_eq!(lifetime_words(1), "1 second");
    }
}
