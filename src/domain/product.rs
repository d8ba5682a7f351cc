//! Products and variants as staff describe them: what a product form and a variant form
//! must hold to be saved, the slug in a product's address, and whether shoppers see it.
//! The admin pages translate their forms into [`ProductFields`] and [`VariantFields`];
//! everything else is here.

use std::fmt;

use super::{Cents, FieldErrors, UnknownValue};

/// Whether shoppers see a product or a variant; staff see every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    #[default]
    Shown,
    Hidden,
}

impl Visibility {
    /// From a "hidden" checkbox.
    pub fn hidden_if(hidden: bool) -> Self {
        if hidden { Self::Hidden } else { Self::Shown }
    }

    pub fn is_hidden(self) -> bool {
        self == Self::Hidden
    }
}

/// Stored as the `hidden` flag: 0 shown, 1 hidden.
impl From<Visibility> for i64 {
    fn from(visibility: Visibility) -> Self {
        match visibility {
            Visibility::Shown => 0,
            Visibility::Hidden => 1,
        }
    }
}

/// Read back from the `hidden` flag; any number but 0 and 1 is refused.
impl TryFrom<i64> for Visibility {
    type Error = UnknownValue;

    fn try_from(hidden: i64) -> Result<Self, Self::Error> {
        match hidden {
            0 => Ok(Self::Shown),
            1 => Ok(Self::Hidden),
            other => Err(UnknownValue {
                kind: "visibility",
                value: other.to_string(),
            }),
        }
    }
}

