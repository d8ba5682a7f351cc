//! The products and variants that the imported order lines point at.
//!
//! The old shop typed product names by hand ("Coffe Radar Mug" beside "Coffee Radar
//! Mug"), so names a typo apart are taken as one product: a product of this shop's catalog
//! first, else the spelling the old orders used most. What the catalog lacks is created,
//! hidden and without stock: the old orders are history, not things to sell.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::orders::{NewLine, NewOrder};
use super::summary::{ImportSummary, and_list};
use crate::db::Db;
use crate::db::catalog::{ProductInput, VariantInput};
use crate::domain::{Cents, Slug, Visibility};
use crate::error::AppError;

/// Names at most this many edits apart may be one product spelt two ways.
const MAX_TYPO_EDITS: usize = 2;
const IMPORTED_CATEGORY: &str = "Imported";
const IMPORTED_DESCRIPTION: &str = "Imported from the original shop.";
/// Tries at a unique key: a slug taken by another product, or a catalog id taken by a
/// concurrent writer (catalog ids are MAX + 1).
const INSERT_ATTEMPTS: u32 = 20;

/// Where one order line goes in this shop's catalog.
#[derive(Debug, Clone)]
pub struct VariantTarget {
    pub product_id: i64,
    pub variant_id: i64,
    pub product_name: String,
    pub color: String,
    pub size: String,
}

/// The variant of every order line being imported.
pub struct CatalogMatch {
    targets: HashMap<LineKey, VariantTarget>,
}

impl CatalogMatch {
    pub fn target_of(&self, line: &NewLine) -> Option<&VariantTarget> {
        self.targets.get(&LineKey::of(line))
    }
}

/// A line's product name, colour and size as compared: case and spacing do not count.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct LineKey {
    name: String,
    color: String,
    size: String,
}

impl LineKey {
    fn of(line: &NewLine) -> Self {
        Self {
            name: normalise_name(&line.product),
            color: normalise_name(&line.color),
            size: normalise_name(&line.size),
        }
    }
}

/// One order line, with when it was sold: (the order's day, the row id) orders lines in time.
struct Sale<'a> {
    line: &'a NewLine,
    when: (i64, i64),
}

/// Finds or creates the product and variant of every line of `orders`.
pub async fn prepare(
    db: &Db,
    orders: &[NewOrder],
    summary: &mut ImportSummary,
) -> anyhow::Result<CatalogMatch> {
    let sales: Vec<Sale> = orders
        .iter()
        .flat_map(|order| {
            order.lines.iter().map(move |line| Sale {
                line,
                when: (order.created_at, line.row_id),
            })
        })
        .collect();
    let mut shop = ShopCatalog::load(db).await?;
    let choices = canonical_names(&shop.names(), name_uses(&sales));
    for choice in choices.iter().filter(|c| c.is_merge()) {
        summary.merges.push(format!(
            "{:?} into {:?} ({} order {})",
            choice.spelling,
            choice.canonical,
            choice.lines,
            if choice.lines == 1 { "line" } else { "lines" }
        ));
    }
    let canonical_of: HashMap<&str, &str> = choices
        .iter()
        .map(|c| (c.key.as_str(), c.canonical.as_str()))
        .collect();
    let mut sales_by_product: BTreeMap<&str, Vec<&Sale>> = BTreeMap::new();
    for sale in &sales {
        let name = canonical_of[normalise_name(&sale.line.product).as_str()];
        sales_by_product.entry(name).or_default().push(sale);
    }

    let mut targets = HashMap::new();
    for (name, sales) in sales_by_product {
        let index = product_for(db, &mut shop, name, &sales, summary).await?;
        let product = &mut shop.products[index];
        note_several_prices(&product.name, &sales, summary);
        for variant_sales in by_variant(&sales).values() {
            let variant = variant_for(db, product, variant_sales, summary).await?;
            for sale in variant_sales {
                let target = VariantTarget {
                    product_id: product.id,
                    variant_id: variant.id,
                    product_name: product.name.clone(),
                    color: variant.color.clone(),
                    size: variant.size.clone(),
                };
                targets.insert(LineKey::of(sale.line), target);
            }
        }
    }
    Ok(CatalogMatch { targets })
}

// --- this shop's catalog ---

struct ShopCatalog {
    products: Vec<ShopProduct>,
}

struct ShopProduct {
    id: i64,
    name: String,
    price_cents: i64,
    variants: Vec<ShopVariant>,
}

#[derive(Clone)]
struct ShopVariant {
    id: i64,
    color: String,
    size: String,
}

