//! Typed configuration: every setting is a command-line flag with an environment variable.
//!
//! Every setting of every module is declared here, and this module depends on no other:
//! the modules read their own settings struct, and nothing here reaches back into them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::NonEmptyStringValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "coffee-radar",
    version,
    about = "Coffee Radar: the coffee shop web store"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonSettings,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the shop (the default when no command is given).
    Serve(Box<ServeSettings>),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load the demo catalog and coffee places (skips what is already there).
    Seed,
    /// Import the users, orders and pictures of the original Flask shop (idempotent).
    ImportFlask(ImportFlaskSettings),
    /// Write orders, order lines and events as CSV, partitioned by date, for Athena/QuickSight.
    Export {
        /// Where to: file:///folder or s3://bucket/prefix (default: STORAGE_URL).
        #[arg(long = "to", env = "EXPORT_URL")]
        to: Option<String>,
    },
    /// Static files: `assets publish` uploads them for a CDN.
    Assets {
        #[command(subcommand)]
        action: AssetsAction,
    },
    /// Staff administration.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum AssetsAction {
    /// Upload the fingerprinted static files under static/ in an object store.
    Publish {
        /// Where to: file:///folder or s3://bucket (default: STORAGE_URL).
        #[arg(long = "to", env = "STORAGE_URL")]
        to: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Give a registered user the admin role.
    Grant { username: String },
    /// Take the admin role away from a user.
    Revoke { username: String },
}

/// Settings every command needs: where the data lives and how to log.
#[derive(Debug, Clone, Args)]
pub struct CommonSettings {
    /// Folder for the embedded database, the local file store and the mail outbox.
    #[arg(long, env = "DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// Database URL: sqlite://FILE, mysql://… or postgres://… (default: SQLite in DATA_DIR).
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Largest number of open database connections.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 16, global = true)]
    pub database_pool_size: u32,

    /// How long a request waits for a database connection before answering 503.
    #[arg(
        long,
        env = "DATABASE_ACQUIRE_TIMEOUT_MS",
        default_value_t = 2000,
        global = true
    )]
    pub database_acquire_timeout_ms: u64,

    /// Longest time one SQL statement may run on MySQL/MariaDB or PostgreSQL (0: no limit).
    #[arg(
        long,
        env = "DATABASE_STATEMENT_TIMEOUT_MS",
        default_value_t = 5000,
        global = true
    )]
    pub database_statement_timeout_ms: u64,

    /// Longest database call as the app sees it, time on the wire included: one statement
    /// with its wait for a connection, or a transaction from BEGIN to COMMIT; and the most
    /// one request's calls may wait together (0: no limit).
    #[arg(
        long,
        env = "DATABASE_CALL_TIMEOUT_MS",
        default_value_t = 5000,
        global = true
    )]
    pub database_call_timeout_ms: u64,

    /// A database connection idle for longer than this is checked (one round trip) before
    /// its next statement; one used more recently goes straight to it (every connection is
    /// also checked as it goes back to the pool). When the database drops its connections (a
    /// restart, a failover), the read that meets a dead one runs again and every connection
    /// idle since is checked (db::liveness). 0: check before every use.
    #[arg(
        long,
        env = "DATABASE_CHECK_IDLE_AFTER_MS",
        default_value_t = 1000,
        global = true
    )]
    pub database_check_idle_after_ms: u64,

    /// SQLite only: how long a write waits for a lock held by another process (the shop's
    /// own writes queue in the app, one at a time, and never wait here for each other).
    #[arg(
        long,
        env = "SQLITE_BUSY_TIMEOUT_MS",
        default_value_t = 5000,
        global = true
    )]
    pub sqlite_busy_timeout_ms: u64,

    /// SQLite only: how often the server copies the committed pages of the write-ahead log
    /// into the database file, on a thread of its own, so that no commit waits for it. Zero
    /// leaves it to SQLite, which does it on the committing thread every 1,000 pages.
    #[arg(
        long,
        env = "SQLITE_CHECKPOINT_INTERVAL_MS",
        default_value_t = 100,
        global = true
    )]
    pub sqlite_checkpoint_interval_ms: u64,

    /// A shell command whose output is the database password (or the JSON of an RDS secret,
    /// `{"username": …, "password": …}`), used instead of the one in DATABASE_URL. The app
    /// runs it before its first connection and again when the database refuses a new
    /// connection's credentials, so that a rotated password needs no restart. Off by
    /// default; the AWS deployment reads the RDS master secret with it.
    #[arg(long, env = "DATABASE_PASSWORD_COMMAND", global = true)]
    pub database_password_command: Option<String>,

    /// Longest run of DATABASE_PASSWORD_COMMAND before it counts as failed.
    #[arg(
        long,
        env = "DATABASE_PASSWORD_COMMAND_TIMEOUT_MS",
        default_value_t = 5000,
        global = true,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub database_password_command_timeout_ms: u64,

    /// Shortest time between two runs of DATABASE_PASSWORD_COMMAND after refused
    /// credentials: a wrong password does not make every request run it.
    #[arg(
        long,
        env = "DATABASE_PASSWORD_REREAD_MIN_INTERVAL_MS",
        default_value_t = 5000,
        global = true
    )]
    pub database_password_reread_min_interval_ms: u64,

    /// How long an instance waits for another one's migrations before trying again.
    #[arg(
        long,
        env = "DATABASE_MIGRATION_LOCK_WAIT_SECS",
        default_value_t = 60,
        global = true
    )]
    pub database_migration_lock_wait_secs: u64,

    /// Longest call to the object store (a picture stored or read), its retries included.
    #[arg(
        long,
        env = "STORAGE_TIMEOUT_MS",
        default_value_t = 5000,
        global = true
    )]
    pub storage_timeout_ms: u64,

    /// How many times a failed object store call is tried again (quickly, then given up:
    /// an upload answers 503 instead of waiting for a store that is away).
    #[arg(long, env = "STORAGE_RETRIES", default_value_t = 2, global = true)]
    pub storage_retries: usize,

    /// S3 endpoint for S3-compatible servers (default: AWS's own for the region).
    #[arg(long, env = "S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,

    /// Allow calls to the EC2 instance metadata service (IMDSv2): credentials of the instance
    /// role for S3, and the instance id as the instance name. Only the AWS deployment sets it.
    #[arg(long, env = "AWS_INSTANCE_METADATA", global = true)]
    pub aws_instance_metadata: bool,

    /// Where the EC2 instance metadata service answers (with AWS_INSTANCE_METADATA).
    #[arg(
        long,
        env = "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        default_value = "http://169.254.169.254",
        global = true,
        hide = true
    )]
    pub ec2_metadata_endpoint: String,

    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Args)]
