//! A product's colours and sizes as a shopper chooses them: one group of colours, the
//! sizes of the chosen colour, and the pair they make.
//!
//! The product page, its add-to-cart form and the script that switches colours in place
//! all read the choice from here, so that what a link asks for, what the page shows and
//! what the form adds are the same pair. Everything is read from the catalog snapshot.

use crate::db::catalog::{Product, VariantRow};
use crate::domain::Cents;

/// Fewer than this many in stock is worth telling the shopper ("only 3 left").
pub const FEW_LEFT: i64 = 5;

/// One colour of a product with its sizes.
#[derive(Debug, Clone)]
pub struct Colour {
    pub name: String,
    /// The colour's own picture, else the product's.
    pub picture: String,
    /// One variant per size, in the shop's order.
    pub sizes: Vec<VariantRow>,
}

impl Colour {
    pub fn sold_out(&self) -> bool {
        self.sizes.iter().all(|v| v.stock == 0)
    }

    /// Whether every size costs the same (then the sizes need not say their price).
    pub fn one_price(&self) -> bool {
        self.sizes
            .windows(2)
            .all(|pair| pair[0].price() == pair[1].price())
    }

    /// The names of the colour's tones as CSS classes understand them: "Green/Brown" is
    /// `green` and `brown`, each drawn as a part of the swatch.
    pub fn tones(&self) -> Vec<String> {
        self.name
            .split('/')
            .map(|tone| {
                tone.trim()
                    .to_lowercase()
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .filter(|word| !word.is_empty())
                    .collect::<Vec<_>>()
                    .join("-")
            })
            .collect()
    }

    fn first_in_stock(&self) -> Option<&VariantRow> {
        self.sizes.iter().find(|v| v.stock > 0)
    }
}

/// The colours of a product and the pair chosen among them.
#[derive(Debug, Clone)]
pub struct Picker {
    /// In the order the product first lists them.
    pub colours: Vec<Colour>,
    /// The chosen colour's name (blank for a product without variants).
    pub color: String,
    /// The chosen size, when the chosen colour has one in stock (or it was asked for).
    pub size: Option<String>,
    /// The product's own price, for a product without variants.
    base_price: Cents,
}

impl Picker {
    /// The choice for `product` when the shopper asked for `color` and `size` (either may
    /// be missing or wrong): the colour asked for, else the first with a size in stock,
    /// else the first; the size asked for when that colour has it in stock (or `keep_size`
    /// says to keep it even when not, to show a refused pair again), else its first size
    /// in stock.
    pub fn of(product: &Product, color: Option<&str>, size: Option<&str>, keep_size: bool) -> Self {
        let mut colours: Vec<Colour> = Vec::new();
        for variant in &product.variants {
            match colours.iter_mut().find(|c| c.name == variant.color) {
                Some(colour) => colour.sizes.push(variant.clone()),
                None => colours.push(Colour {
                    name: variant.color.clone(),
                    picture: product.picture_of(&variant.color),
                    sizes: vec![variant.clone()],
                }),
            }
        }
        let chosen = color
            .and_then(|asked| colours.iter().find(|c| c.name == asked))
            .or_else(|| colours.iter().find(|c| !c.sold_out()))
            .or_else(|| colours.first());
        let (color, size) = match chosen {
            None => (String::new(), None),
            Some(colour) => {
                let asked = size.and_then(|asked| {
                    colour
                        .sizes
                        .iter()
                        .find(|v| v.size == asked && (keep_size || v.stock > 0))
                });
                let size = asked.or_else(|| colour.first_in_stock());
                (colour.name.clone(), size.map(|v| v.size.clone()))
            }
        };
        Self {
            colours,
            color,
            size,
            base_price: product.price(),
        }
    }

    pub fn chosen_colour(&self) -> Option<&Colour> {
        self.colours.iter().find(|c| c.name == self.color)
    }

    /// The chosen pair, when a size is chosen.
    pub fn chosen(&self) -> Option<&VariantRow> {
        let size = self.size.as_deref()?;
        self.chosen_colour()?.sizes.iter().find(|v| v.size == size)
    }

    /// What the chosen pair costs; without a size, the chosen colour's first size, and
    /// without variants the product's own price.
    pub fn price(&self) -> Cents {
        self.chosen()
            .or_else(|| self.chosen_colour().and_then(|c| c.sizes.first()))
            .map_or(self.base_price, VariantRow::price)
    }

    /// The picture of the chosen colour.
    pub fn picture(&self, product: &Product) -> String {
        product.picture_of(&self.color)
    }
}

/// Why a colour and size sent by a form cannot go into the cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairRefused {
    NoSize,
    /// The product does not come in that colour and size.
    Missing {
        product: String,
        pair: String,
    },
    SoldOut {
        pair: String,
    },
}

impl PairRefused {
    pub fn message(&self) -> String {
        match self {
            Self::NoSize => "Choose a size.".to_owned(),
            Self::Missing { product, pair } => {
                format!("The {product} does not come in {pair}. Choose a size.")
            }
            Self::SoldOut { pair } => {
                format!("{pair} is sold out. Choose another size or colour.")
            }
        }
    }

