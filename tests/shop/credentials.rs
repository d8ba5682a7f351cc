//! The database password rotating under a running instance (as RDS rotates its managed
//! secret): the app reads the password with DATABASE_PASSWORD_COMMAND, and reads it again
//! when a new connection is refused for it, without a restart and without failing the
//! request that met the refusal.
//!
//! Each test makes a database user of its own (never the shared `shop` user), so the
//! server's user must be allowed to create users: `scripts/databases.sh` grants it that.

use std::path::Path;

use crate::common::{TestApp, metric};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::{AnyConnection, AssertSqlSafe, Connection};

/// How the tests' password command answers.
#[derive(Clone, Copy)]
enum Answer {
    /// The password alone, on a line.
    PlainPassword,
    /// The RDS secret's JSON: `{"username": …, "password": …}`.
    SecretJson,
}

const REREADS: &str = "database_password_reads_total{outcome=\"ok\"}";

#[tokio::test]
#[ignore = "needs a MariaDB or PostgreSQL server (TEST_DATABASE_URL) whose user may create users"]
async fn a_rotated_password_is_read_again_when_new_connections_are_refused() {
    rotation_without_restart(Answer::PlainPassword).await;
}

#[tokio::test]
#[ignore = "needs a MariaDB or PostgreSQL server (TEST_DATABASE_URL) whose user may create users"]
async fn the_rds_secret_json_gives_user_and_password_and_is_read_again_after_rotation() {
    rotation_without_restart(Answer::SecretJson).await;
}

async fn rotation_without_restart(answer: Answer) {
    let admin_url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
    let user = OwnUser::create(&admin_url, "first-pw").await;
    let data_dir = tempfile::tempdir().unwrap();
    let password_file = data_dir.path().join("database-password");
    user.write_secret(&password_file, answer, "first-pw");
    // With the secret's JSON the URL names no user at all: the secret does.
    let url = match answer {
        Answer::PlainPassword => user.url_without_password(),
        Answer::SecretJson => user.url_without_user(),
    };
    let command = format!("cat '{}'", password_file.display());
    let app = TestApp::start(
        data_dir,
        url,
        &[
            "--database-password-command",
            &command,
            "--database-password-reread-min-interval-ms",
            "0",
            // Every catalog request reaches the database.
            "--catalog-cache-ms",
            "0",
        ],
    )
    .await;
    let shopper = app.signed_in("rotation").await;
    let cart = shopper.get(app.url("/api/v1/cart")).send().await.unwrap();
    assert_eq!(cart.status(), StatusCode::OK);
    let reads_before = metric(&app.client(), &app, REREADS).await;
    assert!(reads_before >= 1.0, "the password was read at start");

    // The server and the secret change; the connections already open keep working.
    user.change_password("second-pw").await;
    let products = app
        .client()
        .get(app.url("/api/v1/products"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        products.status(),
        StatusCode::OK,
        "open connections still serve"
    );
    user.write_secret(&password_file, answer, "second-pw");

    // Then the old connections go away: the next ones must use the new password.
    user.end_sessions().await;
    let cart = shopper.get(app.url("/api/v1/cart")).send().await.unwrap();
    assert_eq!(
        cart.status(),
        StatusCode::OK,
        "the request that met the refusal is served: {}",
        cart.text().await.unwrap()
    );
    let variant = app.variant_of("Coffee Radar Mug").await;
    let added = shopper
        .post(app.url("/api/v1/cart/items"))
        .json(&json!({"variant_id": variant, "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::CREATED, "writes go through too");
    let reads_after = metric(&app.client(), &app, REREADS).await;
    assert_eq!(
        reads_after,
        reads_before + 1.0,
        "the password was read once more, after the refusal"
    );

    drop(app);
    user.remove().await;
}

/// A database and a user of this test's own on the server of `admin_url`.
struct OwnUser {
    admin_url: String,
    postgres: bool,
    name: String,
}

impl OwnUser {
    async fn create(admin_url: &str, password: &str) -> Self {
        sqlx::any::install_default_drivers();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let user = Self {
            admin_url: admin_url.to_owned(),
            postgres: admin_url.starts_with("postgres"),
            name: format!("rotation_{:x}{:x}", nanos, std::process::id()),
        };
        let name = &user.name;
        let statements = if user.postgres {
            vec![
                format!("CREATE ROLE {name} LOGIN PASSWORD '{password}'"),
                format!("GRANT {name} TO CURRENT_USER"),
                format!("CREATE DATABASE {name} OWNER {name}"),
            ]
        } else {
            vec![
                format!("CREATE DATABASE {name}"),
                format!("CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'"),
                format!("GRANT ALL ON {name}.* TO '{name}'@'%'"),
            ]
        };
        user.admin(&statements).await;
        user
    }

    async fn admin(&self, statements: &[String]) {
        let mut conn = AnyConnection::connect(&self.admin_url)
            .await
            .expect("the test database server answers");
        for statement in statements {
            sqlx::raw_sql(AssertSqlSafe(statement.clone()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
    }

    /// The admin URL with this user and database, and no password.
    fn url_without_password(&self) -> String {
        let mut url = url::Url::parse(&self.admin_url).unwrap();
        url.set_username(&self.name).unwrap();
        url.set_password(None).unwrap();
        url.set_path(&self.name);
        url.to_string()
    }

    fn url_without_user(&self) -> String {
        let mut url = url::Url::parse(&self.url_without_password()).unwrap();
        url.set_username("").unwrap();
        url.to_string()
    }

    fn write_secret(&self, path: &Path, answer: Answer, password: &str) {
        let text = match answer {
            Answer::PlainPassword => format!("{password}\n"),
            Answer::SecretJson => json!({
                "username": self.name,
                "password": password,
                "engine": "mysql",
            })
            .to_string(),
        };
        std::fs::write(path, text).unwrap();
    }

    async fn change_password(&self, password: &str) {
        let name = &self.name;
        let statement = if self.postgres {
            format!("ALTER ROLE {name} PASSWORD '{password}'")
        } else {
            format!("ALTER USER '{name}'@'%' IDENTIFIED BY '{password}'")
        };
        self.admin(&[statement]).await;
    }

    /// Ends every session of the user on the server, as a failover or the pool's
    /// recycling of old connections would.
    async fn end_sessions(&self) {
        let mut conn = AnyConnection::connect(&self.admin_url).await.unwrap();
        if self.postgres {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity WHERE usename = '{}'",
                self.name
            )))
            .fetch_all(&mut conn)
            .await
            .unwrap();
            return;
        }
        let ids: Vec<(i64,)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT CAST(ID AS SIGNED) FROM information_schema.PROCESSLIST WHERE USER = '{}'",
            self.name
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert!(!ids.is_empty(), "the app had connections open");
        for (id,) in ids {
            // A session may have ended by itself in between.
            let _ = sqlx::raw_sql(AssertSqlSafe(format!("KILL CONNECTION {id}")))
                .execute(&mut conn)
                .await;
        }
    }

    async fn remove(self) {
        self.end_sessions().await;
        let name = &self.name;
        let statements = if self.postgres {
            vec![
                format!("DROP DATABASE IF EXISTS {name}"),
                format!("DROP ROLE IF EXISTS {name}"),
            ]
        } else {
            vec![
                format!("DROP DATABASE IF EXISTS {name}"),
                format!("DROP USER IF EXISTS '{name}'@'%'"),
            ]
        };
        self.admin(&statements).await;
    }
}
