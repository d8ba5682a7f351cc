//! Money as whole cents: no floating point ever touches a price.
//!
//! Amounts are written two ways, both here so that every page, form and report agrees:
//! for people (`$12.50`, `-$0.50`, via `Display`) and in a form field (`12.50`, `-0.50`,
//! via [`Cents::form_value`]), which [`Cents::parse`] reads back.

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

    /// Reads an amount as [`Self::form_value`] writes it, and as people type it: "12",
    /// "12.5", "12.50", "-0.50". Any amount that fits in cents is accepted; prices have
    /// their own rules in [`Self::parse_price`].
    pub fn parse(raw: &str) -> Result<Self, String> {
        let invalid = || "Enter an amount such as 12.50.".to_string();
        let raw = raw.trim();
        let (negative, digits) = match raw.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let (units, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if units.is_empty() || fraction.len() > 2 || !all_digits(units) || !all_digits(fraction) {
            return Err(invalid());
        }
        let units: i64 = units.parse().map_err(|_| invalid())?;
        let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| invalid())?;
        // Built on the side of the sign, so that the most negative amount fits too.
        let sign = if negative { -1 } else { 1 };
        units
            .checked_mul(100 * sign)
            .and_then(|cents| cents.checked_add(fraction * sign))
            .map(Self)
            .ok_or_else(invalid)
    }

    /// Reads a price typed by staff, such as "12", "12.5" or "12.50": more than zero, at
    /// most seven digits of dollars and no sign.
    pub fn parse_price(raw: &str) -> Result<Self, String> {
        let invalid = || "Enter a price such as 12.50.".to_string();
        let raw = raw.trim();
        let dollars = raw.split('.').next().unwrap_or_default();
        if raw.starts_with('-') || dollars.len() > 7 {
            return Err(invalid());
        }
        let amount = Self::parse(raw).map_err(|_| invalid())?;
        Self::from_cents(amount.0)
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

    /// The amount as a form field holds it: `12.50`, `-0.50`, read back by [`Self::parse`].
    pub fn form_value(self) -> String {
        let (sign, dollars, cents) = self.parts();
        format!("{sign}{dollars}.{cents:02}")
    }

    /// The amount as a price tag: `$30` when it is whole dollars, else `$12.50`.
    pub fn price_tag(self) -> String {
        match self.parts() {
            (sign, dollars, 0) => format!("{sign}${dollars}"),
            _ => self.to_string(),
        }
    }

    /// The sign, the whole dollars and the cents left over; `unsigned_abs` keeps the most
    /// negative amount printable.
    fn parts(self) -> (&'static str, u64, u64) {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        (sign, abs / 100, abs % 100)
    }
}

impl std::iter::Sum for Cents {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        Self(iter.map(|c| c.0).sum())
    }
}

/// Shown as dollars and cents, e.g. `$12.50` or `-$0.50`.
impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (sign, dollars, cents) = self.parts();
        write!(f, "{sign}${dollars}.{cents:02}")
    }
}

/// What something with several prices costs, such as a product whose variants are priced
/// apart: shown as its one price when they are all the same ("$12.00"), else as "from" the
/// lowest ("from $12.00"). Every page shows a product's price this way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceRange {
    lowest: Cents,
    highest: Cents,
}

impl PriceRange {
    pub fn one(price: Cents) -> Self {
        Self {
            lowest: price,
            highest: price,
        }
    }

    /// The range of `prices`, or `None` when there are none.
    pub fn of(prices: impl IntoIterator<Item = Cents>) -> Option<Self> {
        prices.into_iter().fold(None, |range, price| {
            Some(match range {
                None => Self::one(price),
                Some(Self { lowest, highest }) => Self {
                    lowest: lowest.min(price),
                    highest: highest.max(price),
                },
            })
        })
    }

    pub fn lowest(self) -> Cents {
        self.lowest
    }

    pub fn highest(self) -> Cents {
        self.highest
    }

    /// Whether several prices are asked, so that the lowest is only where they start.
    pub fn varies(self) -> bool {
        self.lowest != self.highest
    }
}

