//! Where an order goes: a structured shipping address, checked field by field.

use std::fmt;

use isocountry::CountryCode;

use super::FieldErrors;

/// An address form as typed, before any check; field names are the form's and the API's.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
pub struct AddressFields {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub line1: String,
    #[serde(default)]
    pub line2: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. `ES`.
    #[serde(default)]
    pub country: String,
}

/// A checked shipping address; made only by [`ShippingAddress::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingAddress {
    name: String,
    line1: String,
    line2: Option<String>,
    city: String,
    postal_code: String,
    country: CountryCode,
}

impl ShippingAddress {
    pub const NAME_MAX_CHARS: usize = 100;
    pub const LINE_MAX_CHARS: usize = 200;
    pub const CITY_MAX_CHARS: usize = 100;
    pub const POSTAL_CODE_MAX_CHARS: usize = 20;

    /// Checks every field and reports each one that is wrong, under its own name (a
    /// `prefix` such as `address.` is put before it, for the API's nested object).
    pub fn parse(fields: &AddressFields, prefix: &str) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let field = |name: &str| format!("{prefix}{name}");
        let name = errors.check(
            &field("name"),
            text(&fields.name, Self::NAME_MAX_CHARS, "the name to deliver to"),
        );
        let line1 = errors.check(
            &field("line1"),
            text(&fields.line1, Self::LINE_MAX_CHARS, "the street and number"),
        );
        let line2 = errors.check(
            &field("line2"),
            optional_text(&fields.line2, Self::LINE_MAX_CHARS),
        );
        let city = errors.check(
            &field("city"),
            text(&fields.city, Self::CITY_MAX_CHARS, "the city"),
        );
        let postal_code = errors.check(&field("postal_code"), postal_code(&fields.postal_code));
        let country = errors.check(&field("country"), country(&fields.country));
        match (name, line1, line2, city, postal_code, country) {
            (
                Some(name),
                Some(line1),
                Some(line2),
                Some(city),
                Some(postal_code),
                Some(country),
            ) => Ok(Self {
                name,
                line1,
                line2,
                city,
                postal_code,
                country,
            }),
            _ => Err(errors),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn line1(&self) -> &str {
        &self.line1
    }

    pub fn line2(&self) -> Option<&str> {
        self.line2.as_deref()
    }

    pub fn city(&self) -> &str {
        &self.city
    }

    pub fn postal_code(&self) -> &str {
        &self.postal_code
    }

    /// The ISO 3166-1 alpha-2 code, e.g. `ES`.
    pub fn country_code(&self) -> &'static str {
        self.country.alpha2()
    }

    pub fn country_name(&self) -> &'static str {
        self.country.name()
    }

    /// The fields as a form shows them again.
    pub fn fields(&self) -> AddressFields {
        AddressFields {
            name: self.name.clone(),
            line1: self.line1.clone(),
            line2: self.line2.clone().unwrap_or_default(),
            city: self.city.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country_code().to_owned(),
        }
    }
}

/// The address as a label: one line per part, as on a parcel.
impl fmt::Display for ShippingAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.name)?;
        writeln!(f, "{}", self.line1)?;
        if let Some(line2) = &self.line2 {
            writeln!(f, "{line2}")?;
        }
        writeln!(f, "{} {}", self.postal_code, self.city)?;
        write!(f, "{}", self.country.name())
    }
}

/// Every country an address may name, as (code, name), by name.
pub fn countries() -> &'static [(&'static str, &'static str)] {
    static COUNTRIES: std::sync::LazyLock<Vec<(&'static str, &'static str)>> =
        std::sync::LazyLock::new(|| {
            let mut all: Vec<_> = CountryCode::iter()
                .map(|c| (c.alpha2(), c.name()))
                .collect();
            all.sort_by_key(|(_, name)| *name);
            all
        });
    &COUNTRIES
}

fn text(raw: &str, max: usize, what: &str) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(format!("Give {what}."));
    }
    optional_text(value, max).map(|v| v.unwrap_or_default())
}

fn optional_text(raw: &str, max: usize) -> Result<Option<String>, String> {
    let value = raw.trim();
    if value.chars().any(char::is_control) {
        return Err("Use one line, without control characters.".into());
    }
    if value.chars().count() > max {
        return Err(format!("At most {max} characters."));
    }
    Ok(Some(value.to_owned()).filter(|v| !v.is_empty()))
}

fn postal_code(raw: &str) -> Result<String, String> {
    let value = raw.trim().to_uppercase();
    let well_formed = (2..=ShippingAddress::POSTAL_CODE_MAX_CHARS).contains(&value.chars().count())
        && value.chars().any(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-');
    if well_formed {
        Ok(value)
    } else {
        Err("Give the postal code: letters, digits, spaces or dashes, such as 28013.".into())
    }
}

fn country(raw: &str) -> Result<CountryCode, String> {
    CountryCode::for_alpha2_caseless(raw.trim())
        .map_err(|_| "Choose the country (a two-letter code such as ES or US).".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn madrid() -> AddressFields {
        AddressFields {
            name: " Ana García ".into(),
            line1: "Calle Mayor 1".into(),
            line2: "".into(),
            city: "Madrid".into(),
            postal_code: "28013".into(),
            country: "es".into(),
        }
    }

    #[test]
    fn a_full_address_is_kept_trimmed_and_printed_as_a_label() {
        let address = ShippingAddress::parse(&madrid(), "").unwrap();
        assert_eq!(address.name(), "Ana García");
        assert_eq!(address.country_code(), "ES");
        assert_eq!(address.line2(), None);
        assert_eq!(
            address.to_string(),
            "Ana García\nCalle Mayor 1\n28013 Madrid\nSpain"
        );
        assert_eq!(
            ShippingAddress::parse(&address.fields(), "").unwrap(),
            address
        );
    }

    #[test]
    fn each_wrong_field_is_named_under_the_prefix() {
        let fields = AddressFields {
            name: "".into(),
            postal_code: "<script>".into(),
            country: "Narnia".into(),
            line2: "x".repeat(201),
            ..madrid()
        };
        let errors = ShippingAddress::parse(&fields, "address.").unwrap_err();
        let named: Vec<&str> = errors.iter().map(|(f, _)| f).collect();
        assert_eq!(
            named,
            [
                "address.name",
                "address.line2",
                "address.postal_code",
                "address.country"
            ]
        );
    }

    #[test]
    fn control_characters_and_blank_lines_are_refused() {
        let fields = AddressFields {
            line1: "Calle\u{0}Mayor".into(),
            city: "   ".into(),
            ..madrid()
        };
        let errors = ShippingAddress::parse(&fields, "").unwrap_err();
        assert!(errors.get("line1").is_some() && errors.get("city").is_some());
    }
}
