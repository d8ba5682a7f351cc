//! Database credentials that may change while the app runs.
//!
//! RDS rotates the master password it manages in Secrets Manager. Connections already open
//! keep working after a rotation, but new ones are refused until they use the new password.
//! So instead of a password fixed in DATABASE_URL, the app can run a command
//! (DATABASE_PASSWORD_COMMAND) whose output is the current password: before its first
//! connection, and again whenever the server refuses a new connection's credentials. The
//! pool then opens its next connections with what the command said; open ones are left
//! alone. Reads after a refusal are at most one per DATABASE_PASSWORD_REREAD_MIN_INTERVAL_MS,
//! so a wrong password cannot make every request run the command.

use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use sqlx::any::AnyConnectOptions;
use sqlx::{AnyPool, ConnectOptions};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

/// Where the password comes from, and how often it may be asked for.
#[derive(Debug, Clone)]
pub struct PasswordCommand {
    /// Run with `sh -c`.
    pub command: String,
    pub timeout: Duration,
    pub min_interval: Duration,
}

/// What the command said: a password, and the user when it names one (an RDS secret does).
#[derive(Debug, PartialEq, Eq)]
struct Credentials {
    username: Option<String>,
    password: String,
}

#[derive(Deserialize)]
struct SecretJson {
    username: Option<String>,
    password: String,
}

impl Credentials {
    /// The JSON of a secret (`{"username": …, "password": …}`), or else the whole output as
    /// the password, without its line ending.
    fn parse(output: &str) -> Result<Self, String> {
        if let Ok(secret) = serde_json::from_str::<SecretJson>(output) {
            return Ok(Self {
                username: secret.username,
                password: secret.password,
            });
        }
        if output.trim_start().starts_with('{') {
            return Err("its output looks like JSON but has no \"password\"".into());
        }
        let password = output.strip_suffix('\n').unwrap_or(output);
        let password = password.strip_suffix('\r').unwrap_or(password);
        if password.is_empty() {
            return Err("it printed nothing".into());
        }
        Ok(Self {
            username: None,
            password: password.to_owned(),
        })
    }

    /// `base` with this user and password.
    fn apply_to(&self, base: &Url) -> Result<Url, String> {
        let mut url = base.clone();
        let refused = |_| "the database URL cannot carry credentials".to_owned();
        if let Some(username) = &self.username {
            url.set_username(username).map_err(refused)?;
        }
        url.set_password(Some(&self.password)).map_err(refused)?;
        Ok(url)
    }
}

impl PasswordCommand {
    async fn run(&self) -> Result<Credentials, String> {
        let mut command = tokio::process::Command::new("sh");
        command
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let output = tokio::time::timeout(self.timeout, command.output())
            .await
            .map_err(|_| format!("it did not finish within {:?}", self.timeout))?
            .map_err(|e| format!("it could not be started: {e}"))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(format!("it failed ({}): {}", output.status, stderr.trim()));
        }
        let stdout =
            String::from_utf8(output.stdout).map_err(|_| "its output is not UTF-8".to_owned())?;
        Credentials::parse(&stdout)
    }
}

/// The pool's source of credentials: reads them into the pool's connect options.
#[derive(Debug)]
pub struct CredentialSource {
    command: PasswordCommand,
    /// DATABASE_URL as configured, to which each read's credentials are applied.
    base: Url,
    /// When the command last ran; None until the first read.
    last_read: Mutex<Option<Instant>>,
}

impl CredentialSource {
    pub fn new(command: PasswordCommand, base_url: &str) -> anyhow::Result<Self> {
        let base =
            Url::parse(base_url).map_err(|e| anyhow::anyhow!("DATABASE_URL is not a URL ({e})"))?;
        Ok(Self {
            command,
            base,
            last_read: Mutex::new(None),
        })
    }

    /// Reads the credentials into `pool` unless they have been read already.
    pub async fn read_once(&self, pool: &AnyPool) -> Result<(), sqlx::Error> {
        let mut last_read = self.last_read.lock().await;
        if last_read.is_some() {
            return Ok(());
        }
        self.read_into(pool, &mut last_read).await
    }

