//! What an account may do: every account shops; admins also run the shop's pages.

use super::stored_by_name;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Shopper,
    Admin,
}

impl Role {
    pub const ALL: [Role; 2] = [Self::Shopper, Self::Admin];

    /// The name stored in the database and sent by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shopper => "shopper",
            Self::Admin => "admin",
        }
    }
}

stored_by_name!(Role, "role");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_back_what_they_store() {
        for role in Role::ALL {
            assert_eq!(Role::try_from(role.as_str().to_owned()), Ok(role));
            assert_eq!(role.to_string(), role.as_str());
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
        assert_eq!(Role::Admin.as_str(), "admin");
        assert_eq!(Role::Shopper.as_str(), "shopper");
    }

    #[test]
    fn an_unknown_role_is_refused_not_taken_for_a_shopper() {
        for stored in ["", "Admin", "staff", "admin "] {
            let error = Role::try_from(stored.to_owned()).unwrap_err();
            assert_eq!(error.to_string(), format!("unknown role {stored:?}"));
        }
    }
}
