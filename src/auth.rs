//! Who is asking, for the pages and the API alike: the cookies that carry a session and a
//! CSRF token, and the extractor that loads the visitor's session once per request.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use crate::db::cart::CartOwner;
use crate::db::sessions::SessionRow;
use crate::db::users::UserRow;
use crate::domain::token::{is_well_formed, new_token};
use crate::error::AppError;
use crate::flash::Flash;
use crate::services::accounts;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "cr_session";
pub const CSRF_COOKIE: &str = "cr_csrf";

// --- cookies ---

/// The session cookie, kept by the browser as long as the session lives on the server.
pub fn session_cookie(
    token: String,
    secure: bool,
    lifetime: std::time::Duration,
) -> Cookie<'static> {
    let max_age = time::Duration::try_from(lifetime).unwrap_or(time::Duration::days(30));
    Cookie::build((SESSION_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(max_age)
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

/// The cookie of a guest session made while adding to the cart, if one was made.
pub fn with_guest_session(
    state: &AppState,
    jar: CookieJar,
    token: Option<String>,
    secure: bool,
) -> CookieJar {
    let (_, guest) = accounts::session_lifetimes(&state.services);
    match token {
        Some(token) => jar.add(session_cookie(token, secure, guest)),
        None => jar,
    }
}

/// Starts `user`'s session for this visitor (see [`accounts::start_session`]) and sets its
/// cookies.
pub async fn sign_in(
    state: &AppState,
    visitor: &Visitor,
    user: &UserRow,
    jar: CookieJar,
) -> Result<CookieJar, AppError> {
    let token = accounts::start_session(&state.services, visitor.session_id(), user).await?;
    Ok(jar
        .add(session_cookie(
            token,
            visitor.secure,
            accounts::session_lifetimes(&state.services).0,
        ))
        .add(csrf_cookie(new_token(), visitor.secure)))
}

/// Ends the visitor's session and drops its cookie.
pub async fn sign_out(
    state: &AppState,
    visitor: &Visitor,
    jar: CookieJar,
) -> Result<CookieJar, AppError> {
    accounts::sign_out(&state.services, visitor.session_id()).await?;
    Ok(jar.add(removal_cookie(SESSION_COOKIE)))
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
            .filter(|t| is_well_formed(t))
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
    pub flash: Option<Flash>,
    /// The path of the page asked for (without the query), for its canonical address.
    pub path: String,
    /// The address (path and query) of the page asked for, when it was asked with GET: where
    /// signing in from this page comes back to.
    pub page: Option<String>,
    /// The visitor has a session that could not be read: the database is away (see
    /// [`Browsing`]). They are not signed out, only out of reach.
    pub account_unreachable: bool,
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
            Some(token) => accounts::session(&state.services, token).await?,
            None => None,
        };
        let visitor = Visitor::from_parts(parts, state, &jar, session);
        parts.extensions.insert(visitor.clone());
        Ok(visitor)
    }
}

/// The visitor of a page that can be shown without their account: the home page, the shop,
/// a product, the footer's pages. While the database is away these still answer (from the
/// catalog snapshot) for a shopper whose session cannot be read, saying that their account
/// is out of reach instead of failing the page or treating them as signed out; every other
/// page, and every write, still answers 503.
pub struct Browsing(pub Visitor);

impl FromRequestParts<AppState> for Browsing {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Visitor::from_request_parts(parts, state).await {
            Err(AppError::Unavailable(_)) => {
                let jar = CookieJar::from_headers(&parts.headers);
                let visitor = Visitor {
                    account_unreachable: true,
                    ..Visitor::from_parts(parts, state, &jar, None)
                };
                parts.extensions.insert(visitor.clone());
                Ok(Self(visitor))
            }
            visitor => visitor.map(Self),
        }
    }
}

impl Visitor {
    fn from_parts(
        parts: &Parts,
        state: &AppState,
        jar: &CookieJar,
        session: Option<SessionRow>,
    ) -> Self {
        let csrf = parts
            .extensions
            .get::<CsrfToken>()
            .cloned()
            .or_else(|| CsrfToken::from_jar(jar))
            .unwrap_or_else(|| CsrfToken(new_token()));
        Visitor {
            session,
            csrf,
            secure: state.config.is_https(&parts.headers),
            client_ip: client_ip(parts, state),
            flash: parts.extensions.get::<Option<Flash>>().copied().flatten(),
            path: parts.uri.path().to_owned(),
            page: (parts.method == axum::http::Method::GET)
                .then(|| parts.uri.path_and_query().map(|p| p.as_str().to_owned()))
                .flatten(),
            account_unreachable: false,
        }
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
