//! The HTML side of the shop: server-rendered pages that work without JavaScript.

pub mod account;
pub mod admin;
pub mod cart;
pub mod charts;
pub mod csp;
pub mod forms;
pub mod media;
pub mod orders;
pub mod pages;
pub mod pay;
pub mod profile;
pub mod radar_map;
pub mod seo;
pub mod shop;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;

use crate::auth::{self, Browsing, CsrfToken, Visitor};
use crate::db::users::UserRow;
use crate::error::AppError;
use crate::events::{Event, EventKind};
use crate::services::accounts;
use crate::state::AppState;

pub use crate::flash::{FLASH_COOKIE, Flash};
pub use forms::{CsrfForm, Refusal};

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/radar", get(pages::radar))
        .route("/shop", get(shop::list))
        .route("/shop/{slug}", get(shop::product))
        .route("/cart", get(cart::show))
        .route("/cart/items", post(cart::add))
        .route("/cart/items/{variant_id}", post(cart::update))
        .route("/cart/items/{variant_id}/remove", post(cart::remove))
        .route("/checkout", get(cart::checkout_form).post(cart::checkout))
        .route("/orders", get(orders::list))
        .route("/orders/{code}", get(orders::show))
        .route(
            "/orders/{code}/cancel",
            get(orders::confirm_cancel).post(orders::cancel),
        )
        .route("/orders/{code}/again", post(orders::buy_again))
        .route("/orders/{code}/pay", get(pay::show).post(pay::pay))
        .route("/orders/{code}/payment/check", post(pay::check))
        .route(
            "/register",
            get(account::register_form).post(account::register),
        )
        .route("/signin", get(account::sign_in_form).post(account::sign_in))
        .route("/signout", post(account::sign_out))
        .route(
            "/password/forgot",
            get(account::forgot_form).post(account::forgot),
        )
        .route(
            "/password/reset/{token}",
            get(account::reset_form).post(account::reset),
        )
        .route("/profile", get(profile::show).post(profile::update))
        .route("/profile/password", post(profile::change_password))
        .route(
            "/profile/photo",
            post(profile::upload_photo).layer(crate::app::upload_body_limit(&state)),
        )
        .route("/profile/delete", post(profile::delete))
        .merge(admin::router(state.clone()))
        .merge(info_pages())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state, page_middleware))
}

/// A route for each of the footer's pages.
fn info_pages() -> Router<AppState> {
    pages::INFO_PAGES
        .iter()
        .fold(Router::new(), |router, page| {
            router.route(
                page.path,
                get(
                    move |State(state): State<AppState>, Browsing(visitor): Browsing| {
                        pages::info(state, visitor, page)
                    },
                ),
            )
        })
}

async fn not_found() -> PageError {
    PageError(AppError::NotFound(
        "There is no page at this address.".into(),
    ))
}

// --- the layout every page shares ---

/// Which navigation entry is the current page.
pub type Nav = &'static str;

pub struct NavUser {
    pub username: String,
    pub first_name: String,
    pub is_admin: bool,
}

pub struct Layout {
    pub title: String,
    pub nav: Nav,
    pub user: Option<NavUser>,
    pub csrf: String,
    pub cart_count: i64,
    pub instance: String,
    /// Where static files come from: empty for this server, else a CDN's base URL.
    pub asset_base: String,
    pub flash: Option<Flash>,
    /// The shop's own address (the `--public-url`), for absolute links in the page's head.
    pub public_url: String,
    /// The page's one address for search engines and link previews; empty on error pages.
    pub canonical: String,
    /// The path of the page, without its query; empty on error pages.
    pub path: String,
    /// What the header's search box holds: the search shown on the shop list.
    pub search: String,
    /// The page to come back to after signing in or registering from this one.
    pub come_back_to: Option<String>,
    /// The visitor's session could not be read (the database is away): the header says so
    /// instead of offering to sign in.
    pub account_unreachable: bool,
}

