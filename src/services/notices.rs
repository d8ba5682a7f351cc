//! The mails a shopper gets: a welcome when they register, and news about an order
//! (placed, paid, shipped, cancelled, refunded) with its lines and figures. Each is a text
//! part and an HTML part drawn from `templates/mail/`; they are sent in the background, and
//! a failure never reaches the shopper (see [`crate::mail`]).

use askama::Template;

use super::Services;
use crate::db::orders::Order;
use crate::db::users::UserRow;
use crate::domain::Cents;
use crate::domain::pricing::Totals;
use crate::error::AppResult;

/// What happened to the order, as the mail's subject and first line say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderNews {
    Placed,
    Paid,
    Shipped,
    Cancelled,
    Refunded,
}

impl OrderNews {
    fn subject(self, code: &str) -> String {
        match self {
            Self::Placed => format!("Your Coffee Radar order {code}"),
            Self::Paid => format!("Your Coffee Radar order {code} is paid"),
            Self::Shipped => format!("Your Coffee Radar order {code} has shipped"),
            Self::Cancelled => format!("Your Coffee Radar order {code} is cancelled"),
            Self::Refunded => format!("Your Coffee Radar order {code} is refunded"),
        }
    }

    fn headline(self, code: &str) -> String {
        match self {
            Self::Placed => format!("Thank you for your order {code}."),
            Self::Paid => {
                format!("We have your payment for order {code}: it is on its way to being packed.")
            }
            Self::Shipped => format!("Your order {code} has left the shop."),
            Self::Cancelled => format!("Your order {code} is cancelled."),
            Self::Refunded => format!("Your order {code} is cancelled and its payment refunded."),
        }
    }
}

#[derive(Template)]
#[template(path = "mail/order.txt", escape = "none")]
struct OrderText<'a> {
    first_name: &'a str,
    headline: String,
    order: &'a Order,
    totals: Totals,
    /// Where the order page is; none for a guest's later news (only the confirmation
    /// carries the key, whose hash alone is kept).
    link: Option<String>,
}

#[derive(Template)]
#[template(path = "mail/order.html")]
struct OrderHtml<'a> {
    subject: &'a str,
    first_name: &'a str,
    headline: String,
    order: &'a Order,
    totals: Totals,
    /// Where the order page is; none for a guest's later news (only the confirmation
    /// carries the key, whose hash alone is kept).
    link: Option<String>,
}

impl OrderText<'_> {
    fn refunded(&self) -> Cents {
        Cents::new(self.order.order.refunded_cents)
    }
}

impl OrderHtml<'_> {
    fn refunded(&self) -> Cents {
        Cents::new(self.order.order.refunded_cents)
    }
}

#[derive(Template)]
#[template(path = "mail/welcome.txt", escape = "none")]
struct WelcomeText<'a> {
    first_name: &'a str,
    username: &'a str,
    shop: String,
    radar: String,
}

#[derive(Template)]
#[template(path = "mail/welcome.html")]
struct WelcomeHtml<'a> {
    first_name: &'a str,
    username: &'a str,
    shop: String,
    radar: String,
}

/// Welcomes a shopper who has just registered.
pub fn welcome(services: &Services, user: &UserRow) {
    let base = &services.settings.public_url;
    let (shop, radar) = (format!("{base}/shop"), format!("{base}/radar"));
    let text = WelcomeText {
        first_name: &user.first_name,
        username: &user.username,
        shop: shop.clone(),
        radar: radar.clone(),
    }
    .render();
    let html = WelcomeHtml {
        first_name: &user.first_name,
        username: &user.username,
        shop,
        radar,
    }
    .render();
    send(
        services,
        user.into(),
        "Welcome to Coffee Radar".into(),
        text,
        html,
    );
}

/// Whom a mail goes to: an account's owner, or a guest who ordered without one.
pub struct Recipient<'a> {
    pub name: &'a str,
    pub email: &'a str,
}

impl<'a> From<&'a UserRow> for Recipient<'a> {
    fn from(user: &'a UserRow) -> Self {
        Self {
            name: &user.first_name,
            email: &user.email,
        }
    }
}

/// How a guest is greeted, whose name the shop does not know.
pub const GUEST_GREETING: &str = "there";

fn send(
    services: &Services,
    to: Recipient<'_>,
    subject: String,
    text: askama::Result<String>,
    html: askama::Result<String>,
) {
    match (text, html) {
        (Ok(text), Ok(html)) => {
            services
                .mailer
                .send_in_background(to.email.to_owned(), subject, text, Some(html))
        }
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(%error, %subject, "could not draw a mail");
        }
    }
}

/// Mails the news about an order; `link` is where the order page is.
pub fn tell(
    services: &Services,
    to: Recipient<'_>,
    order: &Order,
    news: OrderNews,
    link: Option<String>,
) {
    let code = &order.order.code;
    let subject = news.subject(code);
    let totals = order.order.totals();
    let text = OrderText {
        first_name: to.name,
        headline: news.headline(code),
        order,
        totals,
        link: link.clone(),
    }
    .render();
    let html = OrderHtml {
        subject: &subject,
        first_name: to.name,
        headline: news.headline(code),
        order,
        totals,
        link,
    }
    .render();
    send(services, to, subject, text, html);
}

/// The order page's address, for an account's order (or the guest browser that placed it).
pub fn order_link(services: &Services, order: &Order) -> String {
    format!(
        "{}/orders/{}",
        services.settings.public_url, order.order.code
    )
}

/// The address of a guest order's page that opens it anywhere, with its key.
pub fn guest_order_link(services: &Services, order: &Order, key: &str) -> String {
    format!("{}?key={key}", order_link(services, order))
}

/// Mails the order's shopper (its account's owner, or the guest who placed it) the news.
pub async fn tell_shopper(services: &Services, order: &Order, news: OrderNews) -> AppResult<()> {
    match (order.order.user_id, &order.order.guest_email) {
        (Some(user_id), _) => {
            if let Some(user) = services.db.user_by_id(user_id).await? {
                let link = order_link(services, order);
                tell(services, (&user).into(), order, news, Some(link));
            }
        }
        (None, Some(email)) => {
            let to = Recipient {
                name: GUEST_GREETING,
                email,
            };
            tell(services, to, order, news, None);
        }
        (None, None) => {}
    }
    Ok(())
}
