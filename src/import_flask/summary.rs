//! What an import did and decided, printed for the person who ran it.

use std::collections::BTreeMap;
use std::fmt;

/// Counts, and one line per skipped row, merge and decision.
#[derive(Debug, Default)]
pub struct ImportSummary {
    pub users_imported: usize,
    pub users_already_present: usize,
    /// Why each skipped user was skipped.
    pub users_skipped: Vec<String>,

    pub pictures_copied: usize,
    /// `name of user: why`.
    pub pictures_missing: Vec<String>,
    /// Pictures named in users_table while no --photos-url was given.
    pub pictures_not_copied: usize,

    pub products_created: Vec<String>,
    pub variants_created: Vec<String>,
    /// Product names with typos taken as another name.
    pub merges: Vec<String>,

    pub orders_imported: usize,
    pub lines_imported: usize,
    pub orders_already_imported: usize,
    /// Why each skipped order was skipped.
    pub orders_skipped: Vec<String>,

    /// Choices made for the data: changed emails, unusable passwords, …
    pub decisions: Vec<String>,
    /// Orders kept without an account, by the username they were placed under.
    pub unknown_users: BTreeMap<String, usize>,
    /// Products sold at more than one price, e.g. `Coffee maker at $30 and $200`.
    pub several_prices: Vec<String>,
}

impl ImportSummary {
    pub fn decide(&mut self, decision: String) {
        self.decisions.push(decision);
    }
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Import from the Flask shop finished.")?;
        self.fmt_users(f)?;
        self.fmt_pictures(f)?;
        self.fmt_catalog(f)?;
        self.fmt_orders(f)?;
        self.fmt_decisions(f)
    }
}

impl ImportSummary {
    fn fmt_users(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Users: {} imported, {} already present, {} skipped",
            self.users_imported,
            self.users_already_present,
            self.users_skipped.len()
        )?;
        items(f, "skipped user", &self.users_skipped)
    }

    fn fmt_pictures(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Pictures: {} copied, {} missing",
            self.pictures_copied,
            self.pictures_missing.len()
        )?;
        if self.pictures_not_copied > 0 {
            write!(
                f,
                ", {} not copied (no --photos-url)",
                self.pictures_not_copied
            )?;
        }
        writeln!(f)?;
        items(f, "missing picture", &self.pictures_missing)
    }

    fn fmt_catalog(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Catalog: {} products and {} variants created (hidden, stock 0: history is not stock)",
            self.products_created.len(),
            self.variants_created.len()
        )?;
        items(f, "created product", &self.products_created)?;
        items(f, "created variant", &self.variants_created)?;
        writeln!(f, "Product names merged: {}", self.merges.len())?;
        items(f, "merged", &self.merges)
    }

    fn fmt_orders(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Orders: {} imported ({} lines), {} already imported, {} skipped",
            self.orders_imported,
            self.lines_imported,
            self.orders_already_imported,
            self.orders_skipped.len()
        )?;
        items(f, "skipped order", &self.orders_skipped)
    }

    fn fmt_decisions(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.decisions.len() + self.unknown_users.len() + self.several_prices.len();
        writeln!(f, "Decisions: {count}")?;
        items(f, "", &self.decisions)?;
        for (username, orders) in &self.unknown_users {
            writeln!(
                f,
                "  - orders by unknown user {username} kept without an account ({orders} {})",
                plural(*orders, "order", "orders")
            )?;
        }
        for prices in &self.several_prices {
            writeln!(
                f,
                "  - one product sold at several prices: {prices} (each order line keeps the price paid)"
            )?;
        }
        Ok(())
    }
}

/// One indented line per item, each starting with `label` when there is one.
fn items(f: &mut fmt::Formatter<'_>, label: &str, lines: &[String]) -> fmt::Result {
    for line in lines {
        if label.is_empty() {
            writeln!(f, "  - {line}")?;
        } else {
            writeln!(f, "  - {label} {line}")?;
        }
    }
    Ok(())
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// `a`, `a and b`, `a, b and c`.
pub fn and_list(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_has_one_item_per_line() {
        let mut summary = ImportSummary {
            users_imported: 2,
            pictures_not_copied: 1,
            orders_skipped: vec!["QTY000: row 27: quantity 0 is not positive".into()],
            ..ImportSummary::default()
        };
        summary.unknown_users.insert("newuser".into(), 2);
        let text = summary.to_string();
        assert!(text.contains("Users: 2 imported, 0 already present, 0 skipped\n"));
        assert!(text.contains("1 not copied (no --photos-url)"));
        assert!(text.contains("  - skipped order QTY000: row 27: quantity 0 is not positive\n"));
        assert!(
            text.contains("  - orders by unknown user newuser kept without an account (2 orders)")
        );
    }

    #[test]
    fn lists_read_like_sentences() {
        assert_eq!(
            and_list(&["$13".into(), "$15".into(), "$20".into()]),
            "$13, $15 and $20"
        );
    }
}