pub struct ImportFlaskSettings {
    /// The Flask shop's MySQL database, e.g. mysql://user:pass@host:3306/flaskdb
    #[arg(long = "from", env = "FLASK_DATABASE_URL")]
    pub from: String,

    /// Where the profile pictures named in users_table are: file:///folder or s3://bucket/prefix.
    #[arg(long, env = "FLASK_PHOTOS_URL")]
    pub photos_url: Option<String>,

    /// Where imported pictures are stored (default: DATA_DIR/objects).
    #[arg(long, env = "STORAGE_URL")]
    pub storage_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// Address to listen on.
    #[arg(long = "listen", env = "LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub listen_addr: SocketAddr,

    /// Object storage for pictures: file:///path or s3://bucket/prefix (default: DATA_DIR/objects).
    #[arg(long, env = "STORAGE_URL")]
    pub storage_url: Option<String>,

    /// Name of this instance, shown in the page footer and the X-Served-By header (default: host name).
    #[arg(long, env = "INSTANCE_ID")]
    pub instance_id: Option<String>,

    /// Base URL of the shop in links sent by mail (default: http://LISTEN_ADDR).
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Do not run migrations at start (for operators who run `coffee-radar migrate` separately).
    #[arg(long, env = "SKIP_MIGRATIONS")]
    pub skip_migrations: bool,

    /// Do not load the demo catalog into an empty database at start.
    #[arg(long, env = "NO_DEMO_CATALOG")]
    pub no_demo_catalog: bool,