/// A product's part of its address, as in `/shop/coffee-radar-t-shirt`: words of
/// lower-case ASCII letters and digits joined by single dashes, derived from the name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub const MAX_CHARS: usize = 100;

    /// `Coffee Radar T-Shirt` → `coffee-radar-t-shirt`. Every run of other characters
    /// (spaces, punctuation, accented letters) becomes one dash, none at either end; a
    /// name without an ASCII letter or digit has no slug.
    pub fn from_name(name: &str) -> Result<Self, String> {
        let mut slug = String::with_capacity(name.len());
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug: String = slug.chars().take(Self::MAX_CHARS).collect();
        let slug = slug.trim_end_matches('-');
        if slug.is_empty() {
            return Err("The name needs at least one letter or digit.".into());
        }
        Ok(Self(slug.to_owned()))
    }

    /// `coffee-mug-2`: the `n`th try at a slug another product already has.
    pub fn numbered(&self, n: u32) -> Self {
        Self(format!("{}-{n}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A product form as typed, before any check.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProductFields<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub category: &'a str,
    pub price: &'a str,
    pub hidden: bool,
}

/// A product's name, slug, description, category, price and visibility, checked; made
/// only by [`ProductDetails::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductDetails {
    name: String,
    slug: Slug,
    description: String,
    category: String,
    price: Cents,
    visibility: Visibility,
}

impl ProductDetails {
    pub const NAME_MAX_CHARS: usize = 200;
    pub const CATEGORY_MAX_CHARS: usize = 60;
    pub const DESCRIPTION_MAX_CHARS: usize = 5000;

    /// Checks every field and reports each one that is wrong, under the form's field
    /// names; text is kept trimmed and the slug is derived from the name.
    pub fn parse(fields: &ProductFields<'_>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = errors.check(
            "name",
            required_text(fields.name, Self::NAME_MAX_CHARS, "the product a name", "")
                .and_then(|name| Ok((Slug::from_name(&name)?, name))),
        );
        let category = errors.check(
            "category",
            required_text(fields.category, Self::CATEGORY_MAX_CHARS, "a category", ""),
        );
        let description = fields.description.trim();
        if description.chars().count() > Self::DESCRIPTION_MAX_CHARS {
            errors.add(
                "description",
                format!(
                    "The description may have at most {} characters.",
                    Self::DESCRIPTION_MAX_CHARS
                ),
            );
        }
        let price = errors.check("price", Cents::parse_price(fields.price));
        match (name, category, price) {
            (Some((slug, name)), Some(category), Some(price)) if errors.is_empty() => Ok(Self {
                name,
                slug,
                description: description.to_owned(),
                category,
                price,
                visibility: Visibility::hidden_if(fields.hidden),
            }),
            _ => Err(errors),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn slug(&self) -> &Slug {
        &self.slug
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn category(&self) -> &str {
        &self.category
    }

    pub fn price(&self) -> Cents {
        self.price
    }

    pub fn visibility(&self) -> Visibility {
        self.visibility
    }
}

/// A variant form as typed, before any check; an empty price means the product's.
#[derive(Debug, Clone, Copy, Default)]
pub struct VariantFields<'a> {
    pub color: &'a str,
    pub size: &'a str,
    pub price: &'a str,
    pub stock: &'a str,
    pub hidden: bool,
}

/// A variant's colour, size, own price, stock and visibility, checked; made only by
/// [`VariantDetails::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantDetails {
    color: String,
    size: String,
    price: Option<Cents>,
    stock: i64,
    visibility: Visibility,
}

impl VariantDetails {
    pub const COLOR_MAX_CHARS: usize = 60;
    pub const SIZE_MAX_CHARS: usize = 30;
    pub const STOCK_MAX: i64 = 1_000_000;

    /// Checks every field and reports each one that is wrong, under the form's field
    /// names; colour and size are kept trimmed.
    pub fn parse(fields: &VariantFields<'_>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let color = errors.check(
            "color",
            required_text(fields.color, Self::COLOR_MAX_CHARS, "a colour", ""),
        );
        let size = errors.check(
            "size",
            required_text(
                fields.size,
                Self::SIZE_MAX_CHARS,
                "a size",
                ", such as M or U",
            ),
        );
        let price = errors.check(
            "price",
            match fields.price.trim() {
                "" => Ok(None),
                price => Cents::parse_price(price).map(Some),
            },
        );
        let stock = errors.check(
            "stock",
            fields
                .stock
                .trim()
                .parse()
                .ok()
                .filter(|stock| (0..=Self::STOCK_MAX).contains(stock))
                .ok_or_else(|| {
                    format!(
                        "Stock must be a whole number from 0 to {}.",
                        Self::STOCK_MAX
                    )
                }),
        );
        match (color, size, price, stock) {
            (Some(color), Some(size), Some(price), Some(stock)) => Ok(Self {
                color,
                size,
                price,
                stock,
                visibility: Visibility::hidden_if(fields.hidden),
            }),
            _ => Err(errors),
        }
    }

    pub fn color(&self) -> &str {
        &self.color
    }

    pub fn size(&self) -> &str {
        &self.size
    }

    /// The variant's own price; `None` when it follows the product's.
    pub fn price(&self) -> Option<Cents> {
        self.price
    }

    pub fn stock(&self) -> i64 {
        self.stock
    }

    pub fn visibility(&self) -> Visibility {
        self.visibility
    }
}