impl Layout {
    /// The layout for `visitor`, counted as a page view. No query of its own: the cart
    /// badge came with the visitor's session.
    pub async fn load(
        state: &AppState,
        visitor: &Visitor,
        title: impl Into<String>,
        nav: Nav,
    ) -> Result<Self, AppError> {
        let layout = Self::for_visitor(state, visitor, title, nav);
        state.services.record(
            Event::new(EventKind::PageView)
                .area(nav)
                .user(visitor.user().map(|u| u.id)),
        );
        Ok(layout)
    }

    /// The layout for `visitor` (their name, their cart badge), not counted as a view.
    fn for_visitor(
        state: &AppState,
        visitor: &Visitor,
        title: impl Into<String>,
        nav: Nav,
    ) -> Self {
        let mut layout = Self::anonymous(state, title, nav);
        layout.user = visitor.user().map(|u| NavUser {
            username: u.username.clone(),
            first_name: u.first_name.clone(),
            is_admin: u.is_admin(),
        });
        layout.come_back_to = visitor.page.as_deref().and_then(come_back_to);
        layout.csrf = visitor.csrf.0.clone();
        layout.cart_count = visitor.session.as_ref().map_or(0, |s| s.cart_count);
        layout.flash = visitor.flash;
        layout.canonical = layout.absolute(&visitor.path);
        layout.path = visitor.path.clone();
        layout.account_unreachable = visitor.account_unreachable;
        layout
    }

    /// The layout without any database access, for error pages.
    pub fn anonymous(state: &AppState, title: impl Into<String>, nav: Nav) -> Self {
        Self {
            title: title.into(),
            nav,
            user: None,
            csrf: String::new(),
            cart_count: 0,
            instance: state.config.instance_id.clone(),
            asset_base: state.config.asset_base_url.clone(),
            flash: None,
            public_url: state.config.public_url.clone(),
            canonical: String::new(),
            path: String::new(),
            search: String::new(),
            come_back_to: None,
            account_unreachable: false,
        }
    }
}

impl Layout {
    /// The query for the sign-in and register links: `?next=…` to come back to this page,
    /// or nothing.
    pub fn next_query(&self) -> String {
        self.come_back_to
            .as_deref()
            .map_or_else(String::new, |page| {
                let page: String = url::form_urlencoded::byte_serialize(page.as_bytes()).collect();
                format!("?next={page}")
            })
    }

    /// The URL of a static file, e.g. `asset("app.css")`.
    pub fn asset(&self, name: &str) -> String {
        format!("{}{}", self.asset_base, crate::assets::path(name))
    }

    /// `url` as an absolute address: a path of this shop gets the shop's public address.
    pub fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') && !url.starts_with("//") {
            format!("{}{url}", self.public_url)
        } else {
            url.to_owned()
        }
    }

    /// Whether this page is `section` or one of the pages under it (`/admin/orders/AB12CD`
    /// is in `/admin/orders`), for marking the current entry of a navigation.
    pub fn is_in(&self, section: &str) -> bool {
        self.path
            .strip_prefix(section)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// The page's title in the browser tab: the page's own, then the shop's name, which
    /// the home page's title already is.
    pub fn full_title(&self) -> String {
        if self.title.contains(SHOP_NAME) {
            self.title.clone()
        } else {
            format!("{} · {SHOP_NAME}", self.title)
        }
    }
}

/// The shop's name, as titles and link previews show it.
pub const SHOP_NAME: &str = "Coffee Radar";

/// Renders a template as an HTML response.
pub fn render(template: &impl Template) -> Response {
    render_with_status(StatusCode::OK, template)
}

pub fn render_with_status(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => PageError(AppError::from(error)).into_response(),
    }
}

/// Redirects (303, so the browser follows with GET) and shows `flash` on the next page.
pub fn redirect_with(jar: CookieJar, to: &str, flash: Flash) -> Response {
    let cookie = axum_extra::extract::cookie::Cookie::build((FLASH_COOKIE, flash.code()))
        .path("/")
        .http_only(true)
        .same_site(axum_extra::extract::cookie::SameSite::Lax)
        .build();
    (jar.add(cookie), Redirect::to(to)).into_response()
}