    /// Trust X-Forwarded-For and X-Forwarded-Proto (set when behind a load balancer).
    #[arg(long, env = "BEHIND_PROXY")]
    pub behind_proxy: bool,

    /// Seconds to keep serving in-flight requests after SIGTERM before exiting.
    #[arg(long, env = "DRAIN_TIMEOUT_SECS", default_value_t = 10)]
    pub drain_timeout_secs: u64,

    /// Base URL of the CDN serving the static files published by `coffee-radar assets
    /// publish` (e.g. https://d111111abcdef8.cloudfront.net); empty: this server serves them.
    #[arg(long, env = "ASSET_BASE_URL")]
    pub asset_base_url: Option<String>,

    /// How long each instance may show a catalog snapshot before reloading it (0: never cache).
    #[arg(long, env = "CATALOG_CACHE_MS", default_value_t = 1000)]
    pub catalog_cache_ms: u64,

    /// Products on one page of the shop list.
    #[arg(long, env = "SHOP_PAGE_SIZE", default_value_t = 12,
          value_parser = clap::value_parser!(u16).range(1..=500))]
    pub shop_page_size: u16,

    /// Products a product page suggests from its category ("You may also like"; 0: none).
    #[arg(long, env = "RELATED_PRODUCTS", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(0..=24))]
    pub related_products: u16,

    /// Seconds before a request is abandoned with 408/503.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 15)]
    pub request_timeout_secs: u64,

    /// Largest request body, in bytes, for everything but picture uploads (forms and JSON).
    #[arg(long, env = "REQUEST_BODY_LIMIT_BYTES", default_value_t = 64 * 1024)]
    pub request_body_limit_bytes: usize,

    /// Strict-Transport-Security max-age, in seconds, sent on HTTPS requests behind the load
    /// balancer (0: no header).
    #[arg(long, env = "HSTS_MAX_AGE_SECS", default_value_t = 31_536_000)]
    pub hsts_max_age_secs: u64,

    #[command(flatten)]
    pub limits: LimitSettings,

    #[command(flatten)]
    pub retention: RetentionSettings,

    #[command(flatten)]
    pub checkout: CheckoutSettings,

    #[command(flatten)]
    pub mail: MailSettings,

    #[command(flatten)]
    pub connections: ConnectionSettings,

    #[command(flatten)]
    pub pictures: PictureSettings,

    #[command(flatten)]
    pub payments: PaymentSettings,
}

/// How much one client address or one account may ask of the shop. Counters are shared by
/// the fleet (they live in the database); see the README's security section for the policy.
#[derive(Debug, Clone, Args)]
pub struct LimitSettings {
    /// Failed sign-ins allowed for one account from one client address per sign-in window.
    #[arg(
        long = "rate-limit-signin-per-account-and-address",
        env = "RATE_LIMIT_SIGNIN_PER_ACCOUNT_AND_ADDRESS",
        default_value_t = 5
    )]
    pub signin_per_account_and_address: u32,

    /// Failed sign-ins allowed from one client address, whatever the account, per window.
    #[arg(
        long = "rate-limit-signin-per-address",
        env = "RATE_LIMIT_SIGNIN_PER_ADDRESS",
        default_value_t = 30
    )]
    pub signin_per_address: u32,

    /// Failed sign-ins allowed for one account from all addresses together per window (a
    /// guard against attacks from many addresses); a password reset lifts it.
    #[arg(
        long = "rate-limit-signin-per-account",
        env = "RATE_LIMIT_SIGNIN_PER_ACCOUNT",
        default_value_t = 100
    )]
    pub signin_per_account: u32,

    /// Length of the sign-in window, in seconds.
    #[arg(
        long = "rate-limit-signin-window-secs",
        env = "RATE_LIMIT_SIGNIN_WINDOW_SECS",
        default_value_t = 900
    )]
    pub signin_window_secs: u64,

    /// Accounts one client address may create in an hour.
    #[arg(
        long = "rate-limit-registrations-per-hour",
        env = "RATE_LIMIT_REGISTRATIONS_PER_HOUR",
        default_value_t = 10
    )]
    pub registrations_per_hour: u32,

    /// Password-reset mails sent to one account in an hour (more requests are answered the
    /// same way, and send nothing).
    #[arg(
        long = "rate-limit-reset-mails-per-account-per-hour",
        env = "RATE_LIMIT_RESET_MAILS_PER_ACCOUNT_PER_HOUR",
        default_value_t = 3
    )]
    pub reset_mails_per_account_per_hour: u32,

    /// Password-reset requests from one client address in an hour, whatever the email.
    #[arg(
        long = "rate-limit-reset-requests-per-address-per-hour",
        env = "RATE_LIMIT_RESET_REQUESTS_PER_ADDRESS_PER_HOUR",
        default_value_t = 10
    )]
    pub reset_requests_per_address_per_hour: u32,
}

