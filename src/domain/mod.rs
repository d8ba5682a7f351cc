//! Rules of the shop without I/O: each newtype's `parse` is the only way in, so a value
//! of that type is valid wherever it travels.
//!
//! States that are stored as text or numbers (an order's status, an account's role, a
//! product's visibility) are enums here, read from storage with `TryFrom`: a value this
//! version does not know is an [`UnknownValue`] error where it is read, never a guess.

pub mod address;
pub mod checkout;
pub mod fields;
pub mod geo;
pub mod money;
pub mod order;
pub mod pricing;
pub mod product;
pub mod role;
pub mod search;
pub mod token;

pub use fields::{Address, Email, FieldErrors, FirstName, Password, Username};
pub use money::{Cents, PriceRange};
pub use order::{OrderCode, OrderStatus, Quantity};
pub use product::{ProductDetails, ProductFields, Slug, VariantDetails, VariantFields, Visibility};
pub use role::Role;

/// A stored state that this version of the shop has no name for, such as a status that a
/// newer release wrote or a hand edit mistyped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

/// Gives an enum of states stored by name (its `ALL` and `as_str`) the matching `parse`,
/// `TryFrom<String>` for reading it back, and `Display`.
macro_rules! stored_by_name {
    ($name:ident, $kind:literal) => {
        impl $name {
            pub fn parse(raw: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|state| state.as_str() == raw)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::domain::UnknownValue;

            fn try_from(stored: String) -> Result<Self, Self::Error> {
                Self::parse(&stored).ok_or($crate::domain::UnknownValue {
                    kind: $kind,
                    value: stored,
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
use stored_by_name;
