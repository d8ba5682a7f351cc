//! How an instance behaves in a fleet when things fail: draining on SIGTERM, a database or
//! an object store that stops answering, stored states it does not know, and where its
//! name comes from.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{
    PASSWORD, TestApp, answers_ok, eventually, get_json, metric, png, test_database_url,
};
use axum::Router;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::{get, put};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

/// Answers within this long, or the test calls it a hang. (Not a speed test: the app's
/// own limit is about 2 seconds.)
const HANG: Duration = Duration::from_secs(10);

#[tokio::test]
async fn sigterm_turns_health_503_at_once_finishes_requests_in_flight_and_exits_0() {
    let data_dir = tempfile::tempdir().unwrap();
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_coffee-radar"))
        .args(["--data-dir", data_dir.path().to_str().unwrap()])
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--instance-id",
            "drainer",
            "--drain-timeout-secs",
            "2",
        ])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let healthz = format!("{base}/healthz");
    let ready = answers_ok(&client, &healthz, 100, Duration::from_millis(50)).await;
    assert!(ready, "the server started");
    client
        .post(format!("{base}/api/v1/users"))
        .json(&json!({"username": "slowpoke", "email": "slow@example.com", "password": PASSWORD, "first_name": "S"}))
        .send()
        .await
        .unwrap();
    client
        .post(format!("{base}/api/v1/sessions"))
        .json(&json!({"username": "slowpoke", "password": PASSWORD}))
        .send()
        .await
        .unwrap();

    // An upload that is still arriving when SIGTERM comes, and goes on past the drain.
    let picture = png(200, 200);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = picture
        .chunks(picture.len() / 6 + 1)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let slow_body = futures::stream::iter(chunks).then(|chunk| async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        chunk
    });
    let upload = tokio::spawn({
        let client = client.clone();
        let base = base.clone();
        async move {
            client
                .put(format!("{base}/api/v1/me/photo"))
                .header("content-type", "image/png")
                .body(reqwest::Body::wrap_stream(slow_body))
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = server.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(Duration::from_millis(200)).await;

    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(
        health.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "the load balancer is told at once"
    );
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.json::<Value>().await.unwrap()["draining"], true);
    let page = client.get(format!("{base}/shop")).send().await.unwrap();
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "requests still arriving during the drain are served"
    );

    let uploaded = upload
        .await
        .unwrap()
        .expect("the request in flight is answered, not cut");
    assert_eq!(uploaded.status(), StatusCode::OK);
    let status = tokio::time::timeout(HANG, server.wait())
        .await
        .expect("the process exits after the drain")
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        client.get(format!("{base}/healthz")).send().await.is_err(),
        "nothing listens any more"
    );
}

use futures::StreamExt;

/// A TCP proxy in front of the database that the test can cut and restore, as a network
/// failure or a database restart would, or slow down, as a congested link would.
struct Cuttable {
    address: SocketAddr,
    up: Arc<AtomicBool>,
    generation: Arc<AtomicUsize>,
    /// How long each chunk of bytes is held, either way, in milliseconds.
    delay_ms: Arc<AtomicU64>,
    /// Chunks of bytes the app has sent the database: each a message (a statement, a ping).
    sent: Arc<AtomicUsize>,
}

