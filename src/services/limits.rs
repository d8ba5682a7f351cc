//! The shop's throttles: which counters an attempt takes, and what the client hears when
//! one is full. Counters live in the database ([`crate::db::limits`]), so the whole fleet
//! shares them, and a hit is taken before any password is hashed.
//!
//! The sign-in policy (also in the README's security section): an account's failures are
//! counted per client address, so an attacker at one address cannot lock the owner out at
//! another; an address's failures are counted whatever the account, against guessing many
//! accounts; and an account's failures from all addresses together have a high ceiling
//! against attacks from many addresses, which a password reset lifts.

use std::net::IpAddr;

use sha2::{Digest, Sha256};

use crate::config::LimitSettings;
use crate::db::limits::Hit;
use crate::db::{Db, now_ms};
use crate::error::{AppError, AppResult};

const HOUR_MS: i64 = 3600 * 1000;

/// Who a sign-in attempt is about: a known account, or a name nobody has (counted the same
/// way, so that the answers never tell the two apart).
#[derive(Debug, Clone)]
pub enum Account {
    Known(i64),
    Unknown(String),
}

impl Account {
    fn key(&self) -> String {
        match self {
            Self::Known(id) => format!("u{id}"),
            // A fixed-length stand-in: what the client typed never reaches the table.
            Self::Unknown(login) => format!("h{}", &hex::encode(Sha256::digest(login))[..16]),
        }
    }
}

/// The hits that one throttled action takes, and how to give them back.
pub struct Attempt {
    hits: Vec<Hit>,
    refused: Vec<String>,
}

impl Attempt {
    /// A sign-in for `account` from `client`.
    pub fn sign_in(limits: &LimitSettings, account: &Account, client: Option<IpAddr>) -> Self {
        let window_ms = limits.signin_window_secs.max(1) as i64 * 1000;
        let account = account.key();
        let minutes = limits.signin_window_secs.div_ceil(60);
        let for_account = format!(
            "Too many failed sign-ins for this account. Wait {minutes} minutes and try again, \
             or reset your password."
        );
        let mut attempt = Self::new();
        attempt.push(
            format!("signin:acct:{account}"),
            window_ms,
            limits.signin_per_account,
            for_account.clone(),
        );
        if let Some(ip) = client {
            attempt.push(
                format!("signin:pair:{account}|{ip}"),
                window_ms,
                limits.signin_per_account_and_address,
                for_account,
            );
            attempt.push(
                format!("signin:addr:{ip}"),
                window_ms,
                limits.signin_per_address,
                format!(
                    "Too many failed sign-ins from your network. Wait {minutes} minutes and try again."
                ),
            );
        }
        attempt
    }

    /// A new account made from `client`.
    pub fn registration(limits: &LimitSettings, client: Option<IpAddr>) -> Self {
        let mut attempt = Self::new();
        if let Some(ip) = client {
            attempt.push(
                format!("register:addr:{ip}"),
                HOUR_MS,
                limits.registrations_per_hour,
                "Too many accounts were created from your network in the last hour. \
                 Please try again later.",
            );
        }
        attempt
    }

    /// A password-reset request from `client`, whatever the email.
    pub fn reset_request(limits: &LimitSettings, client: Option<IpAddr>) -> Self {
        let mut attempt = Self::new();
        if let Some(ip) = client {
            attempt.push(
                format!("reset:addr:{ip}"),
                HOUR_MS,
                limits.reset_requests_per_address_per_hour,
                "Too many password-reset requests from your network. Please try again in an hour.",
            );
        }
        attempt
    }

    /// A reset mail sent to the account `user_id`.
    pub fn reset_mail(limits: &LimitSettings, user_id: i64) -> Self {
        let mut attempt = Self::new();
        attempt.push(
            format!("reset:acct:u{user_id}"),
            HOUR_MS,
            limits.reset_mails_per_account_per_hour,
            "Too many reset mails for this account.",
        );
        attempt
    }

    fn new() -> Self {
        Self {
            hits: Vec::new(),
            refused: Vec::new(),
        }
    }

    fn push(&mut self, subject: String, window_ms: i64, limit: u32, refused: impl Into<String>) {
        self.hits.push(Hit {
            subject,
            window_ms,
            limit: i64::from(limit),
        });
        self.refused.push(refused.into());
    }

    /// Takes every hit, or none and answers 429 with the message of the full counter.
    pub async fn take(&self, db: &Db) -> AppResult<()> {
        if self.hits.is_empty() {
            return Ok(());
        }
        match db.take_hits(&self.hits, now_ms()).await? {
            None => Ok(()),
            Some(full) => {
                metrics::counter!("throttled_total", "subject" => subject_kind(&self.hits[full].subject))
                    .increment(1);
                Err(AppError::TooManyRequests(self.refused[full].clone()))
            }
        }
    }

    /// Gives the hits back: the attempt turned out not to count (a sign-in that succeeded, an
    /// account that could not be created).
    pub async fn give_back(&self, db: &Db) -> AppResult<()> {
        db.give_back_hits(&self.hits, now_ms()).await
    }
}

/// After a successful sign-in: the account's failures from this address are forgiven.
pub async fn forgive_sign_in(db: &Db, account: &Account, client: Option<IpAddr>) -> AppResult<()> {
    if let Some(ip) = client {
        db.clear_hits(&[&format!("signin:pair:{}|{ip}", account.key())])
            .await?;
    }
    Ok(())
}

/// After a password reset: the account's sign-in counters start again, from every address.
pub async fn lift_account(db: &Db, user_id: i64) -> AppResult<()> {
    let account = Account::Known(user_id).key();
    db.clear_hits(&[&format!("signin:acct:{account}")]).await?;
    db.clear_hits_with_prefix(&format!("signin:pair:{account}|"))
        .await
}

/// The counter's family for the metric label: `signin:pair`, `register:addr`, …
fn subject_kind(subject: &str) -> String {
    subject.splitn(3, ':').take(2).collect::<Vec<_>>().join(":")
}
