//! Finding products by what people type.
//!
//! Shoppers type a word or two the way they say it: "mugs", "tshirt", "black", "blak mug".
//! A product is found when every word they typed matches one of its words: in its name,
//! category, colours, sizes or description. Words are compared without case or accents,
//! as singulars ("mugs" is "mug"), with hyphens and spaces inside a name forgiven
//! ("tshirt", "t-shirt" and "t shirt" are all "T-Shirt"), and, except in descriptions,
//! with a typo or two forgiven in longer words. Each match scores by where it was found
//! and how exactly, so that the best matches can come first.
//!
//! A product's words are read once, when the catalog is loaded ([`SearchText`]); a search
//! is read once per request ([`SearchQuery`]).

/// Where a word of a product was found: a name weighs more than a description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Category,
    Colour,
    Size,
    Description,
}

impl Field {
    fn weight(self) -> u32 {
        match self {
            Self::Name => 5,
            Self::Category => 4,
            Self::Colour | Self::Size => 3,
            Self::Description => 1,
        }
    }

    /// Typos are forgiven in the short labels only: in prose they find too much by chance.
    fn forgives_typos(self) -> bool {
        self != Self::Description
    }
}

/// The words of one product that a search can match, each with its field.
#[derive(Debug, Default, Clone)]
pub struct SearchText {
    words: Vec<(Field, String)>,
}

impl SearchText {
    /// Adds the words of `text`, found in `field`.
    ///
    /// Besides each word, a labelled field also holds its neighbours written together
    /// ("Coffee maker" holds "coffeemaker", "350 ml" holds "350ml"), and every field holds
    /// the parts of a word written with hyphens or slashes together ("T-Shirt" holds
    /// "tshirt"), since people type names both ways.
    pub fn add(&mut self, field: Field, text: &str) {
        let chunks: Vec<Vec<String>> = text.split_whitespace().map(word_parts).collect();
        for parts in &chunks {
            for part in parts {
                self.push(field, part);
            }
            if parts.len() > 1 {
                self.push(field, &parts.concat());
            }
        }
        if field != Field::Description {
            for pair in chunks.windows(2) {
                self.push(field, &format!("{}{}", pair[0].concat(), pair[1].concat()));
            }
        }
    }

    fn push(&mut self, field: Field, word: &str) {
        if !word.is_empty() {
            self.words.push((field, singular(word)));
        }
    }
}

/// What a shopper searched for, as words to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    words: Vec<String>,
}

/// Words that say nothing about a product; ignored unless they are all there is.
const FILLER_WORDS: &[&str] = &[
    "a", "an", "and", "for", "in", "of", "on", "or", "the", "to", "with",
];

impl SearchQuery {
    /// The words of `text` (each one, hyphens and slashes inside it dropped: "t-shirt" is
    /// "tshirt"), or `None` when it has none.
    pub fn parse(text: &str) -> Option<Self> {
        let all: Vec<String> = text
            .split_whitespace()
            .map(|chunk| singular(&word_parts(chunk).concat()))
            .filter(|word| !word.is_empty())
            .collect();
        let meaningful: Vec<String> = all
            .iter()
            .filter(|word| !FILLER_WORDS.contains(&word.as_str()))
            .cloned()
            .collect();
        let words = if meaningful.is_empty() {
            all
        } else {
            meaningful
        };
        (!words.is_empty()).then_some(Self { words })
    }

    /// How well `text` matches, higher is better; `None` when a word matches nothing.
    pub fn score(&self, text: &SearchText) -> Option<u32> {
        self.words
            .iter()
            .map(|typed| {
                text.words
                    .iter()
                    .filter_map(|(field, word)| {
                        closeness(typed, word, field.forgives_typos()).map(|c| c * field.weight())
                    })
                    .max()
            })
            .sum()
    }
}

/// How close a typed word is to a product's word: 4 for the same word, 3 when it begins
/// the word (someone still typing: "cof"), 2 or 1 for one or two typos; `None` otherwise.
fn closeness(typed: &str, word: &str, forgive_typos: bool) -> Option<u32> {
    if typed == word {
        return Some(4);
    }
    let typed_len = typed.chars().count();
    if typed_len >= 3 && word.starts_with(typed) {
        return Some(3);
    }
    if !forgive_typos {
        return None;
    }
    let forgiven = match typed_len {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    };
    match strsim::damerau_levenshtein(typed, word) {
        0 => Some(4),
        edits if edits <= forgiven => Some(3 - edits as u32),
        _ => None,
    }
}

/// The letters and digits of a word, lower case and without accents, in the runs that
/// punctuation separates: "T-Shirt" is ["t", "shirt"], "Café," is ["cafe"].
fn word_parts(chunk: &str) -> Vec<String> {
    chunk
        .split(|c: char| !c.is_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.chars()
                .flat_map(char::to_lowercase)
                .map(plain_letter)
                .collect()
        })
        .collect()
}

