//! The application: it builds the shared state, and holds the router and the middleware
//! stack in one place.

mod headers;
mod probes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use backon::Retryable;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::csrf::CsrfLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;

use crate::config::{CommonSettings, ServeSettings};
use crate::db::{Db, PoolSettings};
use crate::domain::Cents;
use crate::domain::pricing::{Pricing, TaxPolicy};
use crate::events::EventSink;
use crate::mail::Mailer;
use crate::ops;
use crate::payments::{StripeClient, WebhookVerifier};
use crate::pictures::Pictures;
use crate::services::catalog::CatalogCache;
use crate::services::payments::Payments;
use crate::services::{ServiceSettings, Services};
use crate::state::{AppState, Lifecycle, RuntimeConfig};
use crate::storage::Storage;
use crate::{api, assets, catalog_seed, server, services, web};

/// A bound, ready-to-serve application. Tests and `main` start it the same way.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    drain_timeout: Duration,
    connections: crate::server::ConnectionSettings,
}

impl Application {
    pub async fn build(common: &CommonSettings, serve: &ServeSettings) -> anyhow::Result<Self> {
        ops::metrics::install();
        let db = Db::open(&common.database_url(), &PoolSettings::from_settings(common))?;
        let storage = Storage::open(common, serve.storage_url.as_deref())?;
        let lifecycle = Arc::new(Lifecycle::default());
        // An instance whose database is down still starts, answers /healthz and keeps
        // preparing the database in the background: the load balancer must not see a crash
        // loop, and the instance must come back by itself when the database does.
        if let Err(error) = prepare_database(&db, &storage, serve).await {
            tracing::warn!(error = %format!("{error:#}"), "database not ready at start; retrying in the background");
            tokio::spawn(keep_preparing_database(
                db.clone(),
                storage.clone(),
                serve.clone(),
                lifecycle.clone(),
            ));
        } else {
            lifecycle.mark_schema_ready();
        }
        let mailer = Mailer::new(&serve.mail, common.data_dir.join("outbox"))?;
        let listener = TcpListener::bind(serve.listen_addr).await?;
        let local = listener.local_addr()?;
        let public_url = serve
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{local}"))
            .trim_end_matches('/')
            .to_owned();
        let config = RuntimeConfig {
            instance_id: ops::instance::name(serve.instance_id.as_deref(), common).await,
            public_url: public_url.clone(),
            behind_proxy: serve.behind_proxy,
            asset_base_url: serve
                .asset_base_url
                .clone()
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_owned(),
            hsts_max_age_secs: serve.hsts_max_age_secs,
            shop_page_size: usize::from(serve.shop_page_size),
            related_products: usize::from(serve.related_products),
        };
        let payments = match serve.payments.stripe() {
            Some(stripe) => Some(Payments {
                client: StripeClient::new(&stripe)?,
                verifier: WebhookVerifier::new(&stripe),
                publishable_key: stripe.publishable_key.clone(),
                js_url: stripe.js_url.clone(),
                hold: serve.payments.payment_hold(),
            }),
            None => None,
        };
        crate::services::retention::spawn(
            db.clone(),
            serve.retention.clone(),
            serve.limits.clone(),
        );
        let services = Services::new(
            db.clone(),
            storage,
            mailer,
            EventSink::start(db),
            Pictures::new(&serve.pictures),
            CatalogCache::new(Duration::from_millis(serve.catalog_cache_ms)),
            ServiceSettings {
                public_url,
                limits: serve.limits.clone(),
                guest_session_secs: serve.retention.guest_session_secs,
                session_secs: serve.retention.session_secs,
                reset_link_secs: serve.retention.reset_link_secs,
                pricing: Pricing {
                    tax: TaxPolicy {
                        rate_bp: serve.checkout.tax_rate_bp,
                        prices_include_tax: serve.checkout.prices_include_tax,
                    },
                    free_delivery_from: (serve.checkout.free_delivery_from_cents > 0)
                        .then(|| Cents::new(serve.checkout.free_delivery_from_cents as i64)),
                },
            },
        )
        .with_payments(payments);
        crate::services::payments::spawn_reconciler(
            services.clone(),
            Duration::from_secs(serve.payments.payment_reconcile_secs),
        );
        let state = AppState {
            services: Arc::new(services),
            config: Arc::new(config),
            lifecycle,
        };
        let router = router(
            state.clone(),
            Duration::from_secs(serve.request_timeout_secs),
            serve.request_body_limit_bytes,
        );
        Ok(Self {
            listener,
            router,
            state,
            drain_timeout: Duration::from_secs(serve.drain_timeout_secs),
            connections: serve.connections.clone(),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM or Ctrl-C, then drains (see [`ops::shutdown`]).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let shutdown =
            ops::shutdown::drain_on_signal(self.state.lifecycle.clone(), self.drain_timeout);
        self.serve(shutdown).await
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (database, storage) = self.state.services.describe();
        tracing::info!(
            address = %self.listener.local_addr()?,
            instance = %self.state.config.instance_id,
            ?database,
            %storage,
            "serving"
        );
        let services = self.state.services.clone();
        server::serve(self.listener, self.router, &self.connections, shutdown).await;
        // Requests are done: what they recorded is written before the process exits.
        services.flush_events().await;
        Ok(())
    }
}

/// The body limit of the routes that take a picture: the largest accepted picture, plus
/// room for a multipart form's other fields.
pub fn upload_body_limit(state: &AppState) -> DefaultBodyLimit {
    DefaultBodyLimit::max(state.services.pictures().max_upload_bytes() + 64 * 1024)
}

/// Migrates (unless told not to) and loads the demo catalog into an empty shop.
async fn prepare_database(db: &Db, storage: &Storage, serve: &ServeSettings) -> anyhow::Result<()> {
    if !serve.skip_migrations {
        db.migrate().await?;
    }
    if !serve.no_demo_catalog
        && let Err(error) = catalog_seed::seed_if_empty(db, storage).await
    {
        // The shop works without its demo catalog; the next start tries again.
        tracing::warn!(error = %format!("{error:#}"), "demo catalog not loaded");
    }
    Ok(())
}

async fn keep_preparing_database(
    db: Db,
    storage: Storage,
    serve: ServeSettings,
    lifecycle: Arc<Lifecycle>,
) {
    const PAUSE: Duration = Duration::from_secs(2);
    tokio::time::sleep(PAUSE).await;
    let until_it_works = backon::ConstantBuilder::default()
        .with_delay(PAUSE)
        .without_max_times();
    let prepared = (|| prepare_database(&db, &storage, &serve))
        .retry(until_it_works)
        .notify(
            |error, _| tracing::warn!(error = %format!("{error:#}"), "database still not ready"),
        )
        .await;
    if prepared.is_ok() {
        tracing::info!("database ready");
        lifecycle.mark_schema_ready();
    }
}

/// Cross-site writes are refused by the browser's Sec-Fetch-Site, or by Origin against the
/// Host header; behind CloudFront the Host is the origin's name, so the public address is
/// trusted too. The refusal is explained by [`explain_bare_errors`].
fn csrf_layer(public_url: &str) -> CsrfLayer {
    let origin = url::Url::parse(public_url)
        .ok()
        .map(|u| u.origin().ascii_serialization());
    match origin.filter(|o| o != "null") {
        Some(origin) => CsrfLayer::new()
            .add_trusted_origin(&origin)
            .unwrap_or_else(|_| CsrfLayer::new()),
        None => CsrfLayer::new(),
    }
}

/// What every request runs inside, in one layer: it is counted (`ops::metrics::track`),
/// its database calls share one budget (a slow database costs each request at most
/// DATABASE_CALL_TIMEOUT_MS of waiting, however many calls it makes), and an answer built
/// from a catalog snapshot past its time to live (the database did not answer when it was
/// due to be reloaded) says how old it is, `X-Catalog-Stale: 42s`, and is counted.
async fn around_handlers(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let answer = async {
        let within_budget = state.services.within_database_budget(next.run(request));
        let (mut response, stale) = services::catalog::watch_staleness(within_budget).await;
        if let Some(age) = stale {
            metrics::counter!("catalog_stale_answers_total").increment(1);
            if let Ok(value) = HeaderValue::from_str(&format!("{}s", age.as_secs())) {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static("x-catalog-stale"), value);
            }
        }
        response
    };
    ops::metrics::track(&method, route.as_ref(), answer).await
}

/// Gives a body to the error answers that the layers below the handlers make without one:
/// a cross-site refusal (the CSRF layer), a request timeout, a caught panic. Under /api the
/// body is the API's JSON error, elsewhere the shop's error page; a 503 says when to retry.
async fn explain_bare_errors(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    use axum::http::StatusCode;
    let is_api = request.uri().path().starts_with("/api/");
    // Where the "Go back" link leads is worked out only for an answer that needs it.
    let came_from = web::CameFrom::of(request.headers());
    let response = next.run(request).await;
    let status = response.status();
    let bare = !response.headers().contains_key(header::CONTENT_TYPE);
    if !(bare && (status.is_client_error() || status.is_server_error())) {
        return response;
    }
    let cross_site = response
        .extensions()
        .get::<tower_http::csrf::ProtectionError>()
        .is_some();
    let message = match (cross_site, is_api) {
        (true, true) => "This request came from another site, so it was refused. Send it from \
            the shop's own pages (or without cross-site headers)."
            .to_owned(),
        (true, false) => "This form came from another site, so it was refused. Go back to the \
            shop, reload the page and try again."
            .to_owned(),
        (false, _) => web::default_message(status).to_owned(),
    };
    let mut explained = if is_api {
        (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
    } else {
        web::error_page(&state, status, message, came_from.back_link())
    };
    // What the layers below said (served by, security headers, cookies) still holds.
    let mut headers = response.headers().clone();
    headers.remove(header::CONTENT_LENGTH);
    headers.extend(explained.headers().clone());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    }
    *explained.headers_mut() = headers;
    explained
}

/// A panic in a handler is logged, and answered as a bare 500 that [`explain_bare_errors`]
/// gives a body.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %detail, "a handler panicked");
    axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// A request id: 128 random bits in hex, from the thread's own generator (a UUID from the
/// operating system's costs a system call per request).
#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bits = rand::random::<u128>();
        let mut id = [0u8; 32];
        for (i, digit) in id.iter_mut().enumerate() {
            *digit = HEX[((bits >> (124 - 4 * i)) & 0xf) as usize];
        }
        HeaderValue::from_bytes(&id).ok().map(RequestId::new)
    }
}

/// Every route and the middleware around them. Layers run top to bottom on the way in.
pub fn router(state: AppState, request_timeout: Duration, body_limit: usize) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let middleware = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(request_id.clone(), RandomRequestId))
        .layer(ops::logging::layer())
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            explain_bare_errors,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            around_handlers,
        ))
        .layer(headers::ResponseHeaders::new(state.config.clone()))
        // The fastest level: pages are small and drawn for each visitor, and at the
        // default level compressing one cost several times drawing it.
        .layer(CompressionLayer::new().quality(tower_http::CompressionLevel::Fastest))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            request_timeout,
        ))
        .layer(csrf_layer(&state.config.public_url))
        // Forms and JSON are small; the picture uploads raise this on their own routes
        // (see [`upload_body_limit`]).
        .layer(DefaultBodyLimit::max(body_limit));

    Router::new()
        .merge(web::router(state.clone()))
        .nest("/api", api::router(&state))
        .route(
            "/webhooks/stripe",
            axum::routing::post(api::handlers::stripe_webhook),
        )
        .route("/static/{*name}", get(assets::serve))
        .route("/media/{*key}", get(web::media::serve))
        .merge(probes::router())
        .layer(middleware)
        .with_state(state)
}
