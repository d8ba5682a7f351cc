//! Use cases shared by the HTML pages and the JSON API: each rule lives here once, and both
//! front doors call it.

pub mod accounts;
pub mod catalog;
pub mod insights;
pub mod limits;
pub mod radar;
pub mod retention;
pub mod shop;
