//! Who is asking: passwords, session tokens and cookies, and the extractors that load the
//! visitor's session once per request.

use std::net::{IpAddr, SocketAddr};
use std::sync::LazyLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::db::cart::CartOwner;
use crate::db::sessions::SessionRow;
use crate::db::users::UserRow;
use crate::error::AppError;

pub const SESSION_COOKIE: &str = "cr_session";
pub const CSRF_COOKIE: &str = "cr_csrf";
/// How long a session lasts without signing in again.
pub const SESSION_DAYS: i64 = 30;

// --- passwords ---

/// Each Argon2id run takes 19 MiB: at most one per core runs at once, so a burst of
/// sign-ins queues instead of exhausting memory.
static HASHING: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// Hashes with Argon2id (the crate's default parameters) on a blocking thread.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing failed: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?
}

/// Checks a password against a stored hash on a blocking thread. A missing hash is checked
/// against a dummy one, so that unknown usernames take as long as wrong passwords.
/// Hashes imported from the Flask shop (werkzeug's PBKDF2) are checked too.
pub async fn verify_password(hash: Option<String>, password: String) -> Result<bool, AppError> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
        if is_legacy_hash(&hash) {
            return verify_werkzeug(&hash, &password);
        }
        Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))
}

/// A hash from the Flask shop, to be replaced by Argon2id at the next sign-in.
pub fn is_legacy_hash(hash: &str) -> bool {
    hash.starts_with("pbkdf2:")
}

/// werkzeug's `pbkdf2:sha256:ITERATIONS$SALT$HEX`: PBKDF2-HMAC-SHA256 over the salt's bytes.
fn verify_werkzeug(hash: &str, password: &str) -> bool {
    let mut parts = hash.splitn(3, '$');
    let (Some(method), Some(salt), Some(expected_hex)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some(iterations) = method
        .strip_prefix("pbkdf2:sha256:")
        .or_else(|| (method == "pbkdf2:sha256").then_some("260000"))
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=10_000_000).contains(n))
    else {
        return false;
    };
    let Ok(expected) = hex::decode(expected_hex) else {
        return false;
    };
    if expected.is_empty() || expected.len() > 64 {
        return false;
    }
    let mut derived = vec![0u8; expected.len()];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
        &mut derived,
    );
    bool::from(subtle::ConstantTimeEq::ct_eq(
        derived.as_slice(),
        expected.as_slice(),
    ))
}

/// The Argon2id hash of a random password nobody knows, made once per process.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    Argon2::default()
        .hash_password(new_token().as_bytes())
        .map(|hash| hash.to_string())
        .unwrap_or_default()
});

// --- tokens ---

/// A new random token for a cookie or a link (256 bits, URL-safe).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a token: its SHA-256.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn is_well_formed_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

// --- cookies ---

pub fn session_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(time::Duration::days(SESSION_DAYS))
        .build()
}

pub fn csrf_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((CSRF_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build()
}

pub fn removal_cookie(name: &'static str) -> Cookie<'static> {
    let mut cookie = Cookie::build((name, "")).path("/").build();
    cookie.make_removal();
    cookie
}

// --- the visitor ---

/// The CSRF token of this browser: set by the `csrf` middleware on HTML routes.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

impl CsrfToken {
    /// The token from the cookie, if it is one this shop could have made.
    pub fn from_jar(jar: &CookieJar) -> Option<Self> {
        jar.get(CSRF_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|t| is_well_formed_token(t))
            .map(Self)
    }
}

/// Whoever sent the request: their session (if any), the CSRF token their forms carry,
/// whether they came over HTTPS, and their address.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub session: Option<SessionRow>,
    pub csrf: CsrfToken,
    pub secure: bool,
    pub client_ip: Option<IpAddr>,
    /// The one-time message to show on this page, if any.
    pub flash: Option<crate::web::Flash>,
}

impl Visitor {
    pub fn user(&self) -> Option<&UserRow> {
        self.session.as_ref().and_then(|s| s.user.as_ref())
    }

    pub fn session_id(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.id.as_str())
    }

    /// Whose cart this visitor sees: the account's, or the guest session's.
    pub fn cart_owner(&self) -> Option<CartOwner> {
        match (&self.session, self.user()) {
            (_, Some(user)) => Some(CartOwner::User(user.id)),
            (Some(session), None) => Some(CartOwner::Guest(session.id.clone())),
            (None, None) => None,
        }
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(visitor) = parts.extensions.get::<Visitor>() {
            return Ok(visitor.clone());
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let session = match jar.get(SESSION_COOKIE).map(Cookie::value) {
            Some(token) if is_well_formed_token(token) => {
                state.db.session(&token_hash(token)).await?
            }
            _ => None,
        };
        let csrf = parts
            .extensions
            .get::<CsrfToken>()
            .cloned()
            .or_else(|| CsrfToken::from_jar(&jar))
            .unwrap_or_else(|| CsrfToken(new_token()));
        let visitor = Visitor {
            session,
            csrf,
            secure: state.config.is_https(&parts.headers),
            client_ip: client_ip(parts, state),
            flash: parts
                .extensions
                .get::<Option<crate::web::Flash>>()
                .copied()
                .flatten(),
        };
        parts.extensions.insert(visitor.clone());
        Ok(visitor)
    }
}

/// The client's address: the load balancer's X-Forwarded-For entry when behind one (the
/// last hop it appended, which a client cannot forge), else the TCP peer.
fn client_ip(parts: &Parts, state: &AppState) -> Option<IpAddr> {
    if state.config.behind_proxy
        && let Some(ip) = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|ip| ip.trim().parse().ok())
            .next_back()
    {
        return Some(ip);
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn werkzeug_pbkdf2_hashes_from_the_flask_shop_verify() {
        // What werkzeug stores for "coffee": hashlib.pbkdf2_hmac("sha256", b"coffee", b"salt1234", 1000).hex()
        let expected = "pbkdf2:sha256:1000$salt1234$b38c7b635db3b2bdc33b629d3eff914f991b3f5d46b6c9c0826a1a0870ffed40";
        assert!(is_legacy_hash(expected));
        assert!(verify_werkzeug(expected, "coffee"));
        assert!(!verify_werkzeug(expected, "tea"));
        assert!(!verify_werkzeug("pbkdf2:sha256:abc$salt$00", "coffee"));
        assert!(!verify_werkzeug("pbkdf2:sha256:1000$salt", "coffee"));
    }
}