impl Cuttable {
    async fn to(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(AtomicUsize::new(0));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let sent = Arc::new(AtomicUsize::new(0));
        let (up2, generation2, delay2) = (up.clone(), generation.clone(), delay_ms.clone());
        let sent2 = sent.clone();
        tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    return;
                };
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused at once
                }
                let target = target.clone();
                let born = generation2.load(Ordering::SeqCst);
                let (up3, generation3, delay3) = (up2.clone(), generation2.clone(), delay2.clone());
                let sent3 = sent2.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (from_app, to_app) = inbound.into_split();
                    let (from_db, to_db) = outbound.into_split();
                    let relay = futures::future::join(
                        relay(from_app, to_db, delay3.clone(), Some(sent3)),
                        relay(from_db, to_app, delay3, None),
                    );
                    let cut = async {
                        while up3.load(Ordering::SeqCst)
                            && generation3.load(Ordering::SeqCst) == born
                        {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! { _ = relay => {}, () = cut => {} }
                });
            }
        });
        Self {
            address,
            up,
            generation,
            delay_ms,
            sent,
        }
    }

    /// How many chunks of bytes the app has sent the database so far.
    fn sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }

    /// Holds every chunk of bytes, either way, for `delay` before passing it on (zero: none).
    fn slow_down(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Refuses new connections and breaks the open ones (within the watcher's 20 ms tick).
    async fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// Copies bytes from one side to the other, each chunk after the proxy's delay, counting
/// the chunks in `count` if given.
async fn relay(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay_ms: Arc<AtomicU64>,
    count: Option<Arc<AtomicUsize>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut chunk = vec![0; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut chunk).await {
        if let Some(count) = &count {
            count.fetch_add(1, Ordering::SeqCst);
        }
        let delay = delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if to.write_all(&chunk[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// The answer to `request`, which must come within [`HANG`].
async fn answered(request: reqwest::RequestBuilder) -> reqwest::Response {
    tokio::time::timeout(HANG, request.send())
        .await
        .expect("no hang")
        .unwrap()
}

/// An app whose fresh test database (a server: SQLite cannot go away) is reached through a
/// [`Cuttable`] proxy.
async fn app_behind_cuttable_database(extra: &[&str]) -> (TestApp, Cuttable) {
    let data_dir = tempfile::tempdir().unwrap();
    let url = test_database_url(&data_dir).await;
    assert!(
        !url.starts_with("sqlite:"),
        "an embedded SQLite database cannot go away: run with TEST_DATABASE_URL"
    );
    let parsed = url::Url::parse(&url).unwrap();
    let target = format!("{}:{}", parsed.host_str().unwrap(), parsed.port().unwrap());
    let proxy = Cuttable::to(target).await;
    let mut through_proxy = parsed.clone();
    through_proxy.set_port(Some(proxy.address.port())).unwrap();
    let app = TestApp::start(data_dir, through_proxy.to_string(), extra).await;
    (app, proxy)
}

#[tokio::test]
#[ignore = "needs a database server: TEST_DATABASE_URL with --run-ignored all (test.sh runs it on MariaDB and PostgreSQL)"]
async fn a_database_outage_answers_503_quickly_and_the_instance_recovers_by_itself() {
    let (app, proxy) = app_behind_cuttable_database(&[]).await;
    let client = app.signed_in("steady").await;
    assert_eq!(
        client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    proxy.cut().await;
    let started = Instant::now();
    let me = tokio::time::timeout(HANG, client.get(app.url("/api/v1/me")).send())
        .await
        .expect("no hang")
        .unwrap();
    assert_eq!(
        me.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        me.text().await
    );
    assert!(started.elapsed() < HANG);
    let page = tokio::time::timeout(HANG, client.get(app.url("/orders")).send())
        .await
        .expect("no hang")
        .unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.text().await.unwrap().contains("<html"),
        "a page for people, not a stack trace"
    );
    let health = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "liveness stays shallow: no instance is replaced for a database blip"
    );
    let ready = tokio::time::timeout(HANG, client.get(app.url("/readyz")).send())
        .await
        .expect("no hang")
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        ready.json::<Value>().await.unwrap()["database"]
            .as_str()
            .unwrap()
            .starts_with("error")
    );

    proxy.restore();
    let me = app.url("/api/v1/me");
    let recovered = answers_ok(&client, &me, 60, Duration::from_millis(500)).await;
    assert!(recovered, "the instance reconnects without a restart");
}

#[tokio::test]
#[ignore = "needs a database server: TEST_DATABASE_URL with --run-ignored all (test.sh runs it on MariaDB and PostgreSQL)"]
async fn the_catalog_keeps_serving_its_last_snapshot_while_the_database_is_away() {
    let (app, proxy) = app_behind_cuttable_database(&["--catalog-cache-ms", "200"]).await;
    let client = app.client();
    let before: Value = client
        .get(app.url("/api/v1/products"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!before.as_array().unwrap().is_empty());

    proxy.cut().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Many shoppers at once, past the snapshot's time to live: all are served the last
    // good catalog, none waits for the pool to time out.
    let pages = (0..20).map(|n| {
        let client = client.clone();
        let url = if n % 2 == 0 {
            app.url("/shop")
        } else {
            app.url("/api/v1/products")
        };
        async move {
            tokio::time::timeout(HANG, client.get(url).send())
                .await
                .expect("no hang")
                .unwrap()
                .status()
        }
    });
    let statuses = futures::future::join_all(pages).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let during: Value = client
        .get(app.url("/api/v1/products"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(during, before, "the same catalog as before the outage");
    let metrics = client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("catalog_stale_served_total"),
        "stale answers are counted"
    );
    proxy.restore();
}

/// The database away for much longer than the snapshot lives and than a request may wait
/// for a connection (a Multi-AZ failover takes a minute or two): anonymous pages and the
/// catalog API answer from the last good snapshot, say how old it is, and are counted;
/// a write answers 503.
#[tokio::test]
#[ignore = "needs a database server: TEST_DATABASE_URL with --run-ignored all (test.sh runs it on MariaDB and PostgreSQL)"]
async fn anonymous_pages_answer_from_the_last_snapshot_through_a_long_outage_and_say_so() {
    let (app, proxy) = app_behind_cuttable_database(&[
        "--catalog-cache-ms",
        "200",
        "--database-acquire-timeout-ms",
        "300",
    ])
    .await;
    let client = app.client();
    let products = get_json(&client, app.url("/api/v1/products")).await;
    let slug = products[0]["slug"].as_str().unwrap().to_owned();
    let pages = ["/", "/shop", &format!("/shop/{slug}"), "/api/v1/products"];
    for path in pages {
        let fresh = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(fresh.status(), StatusCode::OK, "{path}");
        assert!(fresh.headers().get("x-catalog-stale").is_none(), "{path}");
    }

    proxy.cut().await;
    // Round after round of the anonymous pages, the outage outlasting the snapshot's life
    // many times over and the pool's acquire timeout too.
    for round in 0..12 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        for path in pages {
            let answer = answered(client.get(app.url(path))).await;
            let status = answer.status();
            let stale = answer
                .headers()
                .get("x-catalog-stale")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            assert_eq!(status, StatusCode::OK, "round {round}: {path}");
            let age = stale
                .as_deref()
                .and_then(|s| s.strip_suffix('s'))
                .and_then(|s| s.parse::<u64>().ok());
            assert!(
                age.is_some(),
                "round {round}: {path} says its catalog may be out of date ({stale:?})"
            );
        }
    }
    let write = answered(
        client
            .post(app.url("/api/v1/cart/items"))
            .json(&json!({"variant_id": products[0]["variants"][0]["id"], "quantity": 1})),
    )
    .await;
    assert_eq!(write.status(), StatusCode::SERVICE_UNAVAILABLE);
    let stale_answers = metric(&client, &app, "catalog_stale_answers_total").await;
    assert!(
        stale_answers >= 48.0,
        "every stale answer counted: {stale_answers}"
    );

    proxy.restore();
    let fresh_again = eventually(60, Duration::from_millis(250), || async {
        let answer = client.get(app.url("/")).send().await.unwrap();
        answer.status() == StatusCode::OK && answer.headers().get("x-catalog-stale").is_none()
    })
    .await;
    assert!(fresh_again, "a fresh snapshot once the database is back");
}

/// While the database is away, a signed-in shopper still sees the catalog pages (from the
/// snapshot), told that their account is out of reach, not signed out; pages that need the
/// account answer 503 rather than asking them to sign in; writes answer 503; and once the
/// database is back the same session works again.
#[tokio::test]
#[ignore = "needs a database server: TEST_DATABASE_URL with --run-ignored all (test.sh runs it on MariaDB and PostgreSQL)"]
async fn signed_in_pages_degrade_to_the_catalog_while_the_database_is_away() {
    let (app, proxy) = app_behind_cuttable_database(&[
        "--catalog-cache-ms",
        "200",
        "--database-acquire-timeout-ms",
        "300",
    ])
    .await;
    let shopper = app.signed_in("outage").await;
    let products = get_json(&shopper, app.url("/api/v1/products")).await;
    let slug = products[0]["slug"].as_str().unwrap().to_owned();
    let pages = ["/", "/shop", &format!("/shop/{slug}")];
    for path in pages {
        let page = shopper.get(app.url(path)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert!(
            page.text().await.unwrap().contains("action=\"/signout\""),
            "{path} shows the shopper signed in"
        );
    }

    proxy.cut().await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    for path in pages {
        let page = answered(shopper.get(app.url(path))).await;
        assert_eq!(
            page.status(),
            StatusCode::OK,
            "{path} while the database is away"
        );
        let html = page.text().await.unwrap();
        assert!(
            html.contains("Your account is out of reach for a moment"),
            "{path} says the account is out of reach"
        );
        assert!(
            !html.contains("href=\"/signin"),
            "{path} does not ask a signed-in shopper to sign in"
        );
    }
    for path in ["/profile", "/orders"] {
        let page = answered(shopper.get(app.url(path))).await;
        assert_eq!(
            page.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{path} needs the account: 503, not the sign-in page"
        );
    }
    let me = answered(shopper.get(app.url("/api/v1/me"))).await;
    assert_eq!(me.status(), StatusCode::SERVICE_UNAVAILABLE, "/api/v1/me");
    let write = answered(
        shopper
            .post(app.url("/api/v1/cart/items"))
            .json(&json!({"variant_id": products[0]["variants"][0]["id"], "quantity": 1})),
    )
    .await;
    assert_eq!(write.status(), StatusCode::SERVICE_UNAVAILABLE, "a write");

    proxy.restore();
    let back = eventually(60, Duration::from_millis(250), || async {
        let page = shopper.get(app.url("/shop")).send().await.unwrap();
        page.status() == StatusCode::OK
            && page.text().await.unwrap().contains("action=\"/signout\"")
    })
    .await;
    assert!(
        back,
        "the same session signed in again once the database is back"
    );
}

/// A slow link to the database: the server's own statement timeout does not count the time
/// on the wire, so without a bound on the app's side a checkout would take as long as the
/// link makes it. It answers 503 once the call timeout is spent, changes nothing, and goes
/// through when tried again with its key on a good link.
#[tokio::test]
#[ignore = "needs a database server: TEST_DATABASE_URL with --run-ignored all (test.sh runs it on MariaDB and PostgreSQL)"]
async fn a_checkout_over_a_slow_link_to_the_database_answers_503_within_the_call_timeout() {
    let (app, proxy) = app_behind_cuttable_database(&[
        "--database-call-timeout-ms",
        "1000",
        "--request-timeout-secs",
        "120",
    ])
    .await;
    let shopper = app.signed_in("slowlink").await;
    let variant = app.variant_of("Coffee Radar Mug").await;
    let stock = app.stock_of(variant).await;
    app.add_one_to_cart(&shopper, variant).await;
    let checkout = || {
        shopper
            .post(app.url("/api/v1/orders"))
            .header("idempotency-key", "slow-link-1")
    };

    // Each chunk held 700 ms either way: a round trip takes 1.4 s, past the 1 s bound.
    proxy.slow_down(Duration::from_millis(700));
    let slow = tokio::time::timeout(Duration::from_secs(60), checkout().send())
        .await
        .expect("no hang")
        .unwrap();
    let status = slow.status();
    let body: Value = slow.json().await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("database"),
        "{body}"
    );

    proxy.slow_down(Duration::ZERO);
    let mut placed = None;
    for _ in 0..20 {
        let answer = checkout().send().await.unwrap();
        if answer.status() == StatusCode::CREATED {
            placed = Some(answer.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let placed = placed.expect("the checkout goes through on a good link");
    assert_eq!(placed["lines"].as_array().unwrap().len(), 1, "{placed}");
    assert_eq!(
        app.stock_of(variant).await,
        stock - 1,
        "one item sold, once"
    );
}

/// A slow link where every call on its own stays within the call timeout: a request that
/// makes several of them would wait for all, one after the other, and requests would pile
/// up. Its calls share one budget, the call timeout: past it the request answers 503 and
/// holds no connection any more, while a request of one call still gets its answer.
#[tokio::test]
#[ignore = "needs a database server: TEST_DATABASE_URL with --run-ignored all (test.sh runs it on MariaDB and PostgreSQL)"]
async fn a_request_s_database_calls_share_one_budget_over_a_slow_link() {
    // One connection: the statements warmed below are prepared on the one that serves.
    let (app, proxy) = app_behind_cuttable_database(&[
        "--database-call-timeout-ms",
        "1000",
        "--request-timeout-secs",
        "120",
        "--database-pool-size",
        "1",
        // No check before each statement: each call is one round trip.
        "--database-check-idle-after-ms",
        "60000",
    ])
    .await;
    let shopper = app.signed_in("budget").await;
    let orders = || shopper.get(app.url("/orders"));
    let me = || shopper.get(app.url("/api/v1/me"));
    assert_eq!(answered(orders()).await.status(), StatusCode::OK);
    assert_eq!(answered(me()).await.status(), StatusCode::OK);
    // Each connection is checked as it goes back to the pool: let that end before the link
    // slows down, or the next request would find none idle and open a new one (a handshake
    // of several round trips).
    tokio::time::sleep(SETTLE).await;

    // 200 ms each way: the one statement of /api/v1/me takes about half the budget, the
    // three or more of the orders page (session, orders, their lines) more than all of it.
    proxy.slow_down(Duration::from_millis(200));
    assert_eq!(answered(me()).await.status(), StatusCode::OK, "one call");
    let page = answered(orders()).await;
    assert_eq!(
        page.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "several calls, more than the budget together"
    );

    proxy.slow_down(Duration::ZERO);
    assert_eq!(answered(orders()).await.status(), StatusCode::OK);
}

/// How long a connection's check on its way back to the pool takes on a fast link, with room.
const SETTLE: Duration = Duration::from_millis(200);

/// A connection used a moment ago goes straight to its statement: checking it first (a ping)
/// would double the round trips of every statement, and its check as it went back to the
/// pool (sqlx pings every connection it takes back) is that recent. One idle for longer than
/// DATABASE_CHECK_IDLE_AFTER_MS is checked before use, as the database may have gone since
/// (by default every one is: the credential tests show why).
#[tokio::test]
#[ignore = "needs a database server: TEST_DATABASE_URL with --run-ignored all (test.sh runs it on MariaDB and PostgreSQL)"]
async fn a_connection_used_a_moment_ago_is_not_pinged_before_its_statement() {
    let (app, proxy) = app_behind_cuttable_database(&[
        "--database-pool-size",
        "1",
        "--database-check-idle-after-ms",
        "60000",
    ])
    .await;
    let shopper = app.signed_in("warm").await;
    let me = || async {
        assert_eq!(
            answered(shopper.get(app.url("/api/v1/me"))).await.status(),
            StatusCode::OK
        );
        tokio::time::sleep(SETTLE).await;
    };
    // The first uses prepare the statement on the one connection.
    me().await;
    me().await;
    let before = proxy.sent();
    me().await;
    assert_eq!(
        proxy.sent() - before,
        2,
        "the statement, then the check on the way back to the pool, and nothing before"
    );
}

/// When the database drops every connection at once (a restart, a failover, sessions ended
/// by an operator), connections used a moment ago are not checked before their next
/// statement: the request that meets a dead one is still served, and the requests after
/// it find live connections.
#[tokio::test]
#[ignore = "needs a database server: TEST_DATABASE_URL with --run-ignored all (test.sh runs it on MariaDB and PostgreSQL)"]
async fn the_request_that_meets_a_connection_the_database_dropped_is_still_served() {
    let (app, proxy) =
        app_behind_cuttable_database(&["--database-check-idle-after-ms", "60000"]).await;
    let shopper = app.signed_in("dropped").await;
    // Several connections open and idle in the pool.
    let me = || answered(shopper.get(app.url("/api/v1/me")));
    for answer in futures::future::join_all((0..4).map(|_| me())).await {
        assert_eq!(answer.status(), StatusCode::OK);
    }

    proxy.cut().await;
    proxy.restore();
    let answer = me().await;
    assert_eq!(
        answer.status(),
        StatusCode::OK,
        "the request that met a dropped connection: {}",
        answer.text().await.unwrap()
    );
    let variant = app.variant_of("Coffee Radar Mug").await;
    let added = answered(
        shopper
            .post(app.url("/api/v1/cart/items"))
            .json(&json!({"variant_id": variant, "quantity": 1})),
    )
    .await;
    assert_eq!(added.status(), StatusCode::CREATED, "a write after it");
    for answer in futures::future::join_all((0..4).map(|_| me())).await {
        assert_eq!(answer.status(), StatusCode::OK, "and the reads after it");
    }
}

#[tokio::test]
#[ignore = "needs a database server: TEST_DATABASE_URL with --run-ignored all (test.sh runs it on MariaDB and PostgreSQL)"]
async fn an_instance_whose_database_is_down_at_start_still_starts_and_catches_up() {
    let data_dir = tempfile::tempdir().unwrap();
    let url = test_database_url(&data_dir).await;
    assert!(
        !url.starts_with("sqlite:"),
        "an embedded SQLite database cannot be down: run with TEST_DATABASE_URL"
    );
    let parsed = url::Url::parse(&url).unwrap();
    let proxy = Cuttable::to(format!(
        "{}:{}",
        parsed.host_str().unwrap(),
        parsed.port().unwrap()
    ))
    .await;
    proxy.cut().await;
    let mut through_proxy = parsed.clone();
    through_proxy.set_port(Some(proxy.address.port())).unwrap();
    let app = TestApp::start(data_dir, through_proxy.to_string(), &[]).await;
    assert_eq!(
        app.client()
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let ready = app.client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    proxy.restore();
    let readyz = app.url("/readyz");
    let caught_up = answers_ok(&app.client(), &readyz, 60, Duration::from_millis(500)).await;
    assert!(
        caught_up,
        "the instance migrated the database once it answered"
    );
    let products: Value = app
        .client()
        .get(app.url("/api/v1/products"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(products.as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn pages_still_render_when_the_object_store_is_down_and_uploads_get_503() {
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        // SAFETY: set before any thread of this test reads the environment; the values are
        // dummies for an S3 endpoint where nothing listens.
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", "test");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        }
    }
    let dead = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let endpoint = format!("http://{dead}");
    let app = TestApp::spawn_with(&[
        "--storage-url",
        "s3://nowhere/pictures",
        "--s3-endpoint",
        &endpoint,
    ])
    .await;
    let client = app.signed_in("unlucky").await;
    for path in ["/", "/shop", "/profile", "/cart", "/radar?city=paris"] {
        let page = tokio::time::timeout(HANG, client.get(app.url(path)).send())
            .await
            .expect("no hang")
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
    }
    let upload = tokio::time::timeout(
        HANG,
        client
            .put(app.url("/api/v1/me/photo"))
            .header("content-type", "image/png")
            .body(png(50, 50))
            .send(),
    )
    .await
    .expect("no hang")
    .unwrap();
    assert_eq!(upload.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        upload.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("Picture storage")
    );
    let ready = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

/// An S3 endpoint on loopback that answers every request with `status` and an S3 error
/// `code` (503 SlowDown: S3 shedding load), counting them.
async fn failing_object_store(
    status: AxumStatus,
    code: &'static str,
) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let router = Router::new().fallback(move || {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            (status, format!("<Error><Code>{code}</Code></Error>"))
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}"), calls)
}

/// An app whose pictures go to the S3 `endpoint` (with dummy credentials), and the
/// endpoint's count of calls.
async fn app_with_object_store(
    (endpoint, calls): (String, Arc<AtomicUsize>),
    extra: &[&str],
) -> (TestApp, Arc<AtomicUsize>) {
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        // SAFETY: set before any thread of this test reads the environment; the values are
        // dummies for a fake S3 endpoint on loopback.
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", "test");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        }
    }
    let mut args = vec![
        "--storage-url",
        "s3://pictures/shop",
        "--s3-endpoint",
        &endpoint,
    ];
    args.extend_from_slice(extra);
    (TestApp::spawn_with(&args).await, calls)
}

/// A signed-in `username` uploads a picture: refused with 503, saying when to try again.
async fn assert_upload_refused(app: &TestApp, username: &str) {
    let client = app.signed_in(username).await;
    let upload = answered(
        client
            .put(app.url("/api/v1/me/photo"))
            .header("content-type", "image/png")
            .body(png(50, 50)),
    )
    .await;
    assert_eq!(upload.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(upload.headers().contains_key("retry-after"));
}

/// An object store that keeps failing is asked a bounded number of times (STORAGE_RETRIES
/// more after the first), so an upload is refused at once instead of after a long series
/// of retries, and says when to try again.
#[tokio::test]
async fn an_upload_to_a_failing_object_store_is_tried_a_bounded_number_of_times() {
    let (app, calls) = app_with_object_store(
        failing_object_store(AxumStatus::SERVICE_UNAVAILABLE, "SlowDown").await,
        &["--storage-retries", "2"],
    )
    .await;
    calls.store(0, Ordering::SeqCst);
    assert_upload_refused(&app, "shed").await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the first try and two retries"
    );
}

/// A bucket that is not there (not made yet, or gone) is the shop's problem, not the
/// visitor's: an upload answers 503, not the 404 of a picture that does not exist.
#[tokio::test]
async fn an_upload_to_a_missing_bucket_is_unavailable_not_not_found() {
    let (app, _) = app_with_object_store(
        failing_object_store(AxumStatus::NOT_FOUND, "NoSuchBucket").await,
        &[],
    )
    .await;
    assert_upload_refused(&app, "bucketless").await;
}

/// A stand-in for the EC2 metadata service on loopback that insists on IMDSv2 tokens.
async fn fake_metadata_service() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let (token_calls, id_calls) = (calls.clone(), calls.clone());
    let router = Router::new()
        .route(
            "/latest/api/token",
            put(move |headers: HeaderMap| async move {
                token_calls.fetch_add(1, Ordering::SeqCst);
                match headers.get("x-aws-ec2-metadata-token-ttl-seconds") {
                    Some(_) => (AxumStatus::OK, "token-123"),
                    None => (AxumStatus::BAD_REQUEST, ""),
                }
            }),
        )
        .route(
            "/latest/meta-data/instance-id",
            get(move |headers: HeaderMap| async move {
                id_calls.fetch_add(1, Ordering::SeqCst);
                match headers
                    .get("x-aws-ec2-metadata-token")
                    .and_then(|v| v.to_str().ok())
                {
                    Some("token-123") => (AxumStatus::OK, "i-0abc123def4567890"),
                    _ => (AxumStatus::UNAUTHORIZED, ""),
                }
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}"), calls)
}

#[tokio::test]
async fn the_instance_name_comes_from_imdsv2_only_when_the_deployment_allows_it() {
    let (endpoint, calls) = fake_metadata_service().await;

    let local = TestApp::spawn_with(&["--ec2-metadata-endpoint", &endpoint]).await;
    assert_eq!(
        local
            .client()
            .get(local.url("/healthz"))
            .send()
            .await
            .unwrap()
            .headers()["x-served-by"],
        "test-a1"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "without the setting, the metadata service is never called"
    );

    let on_aws = TestApp::spawn_with(&[
        "--aws-instance-metadata",
        "--ec2-metadata-endpoint",
        &endpoint,
    ])
    .await;
    let response = on_aws
        .client()
        .get(on_aws.url("/shop"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-served-by"], "i-0abc123def4567890");
    let page = crate::common::document(&response.text().await.unwrap());
    assert_eq!(
        crate::common::text_of(&page, ".served-by").as_deref(),
        Some("Served by i-0abc123def4567890")
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "one token, one instance id"
    );
}

/// A state written by hand or by a newer release (an order status, a role, a hidden flag
/// this version has no name for) is a server error where it is read: never taken for a
/// placed order, a shopper or a shown product.
#[tokio::test]
async fn a_stored_state_the_shop_does_not_know_is_a_server_error_not_a_guess() {
    let app = TestApp::spawn().await;
    let shopper = app.signed_in("oddstate").await;
    let variant = app.variant_of("Coffee Radar Mug").await;
    app.add_one_to_cart(&shopper, variant).await;
    let placed = shopper
        .post(app.url("/api/v1/orders"))
        .header("idempotency-key", "odd-state-1")
        .send()
        .await
        .unwrap();
    let status = placed.status();
    let placed: Value = placed.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let order_url = app.url(&format!(
        "/api/v1/orders/{}",
        placed["code"].as_str().unwrap()
    ));
    app.grant_admin("oddstate");
    let db = &app.db;
    // Each read answers before its state is spoilt, and 500 (generic text) after.
    let answers = async |url: &str| {
        let answer = shopper.get(url).send().await.unwrap();
        (answer.status(), answer.text().await.unwrap())
    };
    let spoil = async |sql: &'static str| db.query(sql).execute(db.pool()).await.unwrap();
    let products_url = app.url("/admin/products");
    let me_url = app.url("/api/v1/me");
    for url in [&order_url, &products_url, &me_url] {
        assert_eq!(answers(url).await.0, StatusCode::OK, "{url}");
    }

    spoil("UPDATE orders SET status = 'refunded'").await;
    let (status, body) = answers(&order_url).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["error"],
        "Something went wrong on our side. Please try again."
    );

    spoil("UPDATE products SET hidden = 2").await;
    assert_eq!(
        answers(&products_url).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );

    spoil("UPDATE users SET role = 'staff'").await;
    assert_eq!(answers(&me_url).await.0, StatusCode::INTERNAL_SERVER_ERROR);
}

/// An SQLite file that is not there, named without `?mode=rwc` (which would create it):
/// the shop cannot migrate it, says so with a 503, and creates nothing behind its back.
#[tokio::test]
async fn a_missing_sqlite_file_is_a_503_and_is_not_created_empty() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("absent.db");
    let url = format!("sqlite://{}", file.display());
    let app = TestApp::start(tempfile::tempdir().unwrap(), url, &[]).await;
    let client = app.client();
    for path in ["/api/v1/products", "/shop", "/readyz"] {
        let answer = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            answer.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {}",
            answer.text().await.unwrap()
        );
    }
    let signed_in = client
        .post(app.url("/api/v1/sessions"))
        .json(&json!({"username": "nobody", "password": "correct horse battery staple"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!file.exists(), "no empty database was created in its place");
}
