//! Reading the Flask shop's MySQL database, as it was: `users_table` and `order_table`.

use std::time::Duration;

use anyhow::Context;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use super::Backend;

/// One row of `users_table`. Every column may be NULL or blank in an old database.
#[derive(Debug, sqlx::FromRow)]
pub struct FlaskUser {
    pub username: Option<String>,
    /// werkzeug's `pbkdf2:sha256:ITERATIONS$SALT$HEX`.
    pub password: Option<String>,
    pub firstname: Option<String>,
    pub email: Option<String>,
    /// A file name such as `LinkedIn_Pic.jpeg`.
    pub photo: Option<String>,
}

/// One row of `order_table`: one line of the order whose code is `order_code`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlaskOrderRow {
    pub row_id: i64,
    pub order_code: Option<String>,
    pub username: Option<String>,
    pub product: Option<String>,
    /// The unit price, which the Flask shop kept in whole dollars.
    pub price_cents: Option<i64>,
    pub quantity: Option<i64>,
    pub color: Option<String>,
    /// `200` meant 200 ml, `U` one size.
    pub size: Option<String>,
    /// `YYYY-MM-DD`.
    pub day: Option<String>,
}

pub struct FlaskSource {
    pool: AnyPool,
}

// The Any driver reads no DATE and no DECIMAL, so the queries hand those over as text and
// BIGINT; ROUND keeps the cents right even if a price column turns out not to be INT.
const USERS_SQL: &str =
    "SELECT username, password, firstname, email, photo FROM users_table ORDER BY username";
const ORDER_ROWS_SQL: &str = "SELECT CAST(id AS SIGNED) AS row_id, orderid AS order_code, username, product, \
     CAST(ROUND(price * 100) AS SIGNED) AS price_cents, CAST(qty AS SIGNED) AS quantity, \
     color, size, CAST(`date` AS CHAR) AS day \
     FROM order_table ORDER BY `date`, orderid, id";

impl FlaskSource {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        if Backend::from_url(url).ok() != Some(Backend::MySql) {
            anyhow::bail!(
                "--from must name the Flask shop's MySQL database: mysql://user:password@host:3306/database"
            );
        }
        sqlx::any::install_default_drivers();
        let url = url.replacen("mariadb:", "mysql:", 1);
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(15))
            .connect(&url)
            .await
            .with_context(|| {
                format!("cannot open the Flask database {}", without_password(&url))
            })?;
        Ok(Self { pool })
    }

    pub async fn users(&self) -> anyhow::Result<Vec<FlaskUser>> {
        sqlx::query_as(USERS_SQL)
            .fetch_all(&self.pool)
            .await
            .context("cannot read users_table from the Flask database")
    }

    pub async fn order_rows(&self) -> anyhow::Result<Vec<FlaskOrderRow>> {
        sqlx::query_as(ORDER_ROWS_SQL)
            .fetch_all(&self.pool)
            .await
            .context("cannot read order_table from the Flask database")
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// The URL as it may appear in an error message: without its password.
fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "(an unreadable URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_never_show_the_database_password() {
        assert_eq!(
            without_password("mysql://shop:secret@db:3306/flask"),
            "mysql://shop:***@db:3306/flask"
        );
    }
}
