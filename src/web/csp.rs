//! The Content-Security-Policy of every answer: scripts, styles and pictures come from this
//! server, and from the CDN that serves the static files when there is one; nothing else.
//! The pay page alone also lets in Stripe.js and the provider it talks to, and only when
//! the shop takes cards: a script of theirs runs nowhere else.

use axum::http::HeaderValue;

use crate::services::payments::CardForm;

/// The policy for a page; `card` for the one page that takes a card.
pub fn policy(asset_base_url: &str, card: Option<&CardForm>) -> HeaderValue {
    let assets = url::Url::parse(asset_base_url)
        .ok()
        .and_then(|url| origin(&url))
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    let mut scripts = assets.clone();
    let mut extra = String::new();
    if let Some(card) = card {
        let script = origin(&card.script).unwrap_or_default();
        let api = origin(&card.api).unwrap_or_default();
        scripts.push_str(&format!(" {script}"));
        // Stripe.js frames the card fields and 3-D Secure from its own hosts.
        let hooks = if card.script.host_str() == Some("js.stripe.com") {
            " https://hooks.stripe.com"
        } else {
            ""
        };
        extra = format!("; connect-src 'self' {api}; frame-src {script}{hooks}");
    }
    let policy = format!(
        "default-src 'self'; img-src 'self' data:{assets}; style-src 'self'{assets}; \
         script-src 'self'{scripts}; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'{extra}"
    );
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"))
}

fn origin(url: &url::Url) -> Option<String> {
    Some(url.origin().ascii_serialization()).filter(|o| o != "null")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(script: &str, api: &str) -> CardForm {
        CardForm {
            publishable_key: "pk_test".into(),
            script: script.parse().unwrap(),
            api: api.parse().unwrap(),
        }
    }

    #[test]
    fn pages_take_scripts_from_the_shop_and_its_cdn_only() {
        let plain = policy("", None);
        assert!(plain.to_str().unwrap().contains("script-src 'self'; "));
        assert!(!plain.to_str().unwrap().contains("connect-src"));
        let cdn = policy("https://d111.cloudfront.net/static", None);
        assert!(
            cdn.to_str()
                .unwrap()
                .contains("script-src 'self' https://d111.cloudfront.net;")
        );
    }

    #[test]
    fn the_pay_page_lets_in_stripe_js_its_api_and_its_frames() {
        let stripe = card("https://js.stripe.com/v3/", "https://api.stripe.com");
        let header = policy("", Some(&stripe));
        let text = header.to_str().unwrap();
        assert!(
            text.contains("script-src 'self' https://js.stripe.com;"),
            "{text}"
        );
        assert!(
            text.contains("connect-src 'self' https://api.stripe.com;"),
            "{text}"
        );
        assert!(
            text.ends_with("frame-src https://js.stripe.com https://hooks.stripe.com"),
            "{text}"
        );
        let local = card(
            "http://127.0.0.1:8420/js.stripe.com/v3/",
            "http://127.0.0.1:8420",
        );
        let text = policy("", Some(&local)).to_str().unwrap().to_owned();
        assert!(
            text.contains("script-src 'self' http://127.0.0.1:8420;"),
            "{text}"
        );
        assert!(!text.contains("hooks.stripe.com"), "{text}");
    }
}