    /// After the server refused a new connection's credentials: reads them again, unless
    /// that was done less than the minimum interval ago. True when `pool` has credentials
    /// it did not try yet (another caller's read counts).
    pub async fn reread_after_refusal(&self, pool: &AnyPool, refused_at: Instant) -> bool {
        let mut last_read = self.last_read.lock().await;
        if let Some(read) = *last_read {
            if read > refused_at {
                return true;
            }
            if read.elapsed() < self.command.min_interval {
                return false;
            }
        }
        tracing::warn!(
            "the database refused the credentials of a new connection: reading them again"
        );
        self.read_into(pool, &mut last_read).await.is_ok()
    }

    async fn read_into(
        &self,
        pool: &AnyPool,
        last_read: &mut Option<Instant>,
    ) -> Result<(), sqlx::Error> {
        *last_read = Some(Instant::now());
        let read = self
            .command
            .run()
            .await
            .and_then(|credentials| credentials.apply_to(&self.base))
            .and_then(|url| AnyConnectOptions::from_url(&url).map_err(|e| e.to_string()));
        match read {
            Ok(options) => {
                metrics::counter!("database_password_reads_total", "outcome" => "ok").increment(1);
                tracing::info!("database credentials read with DATABASE_PASSWORD_COMMAND");
                pool.set_connect_options(options);
                Ok(())
            }
            Err(why) => {
                metrics::counter!("database_password_reads_total", "outcome" => "failed")
                    .increment(1);
                let message = format!("DATABASE_PASSWORD_COMMAND gave no password: {why}");
                tracing::error!("{message}");
                Err(sqlx::Error::Configuration(message.into()))
            }
        }
    }
}

/// Whether the server refused a connection's credentials (MySQL/MariaDB's access denied,
/// PostgreSQL's invalid password or authorization).
pub fn is_refused_credentials(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if matches!(e.code().as_deref(), Some("28000" | "28P01")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_is_the_password_without_its_line_ending() {
        assert_eq!(
            Credentials::parse("s3cr3t:/@ x\n").unwrap(),
            Credentials {
                username: None,
                password: "s3cr3t:/@ x".into()
            }
        );
        assert_eq!(Credentials::parse("pw\r\n").unwrap().password, "pw");
        assert!(Credentials::parse("\n").is_err());
    }

    #[test]
    fn an_rds_secret_gives_user_and_password() {
        let secret = r#"{"username":"shopadmin","password":"p@ss\"w","engine":"mysql"}"#;
        assert_eq!(
            Credentials::parse(secret).unwrap(),
            Credentials {
                username: Some("shopadmin".into()),
                password: "p@ss\"w".into()
            }
        );
        assert!(Credentials::parse(r#"{"username":"shopadmin"}"#).is_err());
    }

    #[test]
    fn credentials_replace_those_of_the_url_and_are_encoded() {
        let base = Url::parse("mysql://old:gone@db.internal:3306/shop?ssl-mode=REQUIRED").unwrap();
        let url = Credentials::parse(r#"{"username":"shop admin","password":"a/b@c#d"}"#)
            .unwrap()
            .apply_to(&base)
            .unwrap();
        assert_eq!(url.username(), "shop%20admin");
        assert_eq!(percent_decoded(url.password().unwrap()), "a/b@c#d", "{url}");
        assert_eq!(url.host_str(), Some("db.internal"));
        assert_eq!(url.query(), Some("ssl-mode=REQUIRED"));
    }

    fn percent_decoded(text: &str) -> String {
        url::form_urlencoded::parse(format!("x={text}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap()
    }

    #[tokio::test]
    async fn a_failing_or_slow_command_is_an_error_that_says_why() {
        async fn run(command: &str) -> Result<Credentials, String> {
            PasswordCommand {
                command: command.into(),
                timeout: Duration::from_millis(500),
                min_interval: Duration::ZERO,
            }
            .run()
            .await
        }
        assert_eq!(run("printf 'pw\\n'").await.unwrap().password, "pw");
        let failed = run("echo denied >&2; exit 3").await.unwrap_err();
        assert!(failed.contains("denied"), "{failed}");
        let slow = run("sleep 5").await.unwrap_err();
        assert!(slow.contains("did not finish"), "{slow}");
    }
}
