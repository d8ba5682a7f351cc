//! The headers every answer carries, set by one layer on the way out: which instance and
//! release answered, the security headers, `Cache-Control: no-store` unless the answer
//! chose its own caching, and Strict-Transport-Security over HTTPS.
//!
//! One plain layer, not one per header: the router clones its middleware for every
//! request, and each layer is a clone and a future more.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{HeaderName, HeaderValue, Request, Response, header};
use tower::{Layer, Service};

use crate::state::RuntimeConfig;

/// What [`ResponseHeaders`] writes, worked out once when the router is built.
struct Fixed {
    /// Set on every answer, replacing what a handler said.
    always: Vec<(HeaderName, HeaderValue)>,
    /// Set unless the answer has its own (the pay page's policy, a static file's caching).
    unless_present: Vec<(HeaderName, HeaderValue)>,
    /// Strict-Transport-Security, for requests that came over HTTPS; none when disabled.
    hsts: Option<HeaderValue>,
    config: Arc<RuntimeConfig>,
}

#[derive(Clone)]
pub struct ResponseHeaders {
    fixed: Arc<Fixed>,
}

impl ResponseHeaders {
    pub fn new(config: Arc<RuntimeConfig>) -> Self {
        let served_by = HeaderValue::from_str(&config.instance_id)
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        let always = vec![
            (HeaderName::from_static("x-served-by"), served_by),
            // Which release answered: during a rolling upgrade two serve side by side.
            (
                HeaderName::from_static("x-app-version"),
                HeaderValue::from_static(crate::RELEASE),
            ),
        ];
        // Pages and API answers carry the visitor's CSRF token, cart or personal data, so
        // no browser or proxy cache may keep them; static files and pictures say how long
        // they may be cached themselves.
        let unless_present = vec![
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                crate::web::csp::policy(&config.asset_base_url, None),
            ),
        ];
        let hsts = (config.hsts_max_age_secs > 0)
            .then(|| {
                HeaderValue::from_str(&format!(
                    "max-age={}; includeSubDomains",
                    config.hsts_max_age_secs
                ))
                .ok()
            })
            .flatten();
        Self {
            fixed: Arc::new(Fixed {
                always,
                unless_present,
                hsts,
                config,
            }),
        }
    }
}

impl<S> Layer<S> for ResponseHeaders {
    type Service = WithResponseHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithResponseHeaders {
            inner,
            fixed: self.fixed.clone(),
        }
    }
}

#[derive(Clone)]
pub struct WithResponseHeaders<S> {
    inner: S,
    fixed: Arc<Fixed>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for WithResponseHeaders<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = HeadersFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let https = self.fixed.config.is_https(request.headers());
        HeadersFuture {
            answer: self.inner.call(request),
            fixed: self.fixed.clone(),
            https,
        }
    }
}

pin_project_lite::pin_project! {
    pub struct HeadersFuture<F> {
        #[pin]
        answer: F,
        fixed: Arc<Fixed>,
        https: bool,
    }
}

impl<F, ResBody, E> Future for HeadersFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.answer.poll(cx))?;
        let headers = response.headers_mut();
        for (name, value) in &this.fixed.always {
            headers.insert(name.clone(), value.clone());
        }
        for (name, value) in &this.fixed.unless_present {
            if !headers.contains_key(name) {
                headers.insert(name.clone(), value.clone());
            }
        }
        if *this.https
            && let Some(hsts) = &this.fixed.hsts
        {
            headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
        Poll::Ready(Ok(response))
    }
}