/// How orders are priced: tax, and when delivery is free.
#[derive(Debug, Clone, Args)]
pub struct CheckoutSettings {
    /// Tax rate in basis points (2100 is 21 %); 0 charges no tax.
    #[arg(long, env = "TAX_RATE_BP", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub tax_rate_bp: u32,

    /// Whether catalog prices already include the tax (else it is added at checkout).
    #[arg(long, env = "PRICES_INCLUDE_TAX", default_value_t = true, action = clap::ArgAction::Set)]
    pub prices_include_tax: bool,

    /// Delivery is free from this discounted subtotal on, in cents (0: never free).
    #[arg(long, env = "FREE_DELIVERY_FROM_CENTS", default_value_t = 5000)]
    pub free_delivery_from_cents: u64,
}

/// How long the shop keeps what it no longer needs. Every instance runs the clean-up; its
/// deletes are idempotent, so running it on all of them at once is safe.
#[derive(Debug, Clone, Args)]
pub struct RetentionSettings {
    /// Seconds between two clean-ups on this instance (0: never clean up).
    #[arg(long, env = "RETENTION_INTERVAL_SECS", default_value_t = 3600)]
    pub retention_interval_secs: u64,

    /// How long a guest's session (and cart) lives after its first visit, in seconds.
    #[arg(long, env = "GUEST_SESSION_SECS", default_value_t = 7 * 24 * 3600)]
    pub guest_session_secs: u64,

    /// How long a sign-in lasts before the shopper signs in again, in seconds (30 days).
    #[arg(long, env = "SESSION_SECS", default_value_t = 30 * 24 * 3600,
        value_parser = clap::value_parser!(u64).range(1..=366 * 24 * 3600))]
    pub session_secs: u64,

    /// How long a password-reset link works, in seconds (30 minutes).
    #[arg(long, env = "RESET_LINK_SECS", default_value_t = 30 * 60,
        value_parser = clap::value_parser!(u64).range(1..=7 * 24 * 3600))]
    pub reset_link_secs: u64,

    /// Days a used or expired password-reset link is kept before it is deleted.
    #[arg(long, env = "RETAIN_RESET_LINKS_DAYS", default_value_t = 7)]
    pub retain_reset_links_days: u64,

    /// Days a throttle counter (failed sign-ins, registrations and reset requests of one
    /// subject in one window) is kept after its window started. Counters still in use by
    /// their throttle (two windows) are kept whatever this says.
    #[arg(long, env = "RETAIN_RATE_LIMITS_DAYS", default_value_t = 1)]
    pub retain_rate_limits_days: u64,

    /// Days recorded events are kept for the insights (0: forever). Export them first
    /// (`coffee-radar export`) when the lake should keep them longer.
    #[arg(long, env = "RETAIN_EVENTS_DAYS", default_value_t = 0)]
    pub retain_events_days: u64,
}

#[derive(Debug, Clone, Args)]
pub struct MailSettings {
    /// SMTP server host; without it, mail is written to DATA_DIR/outbox as .eml files.
    #[arg(long, env = "SMTP_HOST")]
    pub smtp_host: Option<String>,

    #[arg(long, env = "SMTP_PORT", default_value_t = 587)]
    pub smtp_port: u16,

    #[arg(long, env = "SMTP_USERNAME")]
    pub smtp_username: Option<String>,

    #[arg(long, env = "SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,

