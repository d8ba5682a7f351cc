//! Account fields entered by people: usernames, emails, names, addresses, passwords.

use std::fmt;

/// Messages about form fields, keyed by field name, in the order they were found.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_owned(), message.into()));
    }

    /// Keeps the parsed value, or records the message under `field`.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, String>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(f, m)| (f.as_str(), m.as_str()))
    }

    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.add(field, message);
        errors
    }
}

/// Rejects control characters, which have no place in a name or address.
fn reject_control_chars(value: &str, what: &str) -> Result<(), String> {
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        return Err(format!("{what} contains characters that are not allowed."));
    }
    Ok(())
}

macro_rules! string_newtype {
    ($name:ident) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_newtype!(Username);
string_newtype!(Email);
string_newtype!(FirstName);
string_newtype!(Address);

impl Username {
    /// 3 to 32 characters: letters, digits, `.`, `_` and `-`; stored in lower case so that
    /// "Daniela" and "daniela" are one account.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim().to_lowercase();
        if name.chars().count() < 3 || name.chars().count() > 32 {
            return Err("Username must be 3 to 32 characters long.".into());
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err("Username may use only letters, digits, '.', '_' and '-'.".into());
        }
        Ok(Self(name))
    }
}

impl Email {
    /// A plausible address (one `@`, a dotted domain, no spaces), stored in lower case.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim().to_lowercase();
        let invalid = || Err("Enter a valid email address, such as name@example.com.".into());
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return invalid();
        }
        let Some((local, domain)) = email.split_once('@') else {
            return invalid();
        };
        let domain_ok = domain.contains('.')
            && !domain.contains('@')
            && domain
                .split('.')
                .all(|part| !part.is_empty() && !part.starts_with('-') && !part.ends_with('-'))
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.len() > 64 || !domain_ok || email.contains(['<', '>', '"']) {
            return invalid();
        }
        Ok(Self(email))
    }
}

impl FirstName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("Enter your first name.".into());
        }
        if name.chars().count() > 60 {
            return Err("First name must be at most 60 characters.".into());
        }
        reject_control_chars(name, "First name")?;
        Ok(Self(name.to_owned()))
    }
}

impl Address {
    /// A postal address; `None` when left empty, since it is optional on the profile.
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>, String> {
        match raw.map(str::trim) {
            None | Some("") => Ok(None),
            Some(address) => Self::parse(address).map(Some),
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        let address = raw.trim();
        if address.is_empty() {
            return Err("Enter a shipping address.".into());
        }
        if address.chars().count() > 300 {
            return Err("Address must be at most 300 characters.".into());
        }
        reject_control_chars(address, "Address")?;
        Ok(Self(address.to_owned()))
    }
}

/// A new password, in clear only until it is hashed.
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    /// A password long enough and not guessable: common passwords, keyboard runs, repeats,
    /// dates and anything built from `personal` (the username, the email, the name) are
    /// refused, with a hint for a better one. The estimate is zxcvbn's: more than a million
    /// guesses needed; the sign-in throttle makes each guess expensive.
    pub fn parse(raw: &str, personal: &[&str]) -> Result<Self, String> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(format!(
                "Password must be at least {} characters.",
                Self::MIN_CHARS
            ));
        }
        if chars > Self::MAX_CHARS {
            return Err(format!(
                "Password must be at most {} characters.",
                Self::MAX_CHARS
            ));
        }
        let lowered = raw.trim().to_lowercase();
        let personal: Vec<String> = personal
            .iter()
            .flat_map(|p| {
                [
                    p.to_lowercase(),
                    p.split('@').next().unwrap_or_default().to_lowercase(),
                ]
            })
            .filter(|p| p.chars().count() >= 4)
            .collect();
        if personal.iter().any(|p| lowered.contains(p.as_str())) {
            return Err("Password must not contain your username, email or name.".into());
        }
        // The estimate's cost grows with length; beyond this a password is strong anyway
        // unless it is a repeat, which the first characters already show.
        let sample: String = raw.chars().take(64).collect();
        let personal: Vec<&str> = personal.iter().map(String::as_str).collect();
        let estimate = zxcvbn::zxcvbn(&sample, &personal);
        if estimate.score() < zxcvbn::Score::Two {
            let hint = estimate
                .feedback()
                .and_then(|f| f.warning())
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            return Err(format!(
                "That password is too easy to guess{hint}. Try a few unrelated words, or add \
                 uncommon words and symbols."
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lower_cased_and_limited_to_safe_characters() {
        assert_eq!(Username::parse(" Daniela ").unwrap().as_str(), "daniela");
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("robert'); DROP TABLE users;--").is_err());
        assert!(Username::parse("<b>x</b>").is_err());
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert_eq!(
            Email::parse("Ana@Example.COM").unwrap().as_str(),
            "ana@example.com"
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@x.com",
            "ana@localhost",
            "a b@x.com",
            "a@x..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn addresses_are_optional_but_not_blank_when_required() {
        assert_eq!(Address::parse_optional(Some("  ")).unwrap(), None);
        assert!(Address::parse("   ").is_err());
        assert!(Address::parse(&"x".repeat(301)).is_err());
    }

    #[test]
    fn passwords_have_a_minimum_length_and_never_print() {
        assert!(Password::parse("short", &[]).is_err());
        let password = Password::parse("correct horse 42", &[]).unwrap();
        assert_eq!(format!("{password:?}"), "Password(***)");
    }

    #[test]
    fn common_and_personal_passwords_are_refused() {
        for weak in [
            "password",
            "12345678",
            "        ",
            "qwertyuiop",
            "aaaaaaaaaa",
            "password1",
        ] {
            assert!(Password::parse(weak, &[]).is_err(), "{weak:?} is refused");
        }
        let personal = ["daniela", "dani.c@example.com"];
        for weak in ["daniela123", "Daniela2026!", "dani.c@example.com"] {
            let error = Password::parse(weak, &personal).err().unwrap();
            assert!(error.contains("username"), "{weak:?}: {error}");
        }
        assert!(Password::parse("staff password 42", &personal).is_ok());
    }
}