/// `raw` trimmed, when that leaves some text and at most `max_chars` characters; else
/// "Give `what` of at most `max_chars` characters`example`."
fn required_text(raw: &str, max_chars: usize, what: &str, example: &str) -> Result<String, String> {
    let text = raw.trim();
    if text.is_empty() || text.chars().count() > max_chars {
        return Err(format!(
            "Give {what} of at most {max_chars} characters{example}."
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(name: &str) -> String {
        Slug::from_name(name).unwrap().as_str().to_owned()
    }

    #[test]
    fn visibility_reads_back_the_hidden_flag_it_stores() {
        for visibility in [Visibility::Shown, Visibility::Hidden] {
            assert_eq!(Visibility::try_from(i64::from(visibility)), Ok(visibility));
        }
        assert_eq!(i64::from(Visibility::hidden_if(true)), 1);
        assert_eq!(i64::from(Visibility::hidden_if(false)), 0);
        assert!(Visibility::Hidden.is_hidden() && !Visibility::Shown.is_hidden());
    }

    #[test]
    fn a_hidden_flag_other_than_zero_or_one_is_refused() {
        for stored in [-1, 2, i64::MAX] {
            let error = Visibility::try_from(stored).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("unknown visibility \"{stored}\"")
            );
        }
    }

    #[test]
    fn slugs_are_lower_case_words_joined_by_dashes() {
        assert_eq!(slug("Coffee Radar T-Shirt"), "coffee-radar-t-shirt");
        assert_eq!(slug("Mug 350 ml"), "mug-350-ml");
    }

    #[test]
    fn punctuation_and_spaces_become_one_dash_and_none_at_the_ends() {
        assert_eq!(slug("  Hello,  World!! "), "hello-world");
        assert_eq!(slug("--Pour-over -- Kettle--"), "pour-over-kettle");
        assert_eq!(slug("50% off: <b>beans</b>"), "50-off-b-beans-b");
    }

    #[test]
    fn accented_letters_separate_words_like_punctuation() {
        assert_eq!(slug("  Café  crème! "), "caf-cr-me");
        assert_eq!(slug("ÉCLAIR"), "clair");
    }

    #[test]
    fn a_name_without_ascii_letters_or_digits_has_no_slug() {
        for name in ["", "   ", "!!!", "é", "日本茶"] {
            assert_eq!(
                Slug::from_name(name).unwrap_err(),
                "The name needs at least one letter or digit.",
                "{name:?}"
            );
        }
    }

    #[test]
    fn long_names_are_cut_to_the_maximum_without_a_trailing_dash() {
        assert_eq!(slug(&"a".repeat(300)), "a".repeat(Slug::MAX_CHARS));
        let name = format!("{} tail", "b".repeat(Slug::MAX_CHARS - 1));
        assert_eq!(slug(&name), "b".repeat(Slug::MAX_CHARS - 1));
    }

    #[test]
    fn a_taken_slug_is_tried_again_with_a_number() {
        let base = Slug::from_name("Coffee Mug").unwrap();
        assert_eq!(base.numbered(2).as_str(), "coffee-mug-2");
    }

    const KETTLE: ProductFields<'static> = ProductFields {
        name: " Pour-over Kettle ",
        description: " Gooseneck, 1 litre. ",
        category: " Brewing ",
        price: "39.90",
        hidden: false,
    };

    /// The messages of a refused form, in order.
    fn refused<T: fmt::Debug>(parsed: Result<T, FieldErrors>) -> Vec<(String, String)> {
        parsed
            .unwrap_err()
            .iter()
            .map(|(field, message)| (field.to_owned(), message.to_owned()))
            .collect()
    }

    fn product_errors(fields: ProductFields<'_>) -> Vec<(String, String)> {
        refused(ProductDetails::parse(&fields))
    }

    fn only(field: &str, message: &str) -> Vec<(String, String)> {
        vec![(field.to_owned(), message.to_owned())]
    }

    #[test]
    fn a_valid_product_is_kept_trimmed_with_its_slug() {
        let kettle = ProductDetails::parse(&ProductFields {
            hidden: true,
            ..KETTLE
        })
        .unwrap();
        assert_eq!(kettle.name(), "Pour-over Kettle");
        assert_eq!(kettle.slug().as_str(), "pour-over-kettle");
        assert_eq!(kettle.description(), "Gooseneck, 1 litre.");
        assert_eq!(kettle.category(), "Brewing");
        assert_eq!(kettle.price(), Cents::new(3990));
        assert_eq!(kettle.visibility(), Visibility::Hidden);
    }

    #[test]
    fn a_product_needs_a_name_of_at_most_200_characters_with_a_letter_or_digit() {
        let too_long = "n".repeat(201);
        for name in ["", "   ", too_long.as_str()] {
            assert_eq!(
                product_errors(ProductFields { name, ..KETTLE }),
                only("name", "Give the product a name of at most 200 characters."),
                "{name:?}"
            );
        }
        assert_eq!(
            product_errors(ProductFields {
                name: "!!!",
                ..KETTLE
            }),
            only("name", "The name needs at least one letter or digit.")
        );
        let longest = "n".repeat(200);
        assert!(
            ProductDetails::parse(&ProductFields {
                name: &longest,
                ..KETTLE
            })
            .is_ok()
        );
    }

    #[test]
    fn a_product_needs_a_category_of_at_most_60_characters() {
        let too_long = "c".repeat(61);
        for category in ["", " ", too_long.as_str()] {
            assert_eq!(
                product_errors(ProductFields { category, ..KETTLE }),
                only("category", "Give a category of at most 60 characters.")
            );
        }
    }

    #[test]
    fn a_description_is_optional_but_at_most_5000_characters() {
        assert!(
            ProductDetails::parse(&ProductFields {
                description: "",
                ..KETTLE
            })
            .is_ok()
        );
        let too_long = "d".repeat(5001);
        assert_eq!(
            product_errors(ProductFields {
                description: &too_long,
                ..KETTLE
            }),
            only(
                "description",
                "The description may have at most 5000 characters."
            )
        );
    }

    #[test]
    fn a_product_needs_a_price_as_staff_type_it() {
        assert_eq!(
            product_errors(ProductFields {
                price: "abc",
                ..KETTLE
            }),
            only("price", "Enter a price such as 12.50.")
        );
        assert_eq!(
            product_errors(ProductFields {
                price: "0",
                ..KETTLE
            }),
            only("price", "Price must be more than zero.")
        );
    }

    #[test]
    fn every_wrong_product_field_is_reported_at_once() {
        let fields: Vec<String> = product_errors(ProductFields {
            name: "",
            category: "",
            price: "abc",
            ..KETTLE
        })
        .into_iter()
        .map(|(field, _)| field)
        .collect();
        assert_eq!(fields, ["name", "category", "price"]);
    }

    const STEEL: VariantFields<'static> = VariantFields {
        color: " Steel ",
        size: " 1 l ",
        price: "",
        stock: " 7 ",
        hidden: false,
    };

    fn variant_errors(fields: VariantFields<'_>) -> Vec<(String, String)> {
        refused(VariantDetails::parse(&fields))
    }

    #[test]
    fn a_valid_variant_is_kept_trimmed_and_follows_the_product_price_unless_given_one() {
        let steel = VariantDetails::parse(&STEEL).unwrap();
        assert_eq!((steel.color(), steel.size()), ("Steel", "1 l"));
        assert_eq!(
            (steel.price(), steel.stock(), steel.visibility()),
            (None, 7, Visibility::Shown)
        );
        let own = VariantDetails::parse(&VariantFields {
            price: " 42.5 ",
            hidden: true,
            ..STEEL
        })
        .unwrap();
        assert_eq!(own.price(), Some(Cents::new(4250)));
        assert_eq!(own.visibility(), Visibility::Hidden);
    }

    #[test]
    fn a_variant_needs_a_colour_of_at_most_60_and_a_size_of_at_most_30_characters() {
        let long_color = "c".repeat(61);
        for color in ["", "  ", long_color.as_str()] {
            assert_eq!(
                variant_errors(VariantFields { color, ..STEEL }),
                only("color", "Give a colour of at most 60 characters.")
            );
        }
        let long_size = "s".repeat(31);
        for size in ["", long_size.as_str()] {
            assert_eq!(
                variant_errors(VariantFields { size, ..STEEL }),
                only(
                    "size",
                    "Give a size of at most 30 characters, such as M or U."
                )
            );
        }
    }

    #[test]
    fn a_variant_price_when_given_is_a_price() {
        assert_eq!(
            variant_errors(VariantFields {
                price: "-1",
                ..STEEL
            }),
            only("price", "Enter a price such as 12.50.")
        );
    }

    #[test]
    fn every_wrong_variant_field_is_reported_at_once() {
        let errors = variant_errors(VariantFields {
            color: "",
            stock: "many",
            ..STEEL
        });
        let fields: Vec<&str> = errors.iter().map(|(field, _)| field.as_str()).collect();
        assert_eq!(fields, ["color", "stock"]);
    }

    #[test]
    fn stock_is_a_whole_number_from_zero_to_a_million() {
        for stock in ["0", "1000000"] {
            assert!(VariantDetails::parse(&VariantFields { stock, ..STEEL }).is_ok());
        }
        for stock in ["", "-1", "1000001", "2.5", "many"] {
            assert_eq!(
                variant_errors(VariantFields { stock, ..STEEL }),
                only("stock", "Stock must be a whole number from 0 to 1000000."),
                "{stock:?}"
            );
        }
    }
}