    /// Sender address of the shop's mail.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "Coffee Radar <shop@coffee-radar.local>"
    )]
    pub mail_from: String,
}

/// How long clients may take and how many may be connected at once.
#[derive(Debug, Clone, Args)]
pub struct ConnectionSettings {
    /// Seconds a client has to send a request's headers, counted from their first byte.
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,

    /// Seconds a connection with no request in flight stays open for the next one. Keep it
    /// longer than the load balancer's idle timeout (the ALB's is 60 s).
    #[arg(long, env = "KEEP_ALIVE_TIMEOUT_SECS", default_value_t = 75,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_alive_timeout_secs: u64,

    /// Most connections served at once; the next ones are answered 503 and closed.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 2048,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
}

/// The largest upload accepted by default, in MB (PICTURE_MAX_UPLOAD_MB).
pub const DEFAULT_MAX_UPLOAD_MB: u32 = 5;

const DEFAULT_MAX_MEGAPIXELS: u32 = 24;
const DEFAULT_DECODE_MEMORY_MB: u32 = 160;
const DEFAULT_DECODES_AT_ONCE: u32 = 2;
const DEFAULT_DECODE_WAIT_MS: u64 = 2000;

/// What decoding uploaded pictures may cost an instance.
#[derive(Debug, Clone, Args)]
pub struct PictureSettings {
    /// Largest picture file accepted, in MB (the request body of an upload may be this
    /// much, plus the form's other fields).
    #[arg(long, env = "PICTURE_MAX_UPLOAD_MB", default_value_t = DEFAULT_MAX_UPLOAD_MB,
        value_parser = clap::value_parser!(u32).range(1..=50))]
    pub picture_max_upload_mb: u32,

    /// Largest picture accepted, in megapixels (width × height, read from its header before
    /// any pixel is decoded); 24 takes a 6000 × 4000 photo.
    #[arg(long, env = "PICTURE_MAX_MEGAPIXELS", default_value_t = DEFAULT_MAX_MEGAPIXELS,
        value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub picture_max_megapixels: u32,

    /// Memory that the picture decodes running at once may take together, in MB: an upload
    /// that does not fit beside them waits for room, one that needs more is refused.
    #[arg(long, env = "PICTURE_DECODE_MEMORY_MB", default_value_t = DEFAULT_DECODE_MEMORY_MB,
        value_parser = clap::value_parser!(u32).range(1..))]
    pub picture_decode_memory_mb: u32,

    /// Picture decodes running at once, each on a core of its own.
    #[arg(long, env = "PICTURE_DECODES_AT_ONCE", default_value_t = DEFAULT_DECODES_AT_ONCE,
        value_parser = clap::value_parser!(u32).range(1..=64))]
    pub picture_decodes_at_once: u32,

    /// How long an upload waits for room to decode before answering 503 (milliseconds).
    #[arg(long, env = "PICTURE_DECODE_WAIT_MS", default_value_t = DEFAULT_DECODE_WAIT_MS)]
    pub picture_decode_wait_ms: u64,
}

impl Default for PictureSettings {
    fn default() -> Self {
        Self {
            picture_max_upload_mb: DEFAULT_MAX_UPLOAD_MB,
            picture_max_megapixels: DEFAULT_MAX_MEGAPIXELS,
            picture_decode_memory_mb: DEFAULT_DECODE_MEMORY_MB,
            picture_decodes_at_once: DEFAULT_DECODES_AT_ONCE,
            picture_decode_wait_ms: DEFAULT_DECODE_WAIT_MS,
        }
    }
}