/// A Latin letter without its accent ("é" is "e"), so that "cafe" finds "café".
fn plain_letter(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        other => other,
    }
}

/// An English plural as its singular, near enough for matching: both sides of a
/// comparison go through it, so "accessories" and "accessory" meet at "accessory".
fn singular(word: &str) -> String {
    if word.chars().count() <= 3 {
        return word.to_owned();
    }
    if let Some(stem) = word.strip_suffix("ies") {
        return format!("{stem}y");
    }
    for ending in ["sses", "shes", "ches", "xes", "zes"] {
        if word.ends_with(ending) {
            return word[..word.len() - 2].to_owned();
        }
    }
    if ["ss", "us", "is"]
        .iter()
        .any(|ending| word.ends_with(ending))
    {
        return word.to_owned();
    }
    word.strip_suffix('s').unwrap_or(word).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mug() -> SearchText {
        let mut text = SearchText::default();
        text.add(Field::Name, "Coffee Radar Mug");
        text.add(Field::Category, "Drinkware");
        text.add(Field::Colour, "Black");
        text.add(Field::Size, "350 ml");
        text.add(
            Field::Description,
            "A sturdy glazed ceramic mug, dishwasher safe.",
        );
        text
    }

    fn shirt() -> SearchText {
        let mut text = SearchText::default();
        text.add(Field::Name, "Coffee Radar T-Shirt");
        text.add(Field::Category, "Apparel");
        text.add(Field::Colour, "Green/Brown");
        text.add(Field::Size, "XL");
        text.add(
            Field::Description,
            "A soft organic cotton tee for café hopping.",
        );
        text
    }

    fn score(typed: &str, text: &SearchText) -> Option<u32> {
        SearchQuery::parse(typed).unwrap().score(text)
    }

    #[test]
    fn blank_searches_have_no_words() {
        assert_eq!(SearchQuery::parse(""), None);
        assert_eq!(SearchQuery::parse("  - / "), None);
    }

    #[test]
    fn plurals_find_their_singular_and_back() {
        assert!(score("mugs", &mug()).is_some());
        assert!(score("shirts", &shirt()).is_some());
        assert_eq!(singular("accessories"), singular("accessory"));
        assert_eq!(singular("glasses"), "glass");
        assert_eq!(singular("boxes"), "box");
        assert_eq!(singular("glass"), "glass");
        assert_eq!(singular("bus"), "bus");
    }

    #[test]
    fn a_hyphenated_name_is_found_written_any_way() {
        for typed in ["tshirt", "t-shirt", "T-Shirts", "t shirt", "TSHIRT"] {
            assert!(score(typed, &shirt()).is_some(), "{typed}");
        }
        assert!(score("coffeeradar", &mug()).is_some());
        assert!(score("350ml", &mug()).is_some());
    }

    #[test]
    fn colours_sizes_categories_and_descriptions_are_searched() {
        assert!(score("black", &mug()).is_some());
        assert!(score("black", &shirt()).is_none());
        assert!(score("brown", &shirt()).is_some());
        assert!(score("xl", &shirt()).is_some());
        assert!(score("drinkware", &mug()).is_some());
        assert!(score("ceramic", &mug()).is_some());
        assert!(score("cafe", &shirt()).is_some(), "accents are forgiven");
    }

    #[test]
    fn every_word_typed_must_match_but_filler_words_are_ignored() {
        assert!(score("black mug", &mug()).is_some());
        assert!(score("black shirt", &shirt()).is_none());
        assert!(score("a mug for the table", &mug()).is_none());
        assert!(score("a mug for the", &mug()).is_some());
        assert!(score("the", &shirt()).is_none());
    }

    #[test]
    fn small_typos_are_forgiven_in_labels_not_in_descriptions() {
        assert!(score("blak", &mug()).is_some());
        assert!(score("cofee", &mug()).is_some());
        assert!(score("drinkwear", &mug()).is_some());
        assert!(score("apparell", &shirt()).is_some());
        // Short words must be right: "bag" is not "mug".
        assert!(score("bag", &mug()).is_none());
        // In descriptions, words are matched as written (or begun).
        assert!(score("ceramik", &mug()).is_none());
        assert!(score("cera", &mug()).is_some());
    }

    #[test]
    fn exact_words_in_names_score_above_typos_and_descriptions() {
        let exact = score("mug", &mug()).unwrap();
        let begun = score("coff", &mug()).unwrap();
        let typo = score("mugg", &mug()).unwrap();
        assert!(exact > begun && begun > typo, "{exact} {begun} {typo}");
        assert!(score("radar", &mug()) > score("sturdy", &mug()));
    }
}
