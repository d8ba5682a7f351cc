//! Static files published for a CDN, and pages that load them from it.

use crate::common::{TestApp, attr_of, document};
use bytes::Bytes;
use reqwest::StatusCode;

#[tokio::test]
async fn assets_publish_uploads_the_fingerprinted_files_the_pages_link_to() {
    let app = TestApp::spawn().await;
    let output = app.command().args(["assets", "publish"]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("Published 12 static files"));

    let home = app
        .client()
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let css_path = attr_of(&document(&home), "link[rel=stylesheet]", "href").unwrap();
    let served: Bytes = app
        .client()
        .get(app.url(&css_path))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let published = app
        .storage
        .get(css_path.trim_start_matches('/'))
        .await
        .unwrap();
    assert_eq!(
        published, served,
        "the bucket holds exactly what the page links to"
    );
}

#[tokio::test]
async fn with_an_asset_base_url_pages_load_static_files_from_the_cdn() {
    let app = TestApp::spawn_with(&["--asset-base-url", "https://cdn.example.com/"]).await;
    let response = app.client().get(app.url("/radar")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("style-src 'self' https://cdn.example.com"),
        "{csp}"
    );
    let page = document(&response.text().await.unwrap());
    let css = attr_of(&page, "link[rel=stylesheet]", "href").unwrap();
    assert!(
        css.starts_with("https://cdn.example.com/static/app."),
        "{css}"
    );
    let script = attr_of(&page, "script", "src").unwrap();
    assert!(
        script.starts_with("https://cdn.example.com/static/radar."),
        "{script}"
    );
    // The server still answers for the same paths, for the CDN's origin fetches.
    let path = css.trim_start_matches("https://cdn.example.com");
    let direct = app.client().get(app.url(path)).send().await.unwrap();
    assert_eq!(
        direct.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
}