/// Card payment through Stripe. Without the three keys the shop takes "pay on delivery"
/// and never contacts the provider; one key without the other two is refused at start.
#[derive(Debug, Clone, Args)]
pub struct PaymentSettings {
    /// Stripe's secret API key (sk_…), for the server's calls to the provider.
    #[arg(long, env = "STRIPE_SECRET_KEY", hide_env_values = true,
        value_parser = NonEmptyStringValueParser::new(),
        requires_all = ["stripe_publishable_key", "stripe_webhook_secret"])]
    pub stripe_secret_key: Option<String>,

    /// Stripe's publishable key (pk_…), for the card form in the shopper's browser.
    #[arg(long, env = "STRIPE_PUBLISHABLE_KEY",
        value_parser = NonEmptyStringValueParser::new(),
        requires_all = ["stripe_secret_key", "stripe_webhook_secret"])]
    pub stripe_publishable_key: Option<String>,

    /// The signing secret (whsec_…) of the webhook endpoint POST /webhooks/stripe.
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true,
        value_parser = NonEmptyStringValueParser::new(),
        requires_all = ["stripe_secret_key", "stripe_publishable_key"])]
    pub stripe_webhook_secret: Option<String>,

    /// Where Stripe's API answers (a test server such as localstripe in the tests).
    #[arg(
        long,
        env = "STRIPE_API_BASE",
        default_value = "https://api.stripe.com"
    )]
    pub stripe_api_base: url::Url,

    /// Where the pay page loads Stripe.js from (a test server's stand-in in the tests).
    #[arg(
        long,
        env = "STRIPE_JS_URL",
        default_value = "https://js.stripe.com/v3/"
    )]
    pub stripe_js_url: url::Url,

    /// Currency of every payment: an ISO 4217 code such as usd or eur.
    #[arg(long, env = "PAYMENT_CURRENCY", default_value = "usd", value_parser = currency_code)]
    pub payment_currency: String,

    /// How long one call to the provider may take before checkout answers "try again".
    #[arg(long, env = "STRIPE_TIMEOUT_MS", default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub stripe_timeout_ms: u64,

    /// How old (or how far ahead) a webhook's signed timestamp may be, in seconds.
    #[arg(long, env = "STRIPE_WEBHOOK_TOLERANCE_SECS", default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub stripe_webhook_tolerance_secs: u64,

    /// How long an order awaiting payment holds its stock before it is released.
    #[arg(long, env = "PAYMENT_HOLD_SECS", default_value_t = 1800,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub payment_hold_secs: u64,

    /// How often each instance asks the provider about orders still awaiting payment, and
    /// releases those whose hold ran out (seconds).
    #[arg(long, env = "PAYMENT_RECONCILE_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub payment_reconcile_secs: u64,
}

/// What the Stripe client and the webhook check need, present only when card payment is on.
#[derive(Clone)]
pub struct StripeConfig {
    pub secret_key: String,
    pub publishable_key: String,
    pub webhook_secret: String,
    pub api_base: url::Url,
    pub js_url: url::Url,
    pub currency: String,
    pub timeout: Duration,
    pub webhook_tolerance: Duration,
}

impl std::fmt::Debug for StripeConfig {
    /// Everything but the two secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field("publishable_key", &self.publishable_key)
            .field("api_base", &self.api_base.as_str())
            .field("js_url", &self.js_url.as_str())
            .field("currency", &self.currency)
            .field("timeout", &self.timeout)
            .field("webhook_tolerance", &self.webhook_tolerance)
            .finish_non_exhaustive()
    }
}

impl PaymentSettings {
    /// The provider's settings when all three keys are set (else: pay on delivery).
    pub fn stripe(&self) -> Option<StripeConfig> {
        Some(StripeConfig {
            secret_key: self.stripe_secret_key.clone()?,
            publishable_key: self.stripe_publishable_key.clone()?,
            webhook_secret: self.stripe_webhook_secret.clone()?,
            api_base: self.stripe_api_base.clone(),
            js_url: self.stripe_js_url.clone(),
            currency: self.payment_currency.clone(),
            timeout: Duration::from_millis(self.stripe_timeout_ms),
            webhook_tolerance: Duration::from_secs(self.stripe_webhook_tolerance_secs),
        })
    }

    pub fn payment_hold(&self) -> Duration {
        Duration::from_secs(self.payment_hold_secs)
    }
}

/// An ISO 4217 currency code, in the lower case Stripe writes it.
fn currency_code(raw: &str) -> Result<String, String> {
    let code = raw.trim().to_ascii_lowercase();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_lowercase()) {
        Ok(code)
    } else {
        Err("expected a three-letter currency code such as usd or eur".into())
    }
}

