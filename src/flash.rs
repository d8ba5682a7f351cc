//! One-time messages shown on the page after a redirect, carried by a cookie.

use axum_extra::extract::CookieJar;

pub const FLASH_COOKIE: &str = "cr_flash";

/// Messages shown once on the page after a redirect. Only these fixed texts can be shown,
/// so a forged cookie cannot put words in the shop's mouth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flash {
    Registered,
    SignedIn,
    SignedOut,
    AddedToCart,
    CartUpdated,
    OrderPlaced,
    OrderPaid,
    OrderCancelled,
    ProfileSaved,
    PasswordChanged,
    PhotoUpdated,
    ResetSent,
    PasswordReset,
    AccountDeleted,
    Saved,
    OrderAdvanced,
}

impl Flash {
    const ALL: [Flash; 16] = [
        Self::Registered,
        Self::SignedIn,
        Self::SignedOut,
        Self::AddedToCart,
        Self::CartUpdated,
        Self::OrderPlaced,
        Self::OrderPaid,
        Self::OrderCancelled,
        Self::ProfileSaved,
        Self::PasswordChanged,
        Self::PhotoUpdated,
        Self::ResetSent,
        Self::PasswordReset,
        Self::AccountDeleted,
        Self::Saved,
        Self::OrderAdvanced,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::SignedIn => "signed-in",
            Self::SignedOut => "signed-out",
            Self::AddedToCart => "added",
            Self::CartUpdated => "cart",
            Self::OrderPlaced => "placed",
            Self::OrderPaid => "paid",
            Self::OrderCancelled => "cancelled",
            Self::ProfileSaved => "profile",
            Self::PasswordChanged => "password",
            Self::PhotoUpdated => "photo",
            Self::ResetSent => "reset-sent",
            Self::PasswordReset => "reset",
            Self::AccountDeleted => "deleted",
            Self::Saved => "saved",
            Self::OrderAdvanced => "advanced",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::Registered => "Welcome to Coffee Radar! Your account is ready.",
            Self::SignedIn => "You are signed in.",
            Self::SignedOut => "You are signed out. See you soon!",
            Self::AddedToCart => "Added to your cart.",
            Self::CartUpdated => "Your cart is updated.",
            Self::OrderPlaced => {
                "Thank you! Your order is placed; a confirmation is on its way by mail."
            }
            Self::OrderPaid => "Thank you! Your payment went through and your order is paid.",
            Self::OrderCancelled => "Your order is cancelled.",
            Self::ProfileSaved => "Your profile is saved.",
            Self::PasswordChanged => "Your password is changed.",
            Self::PhotoUpdated => "Your profile picture is updated.",
            Self::ResetSent => {
                "If an account uses that email, a reset link is on its way. It works once, for the time the mail says."
            }
            Self::PasswordReset => "Your password is changed. Sign in with the new one.",
            Self::AccountDeleted => "Your account is deleted. Thank you for shopping with us.",
            Self::Saved => "Saved.",
            Self::OrderAdvanced => "The order moved to its next step.",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.code() == code)
    }

    pub fn from_jar(jar: &CookieJar) -> Option<Self> {
        jar.get(FLASH_COOKIE)
            .and_then(|c| Self::from_code(c.value()))
    }
}
