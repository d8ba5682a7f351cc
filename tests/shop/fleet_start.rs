//! Several instances starting at once against one empty database migrate it once and load
//! the demo catalog once: each is ready as soon as it has started.

use crate::common::TestApp;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_instances_starting_together_share_one_migrated_database() {
    let fleet = TestApp::spawn_fleet(5).await;
    for app in &fleet {
        let ready = app.client().get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(
            ready.status(),
            StatusCode::OK,
            "an instance that waited for another's migrations is ready: {}",
            ready.text().await.unwrap()
        );
        let products: Value = app
            .client()
            .get(app.url("/api/v1/products"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            products.as_array().unwrap().len(),
            5,
            "the catalog is loaded once, not five times"
        );
    }
    let db = &fleet[0].db;
    let (migrations,): (i64,) = db
        .query_as("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .count();
    assert_eq!(migrations, files as i64, "each migration applied once");
    let (places,): (i64,) = db
        .query_as("SELECT COUNT(*) FROM places")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(places, 24);
    assert_eq!(fleet[0].count("products").await, 5);

    // A shopper registered through one instance signs in through another.
    let client = fleet[0].signed_in("roamer").await;
    let me = client.get(fleet[2].url("/api/v1/me")).send().await.unwrap();
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "sessions live in the database, not in one instance"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_signed_out_through_one_instance_fails_at_once_on_every_other() {
    let fleet = TestApp::spawn_fleet(3).await;
    let (first, second, third) = (&fleet[0], &fleet[1], &fleet[2]);
    let leaving = first.signed_in("leaver").await;
    let staying = first.signed_in_again("leaver").await;
    for app in &fleet {
        let me = leaving.get(app.url("/api/v1/me")).send().await.unwrap();
        assert_eq!(me.status(), StatusCode::OK, "signed in everywhere first");
    }

    let out = leaving
        .delete(second.url("/api/v1/sessions"))
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success(), "{}", out.status());
    for app in [first, third] {
        let me = leaving.get(app.url("/api/v1/me")).send().await.unwrap();
        assert_eq!(
            me.status(),
            StatusCode::UNAUTHORIZED,
            "the very next request through another instance is refused"
        );
        let profile = leaving.get(app.url("/profile")).send().await.unwrap();
        assert_eq!(
            profile.status(),
            StatusCode::SEE_OTHER,
            "pages too ask to sign in again"
        );
        let me = staying.get(app.url("/api/v1/me")).send().await.unwrap();
        assert_eq!(
            me.status(),
            StatusCode::OK,
            "the same shopper's other session lives on"
        );
    }
}
