//! Products as staff and the import describe them: the slug in a product's address.

use std::fmt;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(name: &str) -> String {
        Slug::from_name(name).unwrap().as_str().to_owned()
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
}
