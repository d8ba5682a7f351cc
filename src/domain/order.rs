//! Orders: their codes, their life cycle and the quantities shoppers may ask for.

use std::fmt;

use rand::Rng;

use super::stored_by_name;

/// The 6-character order code of the original shop, such as `KNKUJ1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct OrderCode(String);

impl OrderCode {
    const ALPHABET: &'static [u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const LEN: usize = 6;

    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let code = (0..Self::LEN)
            .map(|_| Self::ALPHABET[rng.random_range(0..Self::ALPHABET.len())] as char)
            .collect();
        Self(code)
    }

    /// Codes are case-insensitive in URLs; anything but six letters or digits is no code.
    pub fn parse(raw: &str) -> Option<Self> {
        let code = raw.trim().to_ascii_uppercase();
        (code.len() == Self::LEN && code.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then_some(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    /// Placed to be paid by card: its stock is held until the provider says it is paid,
    /// or the hold ends.
    #[serde(rename = "awaiting_payment")]
    AwaitingPayment,
    Placed,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        Self::AwaitingPayment,
        Self::Placed,
        Self::Paid,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
    ];

    /// The name stored in the database and sent by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingPayment => "awaiting_payment",
            Self::Placed => "placed",
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    /// The step staff take next: placed → paid → shipped → delivered.
    pub fn next(self) -> Option<Self> {
        match self {
            Self::Placed => Some(Self::Paid),
            Self::Paid => Some(Self::Shipped),
            Self::Shipped => Some(Self::Delivered),
            Self::AwaitingPayment | Self::Delivered | Self::Cancelled => None,
        }
    }

    /// An order can be cancelled (and its stock returned) until it ships.
    pub fn can_cancel(self) -> bool {
        matches!(self, Self::AwaitingPayment | Self::Placed | Self::Paid)
    }

    /// Statuses from which a cancellation is allowed, for the guarded UPDATE.
    pub const CANCELLABLE: [OrderStatus; 3] = [Self::AwaitingPayment, Self::Placed, Self::Paid];
}

stored_by_name!(OrderStatus, "order status");

impl OrderStatus {
    /// The name a shopper reads.
    pub fn label(self) -> &'static str {
        match self {
            Self::AwaitingPayment => "Awaiting payment",
            Self::Placed => "Placed",
            Self::Paid => "Paid",
            Self::Shipped => "Shipped",
            Self::Delivered => "Delivered",
            Self::Cancelled => "Cancelled",
        }
    }

    /// How far along placed → paid → shipped → delivered the status is; an order awaiting
    /// its card payment is placed. None for a cancelled order, which left the way.
    fn progress(self) -> Option<usize> {
        match self {
            Self::AwaitingPayment | Self::Placed => Some(0),
            Self::Paid => Some(1),
            Self::Shipped => Some(2),
            Self::Delivered => Some(3),
            Self::Cancelled => None,
        }
    }
}

/// Where an order stands on one step of its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Done,
    /// The step the order is at now.
    Current,
    Upcoming,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Current => "current",
            Self::Upcoming => "upcoming",
        }
    }
}

/// One step of an order's timeline: when it was reached, if it was and that is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineStep {
    pub status: OrderStatus,
    pub state: StepState,
    /// UTC milliseconds; None for a step to come, or one reached before times were kept.
    pub at: Option<i64>,
}

/// What is known of an order's life: when it was placed and last changed, and the status
/// changes recorded (oldest first; none for orders from before they were recorded).
pub struct OrderLife<'a> {
    pub status: OrderStatus,
    pub created_at: i64,
    pub updated_at: i64,
    pub changes: &'a [(OrderStatus, i64)],
}

impl OrderLife<'_> {
    const WAY: [OrderStatus; 4] = [
        OrderStatus::Placed,
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
    ];

    /// Placed, paid, shipped, delivered, each done, current or to come; a cancelled order
    /// shows the steps it reached, then when it was cancelled. A step without a recorded
    /// change takes what the order itself says: placed at its creation, the current status
    /// at its last change.
    pub fn timeline(&self) -> Vec<TimelineStep> {
        match self.status.progress() {
            Some(now) => Self::WAY
                .iter()
                .enumerate()
                .map(|(i, &status)| TimelineStep {
                    status,
                    state: match i.cmp(&now) {
                        std::cmp::Ordering::Less => StepState::Done,
                        std::cmp::Ordering::Equal => StepState::Current,
                        std::cmp::Ordering::Greater => StepState::Upcoming,
                    },
                    at: (i <= now).then(|| self.reached(status)).flatten(),
                })
                .collect(),
            None => {
                let reached = Self::WAY[1..]
                    .iter()
                    .filter_map(|&status| self.recorded(status).map(|at| (status, at)));
                std::iter::once((OrderStatus::Placed, self.created_at))
                    .chain(reached)
                    .map(|(status, at)| TimelineStep {
                        status,
                        state: StepState::Done,
                        at: Some(at),
                    })
                    .chain(std::iter::once(TimelineStep {
                        status: OrderStatus::Cancelled,
                        state: StepState::Current,
                        at: self.reached(OrderStatus::Cancelled),
                    }))
                    .collect()
            }
        }
    }

    fn reached(&self, status: OrderStatus) -> Option<i64> {
        match status {
            OrderStatus::Placed => Some(self.created_at),
            _ => self
                .recorded(status)
                .or((status == self.status).then_some(self.updated_at)),
        }
    }

    /// The last time the order became `status`, as recorded.
    fn recorded(&self, status: OrderStatus) -> Option<i64> {
        self.changes
            .iter()
            .rev()
            .find(|(changed, _)| *changed == status)
            .map(|(_, at)| *at)
    }
}

