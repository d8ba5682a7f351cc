//! Password hashes: Argon2id for every password set here, and the PBKDF2 hashes imported
//! from the Flask shop, checked until their owner's next sign-in replaces them.

use std::sync::{Arc, LazyLock};

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::Semaphore;

use crate::domain::token::new_token;
use crate::error::AppError;

/// Argon2id with 7 MiB and 5 passes (m=7168 KiB, t=5, p=1): one of OWASP's equivalent
/// minimum settings, as costly to guess as the crate's default 19 MiB and 2 passes for
/// the same CPU, at little more than a third of the memory a hash holds while it runs.
/// Hashes made with other settings still verify (a PHC string carries its own) and are
/// replaced at sign-in.
const MEMORY_KIB: u32 = 7 * 1024;
const PASSES: u32 = 5;

fn argon2id() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Each Argon2id run takes its memory and a core: at most one per core runs at once, so a
/// burst of sign-ins queues instead of exhausting memory. The memory is given back after each hash (see
/// [`crate::memory`]). Werkzeug's PBKDF2 needs no such memory but as much CPU: it queues too.
static HASHING: LazyLock<Arc<Semaphore>> = LazyLock::new(|| {
    Arc::new(Semaphore::new(
        std::thread::available_parallelism().map_or(2, |n| n.get()),
    ))
});

/// Runs one hash on a blocking thread, holding a permit until it is done: a client that
/// gives up does not free the permit of the hash still running for it.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let permit = HASHING
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    // Counted, so that operators (and tests) see what the throttles spare the CPU.
    metrics::counter!("password_hashes_total").increment(1);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))
}

/// Hashes with Argon2id (the settings above) into a PHC string.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    hashing(move || {
        argon2id()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing failed: {e}")))
    })
    .await?
}

/// Checks a password against a stored hash. A missing hash is checked against a dummy one,
/// so that unknown usernames take as long as wrong passwords. Hashes imported from the
/// Flask shop (werkzeug's PBKDF2) are checked too.
pub async fn verify_password(hash: Option<String>, password: String) -> Result<bool, AppError> {
    hashing(move || {
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
        if is_legacy_hash(&hash) {
            return verify_werkzeug(&hash, &password);
        }
        argon2id()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
}

/// A hash from the Flask shop, to be replaced by Argon2id at the next sign-in.
pub fn is_legacy_hash(hash: &str) -> bool {
    hash.starts_with("pbkdf2:")
}

/// A hash not made with today's settings (the Flask shop's PBKDF2, or Argon2 with other
/// parameters): the next sign-in, which knows the password, replaces it.
pub fn needs_rehash(hash: &str) -> bool {
    let Ok(parsed) = argon2::PasswordHash::new(hash) else {
        return true;
    };
    let costs = |p: &Params| (p.m_cost(), p.t_cost(), p.p_cost());
    parsed.algorithm != Algorithm::Argon2id.ident()
        || Params::try_from(&parsed).map(|p| costs(&p)).ok() != Some(costs(argon2id().params()))
}

/// werkzeug's `pbkdf2:sha256:ITERATIONS$SALT$HEX`: PBKDF2-HMAC-SHA256 over the salt's bytes.
fn verify_werkzeug(hash: &str, password: &str) -> bool {
    let mut parts = hash.splitn(3, '$');
    let (Some(method), Some(salt), Some(expected_hex)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some(iterations) = method
        .strip_prefix("pbkdf2:sha256:")
        .or_else(|| (method == "pbkdf2:sha256").then_some("260000"))
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=10_000_000).contains(n))
    else {
        return false;
    };
    let Ok(expected) = hex::decode(expected_hex) else {
        return false;
    };
    if expected.is_empty() || expected.len() > 64 {
        return false;
    }
    let mut derived = vec![0u8; expected.len()];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
        &mut derived,
    );
    bool::from(subtle::ConstantTimeEq::ct_eq(
        derived.as_slice(),
        expected.as_slice(),
    ))
}

/// The Argon2id hash of a random password nobody knows, made once per process.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    argon2id()
        .hash_password(new_token().as_bytes())
        .map(|hash| hash.to_string())
        .unwrap_or_default()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn werkzeug_pbkdf2_hashes_from_the_flask_shop_verify() {
        // What werkzeug stores for "coffee": hashlib.pbkdf2_hmac("sha256", b"coffee", b"salt1234", 1000).hex()
        let expected = "pbkdf2:sha256:1000$salt1234$b38c7b635db3b2bdc33b629d3eff914f991b3f5d46b6c9c0826a1a0870ffed40";
        assert!(is_legacy_hash(expected));
        assert!(verify_werkzeug(expected, "coffee"));
        assert!(!verify_werkzeug(expected, "tea"));
        assert!(!verify_werkzeug("pbkdf2:sha256:abc$salt$00", "coffee"));
        assert!(!verify_werkzeug("pbkdf2:sha256:1000$salt", "coffee"));
    }

    #[tokio::test]
    async fn hashes_are_standard_argon2id_phc_strings_at_the_owasp_minimum() {
        let hash = hash_password("correct horse 42".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{hash}");
        assert!(!needs_rehash(&hash));
        let parsed = argon2::PasswordHash::new(&hash).expect("a PHC string");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse 42", &parsed)
                .is_ok(),
            "any Argon2 implementation verifies it from the string alone"
        );
        assert!(
            verify_password(Some(hash.clone()), "correct horse 42".into())
                .await
                .unwrap()
        );
        assert!(
            !verify_password(Some(hash), "correct horse 43".into())
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn hashes_made_with_other_settings_still_verify_and_are_due_for_a_rehash() {
        let older = Argon2::default()
            .hash_password(b"correct horse 42")
            .unwrap()
            .to_string();
        assert!(
            older.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{older}"
        );
        assert!(needs_rehash(&older));
        assert!(needs_rehash("pbkdf2:sha256:1000$salt$00"));
        assert!(
            verify_password(Some(older.clone()), "correct horse 42".into())
                .await
                .unwrap()
        );
        assert!(
            !verify_password(Some(older), "correct horse 43".into())
                .await
                .unwrap()
        );
    }
}
