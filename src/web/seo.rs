//! What search engines and link previews read in a page's head beyond its title: a
//! product's structured data (schema.org `Product` with an `Offer` per variant) and the
//! trail of links that leads to it (`BreadcrumbList`), as JSON-LD. The JSON sits in a `<script type="application/ld+json">` element, which is
//! data, not script, so the content security policy does not need to allow inline script.

use serde_json::{Value, json};

use super::Layout;
use crate::db::catalog::Product;

/// Where schema.org's vocabulary lives; `availability` values are addresses under it.
const SCHEMA_ORG: &str = "https://schema.org";

/// The product as schema.org `Product` JSON-LD, safe to place inside a `<script>`
/// element: `<`, `>` and `&` are written as `\u` escapes, so no text a product holds can
/// end the element early.
pub fn product_data(product: &Product, layout: &Layout) -> String {
    let offers: Vec<Value> = product
        .variants
        .iter()
        .map(|variant| {
            let availability = if variant.stock > 0 {
                "InStock"
            } else {
                "OutOfStock"
            };
            json!({
                "@type": "Offer",
                "sku": variant.id.to_string(),
                "name": format!("{} · {}", variant.color, variant.size),
                "price": variant.price().form_value(),
                "priceCurrency": "USD",
                "availability": format!("{SCHEMA_ORG}/{availability}"),
                "url": layout.canonical,
            })
        })
        .collect();
    let data = json!({
        "@context": SCHEMA_ORG,
        "@type": "Product",
        "name": product.product.name,
        "description": product.product.description,
        "category": product.product.category,
        "image": layout.absolute(&product.product.image_url()),
        "url": layout.canonical,
        "brand": { "@type": "Brand", "name": super::SHOP_NAME },
        "offers": offers,
    });
    script_safe(&data.to_string())
}

/// The breadcrumbs `(name, address)` as a schema.org `BreadcrumbList`, safe to place
/// inside a `<script>` element as [`product_data`] is.
pub fn breadcrumb_data(crumbs: &[(String, String)], layout: &Layout) -> String {
    let items: Vec<Value> = crumbs
        .iter()
        .zip(1..)
        .map(|((name, href), position)| {
            json!({
                "@type": "ListItem",
                "position": position,
                "name": name,
                "item": layout.absolute(href),
            })
        })
        .collect();
    let data = json!({
        "@context": SCHEMA_ORG,
        "@type": "BreadcrumbList",
        "itemListElement": items,
    });
    script_safe(&data.to_string())
}

/// JSON text with the characters that HTML reads inside a `<script>` element escaped.
fn script_safe(json: &str) -> String {
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
        let escaped = script_safe(&json!({ "name": text }).to_string());
        assert!(!escaped.contains('<') && !escaped.contains('>') && !escaped.contains('&'));
        let read: Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(read["name"], text);
    }
}