/// How many of one variant a shopper puts in the cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(i64);

impl Quantity {
    pub const MAX: i64 = 99;

    pub fn parse(raw: i64) -> Result<Self, String> {
        if raw < 1 {
            return Err("Quantity must be at least 1.".into());
        }
        if raw > Self::MAX {
            return Err(format!("You can order at most {} of one item.", Self::MAX));
        }
        Ok(Self(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_six_upper_case_letters_or_digits() {
        for _ in 0..100 {
            let code = OrderCode::generate();
            assert_eq!(OrderCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(OrderCode::parse("knkuj1").unwrap().as_str(), "KNKUJ1");
        assert_eq!(OrderCode::parse("KNKUJ"), None);
        assert_eq!(OrderCode::parse("KNK'J1"), None);
    }

    #[test]
    fn orders_advance_in_order_and_cancel_only_before_shipping() {
        assert_eq!(OrderStatus::Placed.next(), Some(OrderStatus::Paid));
        assert_eq!(OrderStatus::Delivered.next(), None);
        assert!(OrderStatus::Paid.can_cancel());
        assert!(!OrderStatus::Shipped.can_cancel());
        assert!(!OrderStatus::Cancelled.can_cancel());
    }

    #[test]
    fn statuses_read_back_what_they_store() {
        for status in OrderStatus::ALL {
            assert_eq!(
                OrderStatus::try_from(status.as_str().to_owned()),
                Ok(status)
            );
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
            assert_eq!(status.to_string(), status.as_str());
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        let names: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "awaiting_payment",
                "placed",
                "paid",
                "shipped",
                "delivered",
                "cancelled"
            ]
        );
    }

    #[test]
    fn an_unknown_status_is_refused_not_taken_for_placed() {
        for stored in ["", "Placed", "refunded", "placed "] {
            assert_eq!(OrderStatus::parse(stored), None);
            let error = OrderStatus::try_from(stored.to_owned()).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("unknown order status {stored:?}")
            );
        }
    }

    fn steps(life: &OrderLife<'_>) -> Vec<(OrderStatus, StepState, Option<i64>)> {
        life.timeline()
            .into_iter()
            .map(|s| (s.status, s.state, s.at))
            .collect()
    }

    #[test]
    fn a_timeline_shows_each_step_reached_with_its_time_and_the_steps_to_come() {
        use OrderStatus::*;
        use StepState::*;
        let changes = [(Placed, 10), (Paid, 20), (Shipped, 30)];
        let life = OrderLife {
            status: Shipped,
            created_at: 10,
            updated_at: 30,
            changes: &changes,
        };
        assert_eq!(
            steps(&life),
            [
                (Placed, Done, Some(10)),
                (Paid, Done, Some(20)),
                (Shipped, Current, Some(30)),
                (Delivered, Upcoming, None)
            ]
        );
        let awaiting = OrderLife {
            status: AwaitingPayment,
            created_at: 10,
            updated_at: 15,
            changes: &[(AwaitingPayment, 10)],
        };
        assert_eq!(steps(&awaiting)[0], (Placed, Current, Some(10)));
        assert_eq!(steps(&awaiting)[1], (Paid, Upcoming, None));
    }

    #[test]
    fn a_cancelled_order_shows_the_steps_it_reached_and_when_it_was_cancelled() {
        use OrderStatus::*;
        use StepState::*;
        let changes = [(Placed, 10), (Paid, 20), (Cancelled, 40)];
        let life = OrderLife {
            status: Cancelled,
            created_at: 10,
            updated_at: 41,
            changes: &changes,
        };
        assert_eq!(
            steps(&life),
            [
                (Placed, Done, Some(10)),
                (Paid, Done, Some(20)),
                (Cancelled, Current, Some(40))
            ]
        );
        // From before the history: cancelled when the order last changed.
        let old = OrderLife {
            changes: &[],
            ..life
        };
        assert_eq!(
            steps(&old),
            [(Placed, Done, Some(10)), (Cancelled, Current, Some(41))]
        );
    }

    #[test]
    fn an_order_from_before_the_history_knows_its_creation_and_its_last_change() {
        use OrderStatus::*;
        use StepState::*;
        let life = OrderLife {
            status: Delivered,
            created_at: 10,
            updated_at: 50,
            changes: &[],
        };
        assert_eq!(
            steps(&life),
            [
                (Placed, Done, Some(10)),
                (Paid, Done, None),
                (Shipped, Done, None),
                (Delivered, Current, Some(50))
            ]
        );
    }

    #[test]
    fn quantities_are_between_one_and_the_maximum() {
        assert!(Quantity::parse(0).is_err());
        assert!(Quantity::parse(-3).is_err());
        assert!(Quantity::parse(100).is_err());
        assert_eq!(Quantity::parse(2).unwrap().get(), 2);
    }
}