// --- errors as pages ---

/// An error answered with an HTML page; the page itself is drawn by [`page_middleware`],
/// which knows the layout.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

#[derive(Clone)]
struct ErrorMessage(String);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.0.log();
        let mut response = self.0.status().into_response();
        if matches!(self.0, AppError::Unavailable(_)) {
            // As the API says it: try again in a moment (kept by page_middleware).
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        response
            .extensions_mut()
            .insert(ErrorMessage(self.0.public_message()));
        response
    }
}

pub type PageResult<T = Response> = Result<T, PageError>;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    message: String,
    back: String,
}

/// The shop's error page, for errors answered outside any page handler too (e.g. a form
/// refused as cross-site before it reaches the routes). It has the header of a visitor
/// who is not signed in: see [`error_page_for`] for one who may be.
pub fn error_page(state: &AppState, status: StatusCode, message: String, back: String) -> Response {
    let layout = Layout::anonymous(state, status_title(status), "");
    render_error_page(layout, status, message, back)
}

/// The error page with the header of the visitor who sent `request`: their name and
/// cart badge, so that a refused request does not look like being signed out.
///
/// Only for the visitor's own mistakes (4xx, but for "too many requests"): when the shop
/// is failing or overloaded, the page is drawn without asking the database anything.
async fn error_page_for(
    state: &AppState,
    request: &mut axum::http::request::Parts,
    status: StatusCode,
    message: String,
    back: String,
) -> Response {
    let title = status_title(status);
    let knows_visitor = status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS;
    let layout = if knows_visitor {
        match Visitor::from_request_parts(request, state).await {
            Ok(visitor) => Some(Layout::for_visitor(state, &visitor, title, "")),
            Err(_) => None,
        }
    } else {
        None
    };
    let mut layout = layout.unwrap_or_else(|| Layout::anonymous(state, title, ""));
    // A one-time message waits for a page that worked, and signing in from here goes on
    // from the shop rather than back to the error.
    layout.flash = None;
    layout.come_back_to = None;
    render_error_page(layout, status, message, back)
}

