//! What search engines and link previews read in a page's head beyond its title: a
//! product's structured data (schema.org `Product` with an `Offer` per variant) and the
//! trail of links that leads to it (`BreadcrumbList`), as JSON-LD. The JSON sits in a `<script type="application/ld+json">` element, which is
//! data, not script, so the content security policy does not need to allow inline script.

use serde::Serialize;

use super::Layout;
use crate::db::catalog::Product;

/// Where schema.org's vocabulary lives; `availability` values are addresses under it.
const SCHEMA_ORG: &str = "https://schema.org";

/// Typed rather than built as a `serde_json::Value`: the product page is drawn for every
/// visit, and a tree of maps and strings made to be written once costs more than the rest
/// of the page.
#[derive(Serialize)]
struct ProductData<'a> {
    #[serde(rename = "@context")]
    context: &'static str,
    #[serde(rename = "@type")]
    kind: &'static str,
    name: &'a str,
    description: &'a str,
    category: &'a str,
    image: String,
    url: &'a str,
    brand: Brand,
    offers: Vec<Offer<'a>>,
}

#[derive(Serialize)]
struct Brand {
    #[serde(rename = "@type")]
    kind: &'static str,
    name: &'static str,
}

#[derive(Serialize)]
struct Offer<'a> {
    #[serde(rename = "@type")]
    kind: &'static str,
    sku: String,
    name: String,
    price: String,
    #[serde(rename = "priceCurrency")]
    price_currency: &'static str,
    availability: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct BreadcrumbData<'a> {
    #[serde(rename = "@context")]
    context: &'static str,
    #[serde(rename = "@type")]
    kind: &'static str,
    #[serde(rename = "itemListElement")]
    items: Vec<ListItem<'a>>,
}

#[derive(Serialize)]
struct ListItem<'a> {
    #[serde(rename = "@type")]
    kind: &'static str,
    position: usize,
    name: &'a str,
    item: String,
}

/// The product as schema.org `Product` JSON-LD, safe to place inside a `<script>`
/// element: `<`, `>` and `&` are written as `\u` escapes, so no text a product holds can
/// end the element early.
pub fn product_data(product: &Product, layout: &Layout) -> String {
    let offers = product
        .variants
        .iter()
        .map(|variant| Offer {
            kind: "Offer",
            sku: variant.id.to_string(),
            name: format!("{} · {}", variant.color, variant.size),
            price: variant.price().form_value(),
            price_currency: "USD",
            availability: if variant.stock > 0 {
                const_format::concatcp!(SCHEMA_ORG, "/InStock")
            } else {
                const_format::concatcp!(SCHEMA_ORG, "/OutOfStock")
            },
            url: &layout.canonical,
        })
        .collect();
    script_safe(&ProductData {
        context: SCHEMA_ORG,
        kind: "Product",
        name: &product.product.name,
        description: &product.product.description,
        category: &product.product.category,
        image: layout.absolute(&product.product.image_url()),
        url: &layout.canonical,
        brand: Brand {
            kind: "Brand",
            name: super::SHOP_NAME,
        },
        offers,
    })
}

/// The breadcrumbs `(name, address)` as a schema.org `BreadcrumbList`, safe to place
/// inside a `<script>` element as [`product_data`] is.
pub fn breadcrumb_data(crumbs: &[(String, String)], layout: &Layout) -> String {
    script_safe(&BreadcrumbData {
        context: SCHEMA_ORG,
        kind: "BreadcrumbList",
        items: crumbs
            .iter()
            .zip(1..)
            .map(|((name, href), position)| ListItem {
                kind: "ListItem",
                position,
                name,
                item: layout.absolute(href),
            })
            .collect(),
    })
}

/// `data` as JSON text with the characters that HTML reads inside a `<script>` element
/// escaped.
fn script_safe(data: &impl Serialize) -> String {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "{}".to_owned());
    if !json.contains(['<', '>', '&']) {
        return json;
    }
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_that_could_close_a_script_element_is_escaped_and_still_reads_the_same() {
        let text = r#"</script><b>&amp;"#;
        let escaped = script_safe(&serde_json::json!({ "name": text }));
        assert!(!escaped.contains('<') && !escaped.contains('>') && !escaped.contains('&'));
        let read: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(read["name"], text);
    }
}