/// `$12.00` for one price, `from $12.00` for several.
impl fmt::Display for PriceRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.varies() {
            write!(f, "from {}", self.lowest)
        } else {
            write!(f, "{}", self.lowest)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prices_parse_from_what_staff_type() {
        assert_eq!(Cents::parse_price("12").unwrap().get(), 1200);
        assert_eq!(Cents::parse_price("12.5").unwrap().get(), 1250);
        assert_eq!(Cents::parse_price(" 0.99 ").unwrap().get(), 99);
        assert_eq!(Cents::parse_price("1000000").unwrap(), Cents::MAX);
        for bad in [
            "",
            "-1",
            "1.999",
            "abc",
            "0",
            "1e3",
            "99999999",
            "+5",
            "1000000.01",
        ] {
            assert!(Cents::parse_price(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(
            Cents::parse_price("-1").unwrap_err(),
            "Enter a price such as 12.50."
        );
        assert_eq!(
            Cents::parse_price("0").unwrap_err(),
            "Price must be more than zero."
        );
    }

    #[test]
    fn amounts_of_every_sign_parse() {
        assert_eq!(Cents::parse("-0.50"), Ok(Cents::new(-50)));
        assert_eq!(Cents::parse("-0.01"), Ok(Cents::new(-1)));
        assert_eq!(Cents::parse("0"), Ok(Cents::new(0)));
        assert_eq!(Cents::parse("-0"), Ok(Cents::new(0)));
        assert_eq!(Cents::parse("12."), Ok(Cents::new(1200)));
        for bad in [
            "",
            "-",
            "--1",
            "+1",
            ".5",
            "1.234",
            "1,50",
            "92233720368547758.08",
        ] {
            assert!(Cents::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn cents_display_as_dollars_with_their_sign() {
        let shown = |cents: i64| Cents::new(cents).to_string();
        assert_eq!(shown(1250), "$12.50");
        assert_eq!(shown(5), "$0.05");
        assert_eq!(shown(0), "$0.00");
        assert_eq!(shown(-1), "-$0.01");
        assert_eq!(shown(-99), "-$0.99");
        assert_eq!(shown(-100), "-$1.00");
        assert_eq!(shown(i64::MAX), "$92233720368547758.07");
        assert_eq!(shown(i64::MIN), "-$92233720368547758.08");
    }

    #[test]
    fn form_values_have_no_currency_sign() {
        let typed = |cents: i64| Cents::new(cents).form_value();
        assert_eq!(typed(1200), "12.00");
        assert_eq!(typed(0), "0.00");
        assert_eq!(typed(-1), "-0.01");
        assert_eq!(typed(-99), "-0.99");
        assert_eq!(typed(-100), "-1.00");
        assert_eq!(typed(i64::MIN), "-92233720368547758.08");
    }

    #[test]
    fn price_tags_drop_zero_cents_but_never_the_sign() {
        let tag = |cents: i64| Cents::new(cents).price_tag();
        assert_eq!(tag(3000), "$30");
        assert_eq!(tag(1250), "$12.50");
        assert_eq!(tag(0), "$0");
        assert_eq!(tag(-1), "-$0.01");
        assert_eq!(tag(-99), "-$0.99");
        assert_eq!(tag(-100), "-$1");
    }

    #[test]
    fn a_range_of_one_price_is_that_price_and_of_several_starts_from_the_lowest() {
        let range = |cents: &[i64]| PriceRange::of(cents.iter().copied().map(Cents::new));
        assert_eq!(range(&[]), None);
        assert_eq!(range(&[1200]).unwrap().to_string(), "$12.00");
        assert_eq!(range(&[1200, 1200]).unwrap().to_string(), "$12.00");
        let several = range(&[1500, 1200, 1500]).unwrap();
        assert_eq!(several.to_string(), "from $12.00");
        assert_eq!(several.lowest(), Cents::new(1200));
        assert_eq!(several.highest(), Cents::new(1500));
    }

    proptest! {
        #[test]
        fn a_form_value_parses_back_to_its_amount(cents in any::<i64>()) {
            let amount = Cents::new(cents);
            prop_assert_eq!(Cents::parse(&amount.form_value()), Ok(amount));
        }

        #[test]
        fn small_and_negative_amounts_round_trip(cents in -1_000_000_i64..=1_000_000) {
            let amount = Cents::new(cents);
            prop_assert_eq!(Cents::parse(&amount.form_value()), Ok(amount));
            // What people see is the form value with a dollar sign after the minus.
            let shown = amount.to_string();
            let expected = match amount.form_value().strip_prefix('-') {
                Some(positive) => format!("-${positive}"),
                None => format!("${}", amount.form_value()),
            };
            prop_assert_eq!(shown, expected);
        }

        #[test]
        fn prices_read_back_from_their_form_value(cents in 1..=Cents::MAX.get()) {
            let price = Cents::new(cents);
            prop_assert_eq!(Cents::parse_price(&price.form_value()), Ok(price));
        }
    }
}
