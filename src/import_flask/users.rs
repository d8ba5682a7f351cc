//! Users of the Flask shop become accounts here, with their old passwords and pictures.

use std::collections::HashMap;

use indicatif::ProgressBar;

use super::photos::PhotoSource;
use super::summary::ImportSummary;
use crate::db::flask_source::FlaskUser;

use crate::db::Db;
use crate::db::imported::ImportedAccount;
use crate::domain::{Email, FirstName, Username};
use crate::storage::Storage;

/// The account here of each Flask username, imported now or by an earlier run.
pub type Accounts = HashMap<String, i64>;

/// What an account without a usable password gets: it verifies no password, so the owner
/// signs in only after a password reset.
const NO_PASSWORD: &str = "!imported-without-a-password";

/// Imports the users in username order, so that of two users sharing an email the first
/// by username keeps it.
pub async fn import_users(
    db: &Db,
    storage: &Storage,
    photos: Option<&PhotoSource>,
    mut rows: Vec<FlaskUser>,
    summary: &mut ImportSummary,
    progress: &ProgressBar,
) -> anyhow::Result<Accounts> {
    rows.sort_by_key(|row| {
        row.username
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_lowercase()
    });
    let mut importer = UserImporter {
        db,
        storage,
        photos,
        accounts: Accounts::new(),
        emails_given: HashMap::new(),
        summary,
    };
    for row in rows {
        importer.import(row).await?;
        progress.inc(1);
    }
    Ok(importer.accounts)
}

struct UserImporter<'a> {
    db: &'a Db,
    storage: &'a Storage,
    photos: Option<&'a PhotoSource>,
    accounts: Accounts,
    /// Emails given to accounts in this run, with the username that got each.
    emails_given: HashMap<String, String>,
    summary: &'a mut ImportSummary,
}

impl UserImporter<'_> {
    async fn import(&mut self, row: FlaskUser) -> anyhow::Result<()> {
        let raw_name = row.username.as_deref().unwrap_or_default();
        let username = match Username::parse(raw_name) {
            Ok(username) => username,
            Err(why) => {
                self.skip(format!("{raw_name:?}: {why}"));
                return Ok(());
            }
        };
        if self.accounts.contains_key(username.as_str()) {
            self.skip(format!(
                "{raw_name:?}: the same username as {username}, which was imported"
            ));
            return Ok(());
        }
        if let Some(existing) = self.db.user_by_username(username.as_str()).await? {
            self.accounts.insert(existing.username, existing.id);
            self.summary.users_already_present += 1;
            return Ok(());
        }

        let email = self.email_for(&username, row.email.as_deref()).await?;
        let password_hash = self.password_hash_for(&username, row.password);
        let first_name = self.first_name_for(&username, row.firstname.as_deref())?;
        let photo_key = self.copy_photo(&username, row.photo.as_deref()).await;
        let account = ImportedAccount {
            username: &username,
            email: &email,
            password_hash: &password_hash,
            first_name: &first_name,
            photo_key: photo_key.as_deref(),
        };
        match self.db.insert_imported_account(&account).await {
            Ok(id) => {
                self.accounts.insert(username.into_inner(), id);
                self.summary.users_imported += 1;
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                self.skip(format!(
                    "{username}: the username or email was taken while importing"
                ));
            }
            Err(other) => return Err(other.into()),
        }
        Ok(())
    }

    fn skip(&mut self, reason: String) {
        self.summary.users_skipped.push(reason);
    }

    /// The Flask email when it is valid and free; else `<username>@imported.invalid`, which
    /// the owner can change in their profile.
    async fn email_for(&mut self, username: &Username, raw: Option<&str>) -> anyhow::Result<Email> {
        let stand_in =
            Email::parse(&format!("{username}@imported.invalid")).map_err(anyhow::Error::msg)?;
        let raw = raw.unwrap_or_default().trim();
        let Ok(email) = Email::parse(raw) else {
            self.summary.decide(format!(
                "{username} had no valid email ({raw:?}): imported as {stand_in}; they can fix it in their profile"
            ));
            return Ok(stand_in);
        };
        if let Some(first) = self.emails_given.get(email.as_str()) {
            self.summary.decide(format!(
                "{username} shares the email {email} with {first}, who keeps it: {username} is imported as {stand_in} and can fix it in their profile"
            ));
            return Ok(stand_in);
        }
        if self.db.user_by_email(email.as_str()).await?.is_some() {
            self.summary.decide(format!(
                "{username}'s email {email} already belongs to another account here: imported as {stand_in}; they can fix it in their profile"
            ));
            return Ok(stand_in);
        }
        self.emails_given
            .insert(email.as_str().to_owned(), username.to_string());
        Ok(email)
    }

    /// werkzeug hashes are kept as they are: sign-in checks them and replaces them with
    /// Argon2id. Anything else (plain text, another scheme) is not kept.
    fn password_hash_for(&mut self, username: &Username, raw: Option<String>) -> String {
        let hash = raw.unwrap_or_default().trim().to_owned();
        if is_werkzeug_sha256(&hash) {
            return hash;
        }
        self.summary.decide(format!(
            "{username} had no werkzeug pbkdf2:sha256 password hash: imported without a password; they sign in after \"Forgot your password?\""
        ));
        NO_PASSWORD.to_owned()
    }

    fn first_name_for(
        &mut self,
        username: &Username,
        raw: Option<&str>,
    ) -> anyhow::Result<FirstName> {
        if let Ok(name) = FirstName::parse(raw.unwrap_or_default()) {
            return Ok(name);
        }
        self.summary.decide(format!(
            "{username} had no valid first name: their username stands in for it"
        ));
        FirstName::parse(username.as_str()).map_err(anyhow::Error::msg)
    }

    /// Copies the user's picture into the shop's storage; a picture that cannot be had is
    /// reported and the user is imported without it.
    async fn copy_photo(&mut self, username: &Username, name: Option<&str>) -> Option<String> {
        let name = name.map(str::trim).filter(|name| !name.is_empty())?;
        let Some(photos) = self.photos else {
            self.summary.pictures_not_copied += 1;
            return None;
        };
        match store_photo(self.storage, photos, name).await {
            Ok(key) => {
                self.summary.pictures_copied += 1;
                Some(key)
            }
            Err(why) => {
                self.summary
                    .pictures_missing
                    .push(format!("{name} of {username} {why}"));
                None
            }
        }
    }
}

/// Reads, checks and re-encodes the picture like an upload, then stores it.
async fn store_photo(
    storage: &Storage,
    photos: &PhotoSource,
    name: &str,
) -> Result<String, String> {
    let bytes = photos.fetch(name).await?;
    let picture = crate::pictures::process_upload(bytes)
        .await
        .map_err(|e| format!("is not a usable picture: {}", e.public_message()))?;
    storage
        .put_content_addressed("photos", picture.ext, picture.bytes)
        .await
        .map_err(|e| format!("could not be stored: {e}"))
}

fn is_werkzeug_sha256(hash: &str) -> bool {
    crate::passwords::is_legacy_hash(hash)
        && hash.starts_with("pbkdf2:sha256")
        && hash.split('$').count() == 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_werkzeug_sha256_hashes_are_kept() {
        assert!(is_werkzeug_sha256("pbkdf2:sha256:260000$abcdefgh$00ff"));
        assert!(!is_werkzeug_sha256("pbkdf2:sha1:1000$abcdefgh$00ff"));
        assert!(!is_werkzeug_sha256("scrypt:32768:8:1$abc$00ff"));
        assert!(!is_werkzeug_sha256("hunter2"));
        assert!(!is_werkzeug_sha256(""));
    }
}
