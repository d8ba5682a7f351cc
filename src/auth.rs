//! Who is asking: passwords, session tokens and cookies, and the extractors that load the
//! visitor's session once per request.

use std::net::{IpAddr, SocketAddr};

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

pub use crate::passwords::{hash_password, is_legacy_hash, verify_password};

pub const SESSION_COOKIE: &str = "cr_session";
pub const CSRF_COOKIE: &str = "cr_csrf";
/// How long a session lasts without signing in again.
pub const SESSION_DAYS: i64 = 30;

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