    /// A pair that does not exist is a wrong form (422); one sold out conflicts with the
    /// stock (409), as asking for more than is left does.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::SoldOut { .. })
    }
}

/// The variant of `product` in `color` and `size`, when it exists and is in stock.
pub fn find_pair<'a>(
    product: &'a Product,
    color: &str,
    size: &str,
) -> Result<&'a VariantRow, PairRefused> {
    let (color, size) = (color.trim(), size.trim());
    if size.is_empty() {
        return Err(PairRefused::NoSize);
    }
    let pair = format!("{color} · {size}");
    match product
        .variants
        .iter()
        .find(|v| v.color == color && v.size == size)
    {
        None => Err(PairRefused::Missing {
            product: product.product.name.clone(),
            pair,
        }),
        Some(variant) => in_stock(variant),
    }
}

/// `variant` when it has stock, else refused as sold out.
pub fn in_stock(variant: &VariantRow) -> Result<&VariantRow, PairRefused> {
    if variant.stock > 0 {
        Ok(variant)
    } else {
        Err(PairRefused::SoldOut {
            pair: format!("{} · {}", variant.color, variant.size),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::catalog::ProductRow;
    use crate::domain::Visibility;

    /// A product with one variant per (colour, size, price in cents, stock).
    fn product(variants: &[(&str, &str, i64, i64)]) -> Product {
        Product {
            product: ProductRow {
                id: 1,
                slug: "tee".into(),
                name: "Tee".into(),
                description: String::new(),
                category: "Apparel".into(),
                price_cents: 2000,
                image_key: None,
                visibility: Visibility::Shown,
                sort_order: 1,
                created_at: 0,
            },
            variants: variants
                .iter()
                .zip(1..)
                .map(|(&(color, size, price_cents, stock), id)| VariantRow {
                    id,
                    product_id: 1,
                    color: color.into(),
                    size: size.into(),
                    price_cents,
                    own_price_cents: None,
                    stock,
                    visibility: Visibility::Shown,
                })
                .collect(),
            color_pictures: Vec::new(),
        }
    }

    fn tee() -> Product {
        product(&[
            ("Black", "S", 2000, 0),
            ("Black", "M", 2200, 3),
            ("Green/Brown", "S", 2000, 0),
            ("White", "S", 2000, 9),
        ])
    }

    #[test]
    fn colours_group_their_sizes_in_the_order_the_product_lists_them() {
        let picker = Picker::of(&tee(), None, None, false);
        let names: Vec<_> = picker.colours.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Black", "Green/Brown", "White"]);
        assert_eq!(picker.colours[0].sizes.len(), 2);
        assert!(!picker.colours[0].one_price());
        assert!(picker.colours[1].sold_out());
        assert_eq!(picker.colours[1].tones(), ["green", "brown"]);
    }

    #[test]
    fn the_choice_is_what_was_asked_for_else_the_first_in_stock() {
        let tee = tee();
        let first = Picker::of(&tee, None, None, false);
        assert_eq!(
            (first.color.as_str(), first.size.as_deref()),
            ("Black", Some("M"))
        );
        assert_eq!(first.price(), Cents::new(2200));

        let asked = Picker::of(&tee, Some("White"), Some("S"), false);
        assert_eq!(
            (asked.color.as_str(), asked.size.as_deref()),
            ("White", Some("S"))
        );

        // A sold-out size is not chosen, unless a refused form is shown again.
        let sold_out = Picker::of(&tee, Some("Black"), Some("S"), false);
        assert_eq!(sold_out.size.as_deref(), Some("M"));
        let kept = Picker::of(&tee, Some("Black"), Some("S"), true);
        assert_eq!(kept.size.as_deref(), Some("S"));

        let gone = Picker::of(&tee, Some("Green/Brown"), None, false);
        assert_eq!(
            (gone.color.as_str(), gone.size.as_deref()),
            ("Green/Brown", None)
        );
        assert_eq!(gone.price(), Cents::new(2000));

        let unknown = Picker::of(&tee, Some("Purple"), Some("XXL"), false);
        assert_eq!(unknown.color, "Black");

        let bare = Picker::of(&product(&[]), None, None, false);
        assert!(bare.colours.is_empty() && bare.chosen().is_none());
        assert_eq!(bare.price(), Cents::new(2000));
    }

    #[test]
    fn a_pair_is_found_only_when_it_exists_and_is_in_stock() {
        let tee = tee();
        assert_eq!(find_pair(&tee, "White", " S ").map(|v| v.id), Ok(4));
        assert_eq!(
            find_pair(&tee, "White", "").unwrap_err(),
            PairRefused::NoSize
        );
        let missing = find_pair(&tee, "White", "XL").unwrap_err();
        assert_eq!(
            missing.message(),
            "The Tee does not come in White · XL. Choose a size."
        );
        assert!(!missing.is_conflict());
        let sold_out = find_pair(&tee, "Black", "S").unwrap_err();
        assert_eq!(
            sold_out.message(),
            "Black · S is sold out. Choose another size or colour."
        );
        assert!(sold_out.is_conflict());
    }
}