impl CommonSettings {
    /// The configured database, or an SQLite file inside the data folder.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("shop.db").display()
            ),
        }
    }
}

impl CommonSettings {
    /// The configured object store, or a folder inside the data folder.
    pub fn storage_url(&self, configured: Option<&str>) -> anyhow::Result<String> {
        match configured {
            Some(url) => Ok(url.to_owned()),
            None => {
                let dir = std::path::absolute(self.data_dir.join("objects"))?;
                Ok(format!("file://{}", dir.display()))
            }
        }
    }
}

impl ServeSettings {
    pub fn defaults() -> Self {
        match Cli::parse_from(["coffee-radar", "serve"]).command {
            Some(Command::Serve(settings)) => *settings,
            _ => unreachable!("`serve` always parses to Command::Serve"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn serve(args: &[&str]) -> Result<ServeSettings, clap::Error> {
        let cli = Cli::try_parse_from(["coffee-radar", "serve"].iter().chain(args))?;
        match cli.command {
            Some(Command::Serve(settings)) => Ok(*settings),
            _ => unreachable!("`serve` always parses to Command::Serve"),
        }
    }

    const ALL_STRIPE_KEYS: [&str; 6] = [
        "--stripe-secret-key",
        "sk_test_1",
        "--stripe-publishable-key",
        "pk_test_1",
        "--stripe-webhook-secret",
        "whsec_1",
    ];

    #[test]
    fn card_payment_is_off_until_the_three_stripe_keys_are_set() {
        assert!(ServeSettings::defaults().payments.stripe().is_none());

        let stripe = serve(&ALL_STRIPE_KEYS).unwrap().payments.stripe().unwrap();
        assert_eq!(stripe.secret_key, "sk_test_1");
        assert_eq!(stripe.publishable_key, "pk_test_1");
        assert_eq!(stripe.webhook_secret, "whsec_1");
        assert_eq!(stripe.api_base.as_str(), "https://api.stripe.com/");
        assert_eq!(stripe.currency, "usd");
        assert_eq!(stripe.webhook_tolerance, Duration::from_secs(300));
    }

    #[test]
    fn a_stripe_key_without_the_other_two_is_refused() {
        assert!(serve(&["--stripe-secret-key", ""]).is_err());
        for key in ALL_STRIPE_KEYS.chunks(2) {
            let error = serve(key).unwrap_err();
            assert_eq!(
                error.kind(),
                clap::error::ErrorKind::MissingRequiredArgument,
                "{key:?}: {error}"
            );
        }
    }

    #[test]
    fn the_payment_currency_is_a_three_letter_code_in_lower_case() {
        let settings = serve(&["--payment-currency", " EUR "]).unwrap();
        assert_eq!(settings.payments.payment_currency, "eur");
        for wrong in ["euro", "e1r", ""] {
            assert!(serve(&["--payment-currency", wrong]).is_err(), "{wrong:?}");
        }
    }

    #[test]
    fn a_product_page_suggests_four_related_products_unless_told_another_count_up_to_24() {
        assert_eq!(ServeSettings::defaults().related_products, 4);
        assert_eq!(
            serve(&["--related-products", "0"])
                .unwrap()
                .related_products,
            0
        );
        for wrong in ["25", "-1", "some"] {
            assert!(serve(&["--related-products", wrong]).is_err(), "{wrong}");
        }
    }

    #[test]
    fn the_shop_shows_twelve_products_a_page_unless_told_another_size_from_1_to_500() {
        assert_eq!(ServeSettings::defaults().shop_page_size, 12);
        assert_eq!(serve(&["--shop-page-size", "2"]).unwrap().shop_page_size, 2);
        for wrong in ["0", "501", "-1", "many"] {
            assert!(serve(&["--shop-page-size", wrong]).is_err(), "{wrong}");
        }
    }

    #[test]
    fn the_default_database_is_sqlite_inside_the_data_dir() {
        let cli = Cli::parse_from(["coffee-radar", "--data-dir", "/tmp/x"]);
        assert_eq!(
            cli.common.database_url(),
            "sqlite:///tmp/x/shop.db?mode=rwc"
        );
    }
}
