//! Rules of the shop without I/O: each newtype's `parse` is the only way in, so a value
//! of that type is valid wherever it travels.

pub mod fields;
pub mod geo;
pub mod money;
pub mod order;
pub mod product;

pub use fields::{Address, Email, FieldErrors, FirstName, Password, Username};
pub use money::Cents;
pub use order::{OrderCode, OrderStatus, Quantity};
pub use product::{ProductDetails, ProductFields, Slug, VariantDetails, VariantFields};