impl ShopCatalog {
    /// Every product, hidden ones too: an old name may match a product staff hid.
    async fn load(db: &Db) -> anyhow::Result<Self> {
        let products = db
            .list_products(true)
            .await?
            .into_iter()
            .map(|p| ShopProduct {
                id: p.product.id,
                name: p.product.name,
                price_cents: p.product.price_cents,
                variants: p
                    .variants
                    .into_iter()
                    .map(|v| ShopVariant {
                        id: v.id,
                        color: v.color,
                        size: v.size,
                    })
                    .collect(),
            })
            .collect();
        Ok(Self { products })
    }

    fn names(&self) -> Vec<String> {
        self.products.iter().map(|p| p.name.clone()).collect()
    }

    fn find(&self, name: &str) -> Option<usize> {
        let key = normalise_name(name);
        self.products
            .iter()
            .position(|p| normalise_name(&p.name) == key)
    }
}

/// The catalog's product called `name`, created when the catalog has none.
async fn product_for(
    db: &Db,
    shop: &mut ShopCatalog,
    name: &str,
    sales: &[&Sale<'_>],
    summary: &mut ImportSummary,
) -> anyhow::Result<usize> {
    if let Some(found) = shop.find(name) {
        return Ok(found);
    }
    let price_cents = usual_price(sales);
    let id = create_product(db, name, price_cents).await?;
    summary.products_created.push(format!(
        "{name} at {} in {IMPORTED_CATEGORY}",
        Cents::new(price_cents).price_tag()
    ));
    shop.products.push(ShopProduct {
        id,
        name: name.to_owned(),
        price_cents,
        variants: Vec::new(),
    });
    Ok(shop.products.len() - 1)
}

/// The product's variant in the colour and size of `sales`, created when missing. A new
/// variant follows the product's price (NULL) unless it last sold at another.
async fn variant_for(
    db: &Db,
    product: &mut ShopProduct,
    sales: &[&Sale<'_>],
    summary: &mut ImportSummary,
) -> anyhow::Result<ShopVariant> {
    let wanted = LineKey::of(sales[0].line);
    if let Some(found) = product.variants.iter().find(|v| {
        normalise_name(&v.color) == wanted.color && normalise_name(&v.size) == wanted.size
    }) {
        return Ok(found.clone());
    }
    let (color, size) = (&sales[0].line.color, &sales[0].line.size);
    let latest = latest_price(sales);
    let own_price = (latest != product.price_cents).then_some(latest);
    let id = create_variant(db, product.id, color, size, own_price).await?;
    summary.variants_created.push(format!(
        "{}, {color}, {size} at {}",
        product.name,
        Cents::new(latest).price_tag()
    ));
    let variant = ShopVariant {
        id,
        color: color.clone(),
        size: size.clone(),
    };
    product.variants.push(variant.clone());
    Ok(variant)
}

async fn create_product(db: &Db, name: &str, price_cents: i64) -> anyhow::Result<i64> {
    let base = base_slug(name)?;
    for attempt in 1..=INSERT_ATTEMPTS {
        let slug = match attempt {
            1 => base.clone(),
            n => base.numbered(n),
        };
        let input = ProductInput {
            name,
            slug: &slug,
            description: IMPORTED_DESCRIPTION,
            category: IMPORTED_CATEGORY,
            price: Cents::new(price_cents),
            visibility: Visibility::Hidden,
        };
        match db.create_product(&input).await {
            Ok(id) => return Ok(id),
            Err(AppError::Conflict(_)) => {}
            Err(other) => return Err(other.into()),
        }
    }
    anyhow::bail!(
        "cannot create the product {name:?}: its slug {:?} is taken",
        base.as_str()
    )
}

async fn create_variant(
    db: &Db,
    product_id: i64,
    color: &str,
    size: &str,
    own_price_cents: Option<i64>,
) -> anyhow::Result<i64> {
    let input = VariantInput {
        color,
        size,
        price: own_price_cents.map(Cents::new),
        stock: 0,
        visibility: Visibility::Hidden,
    };
    for _ in 0..INSERT_ATTEMPTS {
        match db.create_variant(product_id, &input).await {
            Ok(id) => return Ok(id),
            Err(AppError::Conflict(_)) => {}
            Err(other) => return Err(other.into()),
        }
    }
    anyhow::bail!("cannot create the variant {color}, {size} of product {product_id}")
}

// --- choosing names and prices (no I/O) ---

/// A product name as compared: lower case, single spaces.
fn normalise_name(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// How one name (as compared) was used in the old orders.
#[derive(Debug, Clone)]
struct NameUse {
    key: String,
    /// The spelling most lines used.
    spelling: String,
    lines: usize,
    latest: (i64, i64),
}

#[derive(Debug)]
struct NameChoice {
    key: String,
    spelling: String,
    /// The name of the product its lines go to.
    canonical: String,
    lines: usize,
}

impl NameChoice {
    fn is_merge(&self) -> bool {
        normalise_name(&self.canonical) != self.key
    }
}

fn name_uses(sales: &[Sale<'_>]) -> Vec<NameUse> {
    let mut by_key: BTreeMap<String, Vec<&Sale>> = BTreeMap::new();
    for sale in sales {
        by_key
            .entry(normalise_name(&sale.line.product))
            .or_default()
            .push(sale);
    }
    by_key
        .into_iter()
        .map(|(key, sales)| NameUse {
            spelling: most_common(sales.iter().map(|s| s.line.product.as_str())),
            lines: sales.len(),
            latest: sales.iter().map(|s| s.when).max().unwrap_or_default(),
            key,
        })
        .collect()
}

/// The product each name goes to: the catalog's product of that name; else a catalog
/// product a typo away; else an imported name a typo away that more lines used; else itself.
fn canonical_names(catalog: &[String], mut uses: Vec<NameUse>) -> Vec<NameChoice> {
    uses.sort_by_key(|u| (Reverse(u.lines), Reverse(u.latest), u.key.clone()));
    let mut new_names: Vec<String> = Vec::new();
    let mut choices = Vec::with_capacity(uses.len());
    for usage in uses {
        let canonical = if let Some(same) = catalog.iter().find(|c| normalise_name(c) == usage.key)
        {
            same.clone()
        } else if let Some(typo_of) =
            nearest_typo(catalog, &usage.key).or_else(|| nearest_typo(&new_names, &usage.key))
        {
            typo_of.to_owned()
        } else {
            new_names.push(usage.spelling.clone());
            usage.spelling.clone()
        };
        choices.push(NameChoice {
            key: usage.key,
            spelling: usage.spelling,
            canonical,
            lines: usage.lines,
        });
    }
    choices
}

/// The closest of `names` that `key` is a typo of.
fn nearest_typo<'a>(names: &'a [String], key: &str) -> Option<&'a str> {
    names
        .iter()
        .map(|name| (name, normalise_name(name)))
        .filter(|(_, other)| is_typo_of(key, other))
        .min_by_key(|(_, other)| strsim::levenshtein(key, other))
        .map(|(name, _)| name.as_str())
}

/// Two names (as compared) are one product spelt two ways when they are at most
/// MAX_TYPO_EDITS apart and no word changed beyond recognition: "coffe radar mug" is
/// "coffee radar mug", but "coffee radar mug" is not "coffee radar bag", which is also two
/// edits away.
fn is_typo_of(a: &str, b: &str) -> bool {
    if strsim::levenshtein(a, b) > MAX_TYPO_EDITS {
        return false;
    }
    let (words_a, words_b): (Vec<&str>, Vec<&str>) =
        (a.split(' ').collect(), b.split(' ').collect());
    if words_a.len() != words_b.len() {
        // A space added or lost ("coffeemaker"): the edit distance says enough.
        return true;
    }
    words_a.iter().zip(&words_b).all(|(x, y)| {
        let longest = x.chars().count().max(y.chars().count());
        2 * strsim::levenshtein(x, y) <= longest
    })
}

/// The price most lines were sold at; of equally common ones, the latest.
fn usual_price(sales: &[&Sale<'_>]) -> i64 {
    let mut by_price: HashMap<i64, (usize, (i64, i64))> = HashMap::new();
    for sale in sales {
        let entry = by_price.entry(sale.line.unit_price_cents).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(sale.when);
    }
    by_price
        .into_iter()
        .max_by_key(|(_, usage)| *usage)
        .map(|(price, _)| price)
        .unwrap_or_default()
}

fn latest_price(sales: &[&Sale<'_>]) -> i64 {
    sales
        .iter()
        .max_by_key(|s| s.when)
        .map(|s| s.line.unit_price_cents)
        .unwrap_or_default()
}

/// The sales of one product, by colour and size (as compared).
fn by_variant<'s, 'a>(sales: &[&'s Sale<'a>]) -> BTreeMap<(String, String), Vec<&'s Sale<'a>>> {
    let mut groups: BTreeMap<(String, String), Vec<&Sale>> = BTreeMap::new();
    for sale in sales {
        let key = LineKey::of(sale.line);
        groups.entry((key.color, key.size)).or_default().push(sale);
    }
    groups
}

fn note_several_prices(name: &str, sales: &[&Sale<'_>], summary: &mut ImportSummary) {
    let prices: BTreeSet<i64> = sales.iter().map(|s| s.line.unit_price_cents).collect();
    if prices.len() > 1 {
        let prices: Vec<String> = prices
            .into_iter()
            .map(|cents| Cents::new(cents).price_tag())
            .collect();
        summary
            .several_prices
            .push(format!("{name} at {}", and_list(&prices)));
    }
}

fn most_common<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for value in values {
        *counts.entry(value).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(value, count)| (*count, Reverse(*value)))
        .map(|(value, _)| value.to_owned())
        .unwrap_or_default()
}

/// The slug of an imported product's name; a name without a letter or digit to make one
/// of gets `imported-product` (and a number, when that is taken).
fn base_slug(name: &str) -> anyhow::Result<Slug> {
    Slug::from_name(name)
        .or_else(|_| Slug::from_name("imported product"))
        .map_err(anyhow::Error::msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(name: &str, lines: usize) -> NameUse {
        NameUse {
            key: normalise_name(name),
            spelling: name.into(),
            lines,
            latest: (0, 0),
        }
    }

    fn canonical_of<'a>(choices: &'a [NameChoice], spelling: &str) -> &'a str {
        &choices
            .iter()
            .find(|c| c.spelling == spelling)
            .unwrap()
            .canonical
    }

    #[test]
    fn typos_are_a_couple_of_edits_that_leave_each_word_recognisable() {
        assert!(is_typo_of("coffe radar mug", "coffee radar mug"));
        assert!(is_typo_of("coffe radar t-shirt", "coffee radar t-shirt"));
        assert!(is_typo_of("coffeemaker", "coffee maker"));
        assert!(!is_typo_of("coffee radar mug", "coffee radar bag"));
        assert!(!is_typo_of("coffee maker", "coffee radar mug"));
    }

    #[test]
    fn the_catalog_names_win_then_the_most_used_spelling() {
        let catalog = vec!["Coffee Radar Mug".to_owned(), "Coffee Radar Bag".to_owned()];
        let choices = canonical_names(
            &catalog,
            vec![
                usage("Coffe Radar Mug", 4),
                usage("Coffee Radar Mug", 3),
                usage("coffee radar  bag", 3),
                usage("Coffee Radar T-Shirt", 6),
                usage("Coffe Radar T-Shirt", 1),
                usage("Cofee Radar T-Shirt", 1),
            ],
        );
        assert_eq!(
            canonical_of(&choices, "Coffe Radar Mug"),
            "Coffee Radar Mug"
        );
        assert_eq!(
            canonical_of(&choices, "coffee radar  bag"),
            "Coffee Radar Bag"
        );
        assert_eq!(
            canonical_of(&choices, "Coffe Radar T-Shirt"),
            "Coffee Radar T-Shirt"
        );
        assert_eq!(
            canonical_of(&choices, "Cofee Radar T-Shirt"),
            "Coffee Radar T-Shirt"
        );
        let merges: Vec<_> = choices
            .iter()
            .filter(|c| c.is_merge())
            .map(|c| c.spelling.as_str())
            .collect();
        assert_eq!(
            merges,
            [
                "Coffe Radar Mug",
                "Cofee Radar T-Shirt",
                "Coffe Radar T-Shirt"
            ]
        );
    }

    #[test]
    fn without_a_catalog_distinct_products_stay_apart() {
        let choices = canonical_names(
            &[],
            vec![usage("Coffee Radar Mug", 3), usage("Coffee Radar Bag", 3)],
        );
        assert!(choices.iter().all(|c| !c.is_merge()));
    }

    #[test]
    fn the_usual_price_is_the_most_common_and_ties_go_to_the_latest() {
        let line = |cents| NewLine {
            row_id: 0,
            product: "Coffee maker".into(),
            color: "White".into(),
            size: "U".into(),
            unit_price_cents: cents,
            quantity: 1,
        };
        let lines = [line(20000), line(3000), line(3000), line(20000)];
        let sales: Vec<Sale> = lines
            .iter()
            .zip([(1, 1), (1, 2), (1, 3), (1, 4)])
            .map(|(line, when)| Sale { line, when })
            .collect();
        let sales: Vec<&Sale> = sales.iter().collect();
        assert_eq!(usual_price(&sales), 20000);
        assert_eq!(usual_price(&sales[..3]), 3000);
        assert_eq!(latest_price(&sales[..3]), 3000);
    }

    #[test]
    fn a_name_without_letters_or_digits_gets_the_import_slug() {
        let slug = |name| base_slug(name).unwrap().to_string();
        assert_eq!(slug("Coffee Radar T-Shirt"), "coffee-radar-t-shirt");
        assert_eq!(slug("!!!"), "imported-product");
    }
}
