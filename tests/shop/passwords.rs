//! Stored passwords: Argon2id with today's settings, and older hashes upgraded at sign-in.

use argon2::PasswordHasher;

use crate::common::{PASSWORD, TestApp};

/// What the shop's hashes look like today: Argon2id, 7 MiB, 5 passes.
const CURRENT_SETTINGS: &str = "$argon2id$v=19$m=7168,t=5,p=1$";

async fn stored_hash(app: &TestApp, username: &str) -> (i64, String) {
    let user = app
        .db
        .user_by_username(username)
        .await
        .unwrap()
        .expect("the user exists");
    (user.id, user.password_hash)
}

#[tokio::test]
async fn a_password_hashed_with_older_settings_still_signs_in_and_is_upgraded() {
    let app = TestApp::spawn().await;
    app.signed_in("olga").await;
    let (id, hash) = stored_hash(&app, "olga").await;
    assert!(hash.starts_with(CURRENT_SETTINGS), "registered: {hash}");

    // The crate's default settings (19 MiB, 2 passes), which earlier releases stored.
    let older = argon2::Argon2::default()
        .hash_password(PASSWORD.as_bytes())
        .unwrap()
        .to_string();
    assert!(older.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    app.db.set_password_hash(id, &older).await.unwrap();

    app.signed_in_again("olga").await;
    let (_, upgraded) = stored_hash(&app, "olga").await;
    assert!(
        upgraded.starts_with(CURRENT_SETTINGS),
        "signed in: {upgraded}"
    );
    app.signed_in_again("olga").await;
    assert_eq!(
        stored_hash(&app, "olga").await.1,
        upgraded,
        "a hash with today's settings is kept as it is"
    );
}
