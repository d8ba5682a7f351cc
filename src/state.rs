//! The state the request handlers share, below the HTML pages and the API (which read it)
//! and above the use cases (which it holds).

use std::sync::Arc;

pub use crate::ops::lifecycle::Lifecycle;
use crate::services::Services;

/// Settings the handlers read while serving.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub instance_id: String,
    pub public_url: String,
    pub behind_proxy: bool,
    /// Base URL of a CDN serving the static files, or empty to serve them ourselves.
    pub asset_base_url: String,
    /// Strict-Transport-Security max-age for HTTPS requests (0: none).
    pub hsts_max_age_secs: u64,
    /// Products on one page of the shop list.
    pub shop_page_size: usize,
    /// Products a product page suggests from its category.
    pub related_products: usize,
}

impl RuntimeConfig {
    /// Whether the client reached us over HTTPS: TLS ends at the load balancer, which says
    /// so in X-Forwarded-Proto.
    pub fn is_https(&self, headers: &axum::http::HeaderMap) -> bool {
        self.behind_proxy
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
    }
}

/// What every handler shares: the use cases, the settings the front doors serve with, and
/// where the instance is in its life.
/// Cloned for every request by each layer that needs it: three reference counts, not a
/// copy of every service's handle.
#[derive(Clone)]
pub struct AppState {
    pub services: Arc<Services>,
    pub config: Arc<RuntimeConfig>,
    pub lifecycle: Arc<Lifecycle>,
}