fn status_title(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

fn render_error_page(
    layout: Layout,
    status: StatusCode,
    message: String,
    back: String,
) -> Response {
    let page = ErrorPage {
        layout,
        status: status.as_u16(),
        message,
        back,
    };
    render_with_status(status, &page)
}

/// Around every HTML route: makes sure the browser has a CSRF token, spends a shown flash
/// message, and draws error pages for error responses that have no body of their own.
async fn page_middleware(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let jar = CookieJar::from_headers(request.headers());
    let existing = CsrfToken::from_jar(&jar);
    let token = existing
        .clone()
        .unwrap_or_else(|| CsrfToken(crate::domain::token::new_token()));
    let secure = state.config.is_https(request.headers());
    let had_flash = jar.get(FLASH_COOKIE).is_some();
    let came_from = CameFrom::of(request.headers());
    request.extensions_mut().insert(token.clone());
    request.extensions_mut().insert(Flash::from_jar(&jar));
    let asked = Asked::of(&request);

    let mut response = next.run(request).await;

    let status = response.status();
    if (status.is_client_error() || status.is_server_error()) && !is_html(&response) {
        let message = response
            .extensions()
            .get::<ErrorMessage>()
            .map(|m| m.0.clone())
            .unwrap_or_else(|| default_message(status).to_owned());
        let headers = response.headers().clone();
        response = error_page_for(
            &state,
            &mut asked.parts(token.clone()),
            status,
            message,
            came_from.back_link(),
        )
        .await;
        for name in [header::RETRY_AFTER, header::SET_COOKIE] {
            for value in headers.get_all(&name) {
                response.headers_mut().append(name.clone(), value.clone());
            }
        }
    }
    let mut jar = CookieJar::new();
    if existing.is_none() {
        jar = jar.add(auth::csrf_cookie(token.0, secure));
    }
    if had_flash && status.is_success() {
        jar = jar.add(auth::removal_cookie(FLASH_COOKIE));
    }
    for cookie in jar.iter() {
        if let Ok(value) = HeaderValue::from_str(&cookie.encoded().to_string()) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// What an error page needs of the request to know its visitor again: the method, the
/// address, the headers a visitor is known by and the peer's address. Kept for every page
/// (reference counts, no copy of the whole request), made into a request only for an
/// error page.
struct Asked {
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: Vec<(header::HeaderName, HeaderValue)>,
    peer: Option<axum::extract::ConnectInfo<std::net::SocketAddr>>,
}

impl Asked {
    fn of(request: &Request) -> Self {
        let known_by = [
            header::COOKIE,
            header::HeaderName::from_static("x-forwarded-for"),
            header::HeaderName::from_static("x-forwarded-proto"),
        ];
        let mut headers = Vec::new();
        for name in known_by {
            for value in request.headers().get_all(&name) {
                headers.push((name.clone(), value.clone()));
            }
        }
        Self {
            method: request.method().clone(),
            uri: request.uri().clone(),
            headers,
            peer: request.extensions().get().cloned(),
        }
    }

    /// The request again, with the CSRF token the page middleware gave it.
    fn parts(self, token: CsrfToken) -> axum::http::request::Parts {
        let mut request = Request::new(());
        *request.method_mut() = self.method;
        *request.uri_mut() = self.uri;
        request.headers_mut().extend(self.headers);
        if let Some(peer) = self.peer {
            request.extensions_mut().insert(peer);
        }
        request.extensions_mut().insert(token);
        request.into_parts().0
    }
}

fn is_html(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

/// What an error page says when the error brought no message of its own.
pub fn default_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "The request could not be understood. Go back and check the form.",
        403 => {
            "This form could not be accepted: it came from another site or has expired. Go back, reload the page and try again."
        }
        404 => "There is nothing here.",
        405 => "That action is not possible at this address.",
        408 | 503 => {
            "The shop is busy or one of its services is down. Please try again in a moment."
        }
        413 => "That upload is too large.",
        415 => "That kind of upload is not accepted here.",
        422 => "Some of what you entered could not be accepted.",
        429 => "Too many attempts. Please wait a little and try again.",
        _ => "Something went wrong on our side. Please try again.",
    }
}

// --- who may see a page ---

/// A signed-in shopper; others are sent to the sign-in page and brought back afterwards.
pub struct SignedIn {
    pub user: UserRow,
    pub visitor: Visitor,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state)
            .await
            .map_err(|e| PageError(e).into_response())?;
        match visitor.user().cloned() {
            Some(user) => Ok(Self { user, visitor }),
            None => Err(to_sign_in(parts)),
        }
    }
}

/// Off to the sign-in page, and back to this page afterwards when it was a GET.
pub fn to_sign_in(parts: &axum::http::request::Parts) -> Response {
    let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let target = if parts.method == axum::http::Method::GET {
        format!(
            "/signin?next={}",
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        )
    } else {
        "/signin".to_owned()
    };
    Redirect::to(&target).into_response()
}

/// A staff member; signed-in shoppers get 403, others the sign-in page.
pub struct Staff(pub SignedIn);

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        accounts::require_staff(&signed_in.user).map_err(|e| PageError(e).into_response())?;
        Ok(Self(signed_in))
    }
}

/// The page a visitor looking at `page` comes back to after signing in: that page, unless
/// it is one of the account pages themselves.
fn come_back_to(page: &str) -> Option<String> {
    let account_page = ["/signin", "/register", "/password/"]
        .iter()
        .any(|prefix| page.starts_with(prefix));
    if account_page {
        None
    } else {
        local_target(page)
    }
}

