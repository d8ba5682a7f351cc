//! What an order costs: subtotal, delivery, discount and tax, computed the same way for a
//! quote, for the checkout page and for the order that is placed.
//!
//! The rules, in order:
//! 1. The discount comes off the subtotal (the goods), never below zero; a percentage is
//!    rounded to the nearest cent.
//! 2. Delivery is free when the discounted subtotal reaches the free-delivery threshold.
//! 3. Tax is charged on the discounted goods and the delivery, at one rate. When catalog
//!    prices include tax, the tax is the part of that amount that is tax (so the total
//!    does not change); otherwise it is added on top. Rounded to the nearest cent.

use super::Cents;

/// Basis points: 2100 is 21 %.
const BASIS: i64 = 10_000;

/// How the shop charges tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxPolicy {
    pub rate_bp: u32,
    pub prices_include_tax: bool,
}

/// What a discount code takes off the goods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    /// In basis points of the subtotal, up to 100 %.
    Percent(u32),
    /// A fixed amount, at most the subtotal.
    Fixed(Cents),
}

/// The figures of an order, each a non-negative number of cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Totals {
    pub subtotal_cents: i64,
    pub delivery_cents: i64,
    pub discount_cents: i64,
    pub tax_cents: i64,
    pub total_cents: i64,
}

/// How the shop prices every order: its tax, and when delivery is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pricing {
    pub tax: TaxPolicy,
    /// Delivery is free from this discounted subtotal on (`None`: never).
    pub free_delivery_from: Option<Cents>,
}

/// Everything a price depends on besides the goods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceTerms {
    pub delivery: Cents,
    /// Delivery is free from this discounted subtotal on (`None`: never).
    pub free_delivery_from: Option<Cents>,
    pub discount: Option<Discount>,
    pub tax: TaxPolicy,
}

impl Totals {
    /// The totals of goods worth `subtotal` under `terms` (see the module's rules).
    pub fn compute(subtotal: Cents, terms: &PriceTerms) -> Self {
        let subtotal = subtotal.get().max(0);
        let discount = match terms.discount {
            None => 0,
            Some(Discount::Percent(bp)) => rounded(subtotal * i64::from(bp.min(10_000)), BASIS),
            Some(Discount::Fixed(amount)) => amount.get().max(0),
        }
        .min(subtotal);
        let goods = subtotal - discount;
        let free = terms
            .free_delivery_from
            .is_some_and(|from| goods >= from.get());
        let delivery = if free { 0 } else { terms.delivery.get().max(0) };
        let taxed = goods + delivery;
        let rate = i64::from(terms.tax.rate_bp);
        let (tax, total) = if terms.tax.prices_include_tax {
            (rounded(taxed * rate, BASIS + rate), taxed)
        } else {
            let tax = rounded(taxed * rate, BASIS);
            (tax, taxed + tax)
        };
        Self {
            subtotal_cents: subtotal,
            delivery_cents: delivery,
            discount_cents: discount,
            tax_cents: tax,
            total_cents: total,
        }
    }

    pub fn subtotal(&self) -> Cents {
        Cents::new(self.subtotal_cents)
    }

    pub fn delivery(&self) -> Cents {
        Cents::new(self.delivery_cents)
    }

    pub fn discount(&self) -> Cents {
        Cents::new(self.discount_cents)
    }

    pub fn tax(&self) -> Cents {
        Cents::new(self.tax_cents)
    }

    pub fn total(&self) -> Cents {
        Cents::new(self.total_cents)
    }
}

/// `numerator / denominator` rounded half up, for non-negative amounts.
fn rounded(numerator: i64, denominator: i64) -> i64 {
    (numerator + denominator / 2) / denominator
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NO_TAX: TaxPolicy = TaxPolicy {
        rate_bp: 0,
        prices_include_tax: true,
    };

    fn terms(delivery: i64, discount: Option<Discount>, tax: TaxPolicy) -> PriceTerms {
        PriceTerms {
            delivery: Cents::new(delivery),
            free_delivery_from: Some(Cents::new(5000)),
            discount,
            tax,
        }
    }

    #[test]
    fn figures_worked_out_by_hand() {
        // $30.00 of goods, $4.95 delivery, 10 % off, 21 % tax on top:
        // discount 3.00, goods 27.00, taxed 31.95, tax 6.7095 -> 6.71, total 38.66.
        let on_top = TaxPolicy {
            rate_bp: 2100,
            prices_include_tax: false,
        };
        let totals = Totals::compute(
            Cents::new(3000),
            &terms(495, Some(Discount::Percent(1000)), on_top),
        );
        assert_eq!(
            totals,
            Totals {
                subtotal_cents: 3000,
                delivery_cents: 495,
                discount_cents: 300,
                tax_cents: 671,
                total_cents: 3866,
            }
        );
        // The same with tax included: total 31.95, of which tax 31.95 * 21/121 = 5.545 -> 5.55.
        let included = TaxPolicy {
            rate_bp: 2100,
            prices_include_tax: true,
        };
        let totals = Totals::compute(
            Cents::new(3000),
            &terms(495, Some(Discount::Percent(1000)), included),
        );
        assert_eq!((totals.tax_cents, totals.total_cents), (555, 3195));
    }

    #[test]
    fn delivery_is_free_from_the_threshold_of_the_discounted_goods() {
        let at_threshold = Totals::compute(Cents::new(5000), &terms(495, None, NO_TAX));
        assert_eq!(at_threshold.delivery_cents, 0);
        // $55 less $10 off is $45: under the threshold, so delivery is paid.
        let discounted = Totals::compute(
            Cents::new(5500),
            &terms(495, Some(Discount::Fixed(Cents::new(1000))), NO_TAX),
        );
        assert_eq!(
            (discounted.delivery_cents, discounted.total_cents),
            (495, 4995)
        );
    }

    #[test]
    fn a_discount_never_takes_more_than_the_goods() {
        let fixed = Totals::compute(
            Cents::new(800),
            &terms(495, Some(Discount::Fixed(Cents::new(2000))), NO_TAX),
        );
        assert_eq!((fixed.discount_cents, fixed.total_cents), (800, 495));
        let percent = Totals::compute(
            Cents::new(800),
            &terms(0, Some(Discount::Percent(50_000)), NO_TAX),
        );
        assert_eq!((percent.discount_cents, percent.total_cents), (800, 0));
    }

    proptest! {
        #[test]
        fn the_total_always_adds_up(
            subtotal in 0i64..10_000_000,
            delivery in 0i64..100_000,
            percent in 0u32..=10_000,
            fixed in 0i64..10_000_000,
            use_percent: bool,
            rate in 0u32..5000,
            included: bool,
        ) {
            let discount = if use_percent {
                Discount::Percent(percent)
            } else {
                Discount::Fixed(Cents::new(fixed))
            };
            let tax = TaxPolicy { rate_bp: rate, prices_include_tax: included };
            let t = Totals::compute(Cents::new(subtotal), &terms(delivery, Some(discount), tax));
            prop_assert!(t.discount_cents <= t.subtotal_cents);
            prop_assert!(t.tax_cents >= 0 && t.total_cents >= 0);
            let before_tax = t.subtotal_cents - t.discount_cents + t.delivery_cents;
            let expected = if included { before_tax } else { before_tax + t.tax_cents };
            prop_assert_eq!(t.total_cents, expected);
            prop_assert!(t.tax_cents <= before_tax.max(1) * i64::from(rate) / 10_000 + 1);
        }
    }
}
