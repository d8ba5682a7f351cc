//! Money as whole cents: no floating point ever touches a price.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize)]
#[serde(transparent)]
pub struct Cents(i64);

impl Cents {
    pub const MAX: Cents = Cents(100_000_000);

    pub fn new(cents: i64) -> Self {
        Self(cents)
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// Parses a price typed by staff, such as "12", "12.5" or "12.50".
    pub fn parse_price(raw: &str) -> Result<Self, String> {
        let invalid = || "Enter a price such as 12.50.".to_string();
        let raw = raw.trim();
        let (units, fraction) = raw.split_once('.').unwrap_or((raw, ""));
        if units.is_empty()
            || fraction.len() > 2
            || !units.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
            || units.len() > 7
        {
            return Err(invalid());
        }
        let units: i64 = units.parse().map_err(|_| invalid())?;
        let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| invalid())?;
        Self::from_cents(units * 100 + fraction)
    }

    /// Accepts a price in cents from the API: positive and below a sane maximum.
    pub fn from_cents(cents: i64) -> Result<Self, String> {
        if cents <= 0 {
            return Err("Price must be more than zero.".into());
        }
        if cents > Self::MAX.0 {
            return Err("Price is too large.".into());
        }
        Ok(Self(cents))
    }

    pub fn times(self, quantity: i64) -> Self {
        Self(self.0 * quantity)
    }
}

impl std::iter::Sum for Cents {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        Self(iter.map(|c| c.0).sum())
    }
}

/// Shown as dollars and cents, e.g. `$12.50`.
impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}${}.{:02}", self.0.abs() / 100, self.0.abs() % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_from_what_staff_type() {
        assert_eq!(Cents::parse_price("12").unwrap().get(), 1200);
        assert_eq!(Cents::parse_price("12.5").unwrap().get(), 1250);
        assert_eq!(Cents::parse_price(" 0.99 ").unwrap().get(), 99);
        for bad in ["", "-1", "1.999", "abc", "0", "1e3", "99999999"] {
            assert!(Cents::parse_price(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn cents_display_as_dollars() {
        assert_eq!(Cents::new(1250).to_string(), "$12.50");
        assert_eq!(Cents::new(5).to_string(), "$0.05");
    }
}