/// Where to go after signing in: a page of this shop, never another site; the shop itself
/// when `next` is missing or refused (see [`local_target`]).
pub fn safe_next(next: Option<&str>) -> String {
    next.and_then(local_target)
        .unwrap_or_else(|| "/shop".to_owned())
}

/// `target` as a path on this site, or `None` when a browser could take it elsewhere.
///
/// The target is resolved as a browser would resolve it (dot segments removed, the result
/// percent-encoded) against a placeholder origin. Control characters (a browser silently
/// drops tabs and newlines, turning `/\t/evil.example` into `//evil.example`) and
/// backslashes (read as slashes) are refused outright; so is anything that leaves the
/// origin, or whose path starts with `//` (another host to a browser).
pub fn local_target(target: &str) -> Option<String> {
    if !target.starts_with('/') || target.chars().any(|c| c.is_control() || c == '\\') {
        return None;
    }
    if is_plain(target) {
        return Some(target.to_owned());
    }
    resolved(target)
}

/// `target` resolved as a browser would, against a placeholder origin; `None` when it
/// leaves that origin.
fn resolved(target: &str) -> Option<String> {
    let base = url::Url::parse("http://shop.invalid/").ok()?;
    let resolved = base.join(target).ok()?;
    if resolved.origin() != base.origin() || resolved.path().starts_with("//") {
        return None;
    }
    Some(match resolved.query() {
        Some(query) => format!("{}?{query}", resolved.path()),
        None => resolved.path().to_owned(),
    })
}

/// Whether `target` (which starts with `/`) is a path and query that a browser resolves to
/// itself: letters, digits, `-`, `_`, `/`, `?`, `=` and `&` only (no dot segment, nothing
/// to percent-encode), and not starting with `//`. Nearly every page's address is, and
/// needs no parsing.
fn is_plain(target: &str) -> bool {
    !target.starts_with("//")
        && target
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_/?=&".contains(&b))
}

/// What a "Go back" link needs of a request: its Host and Referer headers, kept (a
/// reference count each) so that the link is worked out only for the page that shows it.
pub struct CameFrom {
    host: Option<HeaderValue>,
    referer: Option<HeaderValue>,
}

impl CameFrom {
    pub fn of(headers: &axum::http::HeaderMap) -> Self {
        Self {
            host: headers.get(header::HOST).cloned(),
            referer: headers.get(header::REFERER).cloned(),
        }
    }

    /// The page a "Go back" link returns to: the referring page when it is one of ours.
    pub fn back_link(&self) -> String {
        let host = self.host.as_ref().and_then(|h| h.to_str().ok());
        let referer = self
            .referer
            .as_ref()
            .and_then(|r| r.to_str().ok())
            .and_then(|r| url::Url::parse(r).ok());
        let same_site = |referer: &url::Url| {
            let authority = match (referer.host_str(), referer.port()) {
                (Some(h), Some(port)) => format!("{h}:{port}"),
                (Some(h), None) => h.to_owned(),
                (None, _) => return false,
            };
            host.is_some_and(|host| authority.eq_ignore_ascii_case(host))
        };
        referer
            .filter(same_site)
            .and_then(|r| local_target(&r[url::Position::BeforePath..url::Position::AfterQuery]))
            .unwrap_or_else(|| "/".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_address_is_what_a_browser_resolves_it_to() {
        for plain in [
            "/",
            "/shop",
            "/shop/coffee-radar-mug",
            "/shop?q=mug&sort=price_asc",
            "/a//b",
            "/orders/AB12?",
        ] {
            assert!(is_plain(plain), "{plain}");
            assert_eq!(resolved(plain).as_deref(), Some(plain));
        }
        for other in [
            "//evil.example",
            "/a/../b",
            "/a b",
            "/%2e%2e/x",
            "/x#top",
            "/caf\u{e9}",
        ] {
            assert!(!is_plain(other), "{other}");
        }
        assert_eq!(local_target("//evil.example"), None);
    }
}
