//! The flash-sale scenario: one seated event, its waiting room on, and a crowd of buyers.
//!
//! Accounts, wallets and access tokens are provisioned directly in the database before the clock
//! starts (not timed). Then, over real HTTP:
//! 1. **Join**: every buyer joins the waiting room before the sale opens (the pre-sale crowd; the
//!    opening is announced for the next day), timed on its own.
//! 2. **Opening**: the organizer moves the opening to `--opens-in` seconds from now. Each buyer
//!    polls once within that notice (standing for the periodic poll a waiting client makes) and
//!    learns when its turn is likely to come.
//! 3. **Sale**: from the opening, buyers poll when the server's `poll_after_ms` says, and once
//!    admitted reserve a seat (`--pick near`, the default: the best available seat nearest a
//!    random seat number; `--pick seat`: a random seat number, retrying on 409 with one of the
//!    available seats the answer names near it, then asking for the best available seat) and pay
//!    from their wallet with an Idempotency-Key. The sale's wall time runs from the opening to the
//!    last seat paid.
//!
//! Afterwards the database's own books are audited: seats sold, tickets, distinct ticketed seats
//! and payments must agree, and nothing may be sold twice.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tessera_domain::id::EventId;
use tessera_domain::id::UserId;
use tessera_domain::records::{SaleAudit, User};

use anyhow::{Context, bail};
use rand::Rng;
use tokio::sync::watch;
use uuid::Uuid;

use tessera_app::auth::{Principal, TokenConfig};
use tessera_app::queue::QueueSettingsInput;
use tessera_app::{App, AppConfig, SystemClock};
use tessera_domain::Role;
use tessera_domain::booking::SeatMapInput;
use tessera_domain::event::EventInput;
use tessera_store::{Store, StoreOptions};

use crate::pool::Pool;

#[derive(clap::Args, Clone)]
pub struct FlashArgs {
    /// Path of the release `tessera` binary.
    #[arg(long, default_value = "target/release/tessera")]
    pub tessera: std::path::PathBuf,
    /// Simulated buyers (accounts provisioned up front).
    #[arg(long, default_value_t = 200_000)]
    pub buyers: usize,
    /// Seats in the event.
    #[arg(long, default_value_t = 50_000)]
    pub seats: i64,
    /// Concurrent keep-alive connections the crowd shares. With 64, no more than 64 requests
    /// were ever in flight: at the ~6 ms a payment waits for its group commit and flush, that
    /// capped the sale near 4,700 a second whatever the server did (Little's law). 256 is still
    /// a small fraction of a real crowd's connections.
    #[arg(long, default_value_t = 256)]
    pub connections: usize,
    /// Admission rate once the sale opens (users per minute).
    #[arg(long, default_value_t = 600_000)]
    pub admit_per_minute: i64,
    /// Most buyers admitted at once.
    #[arg(long, default_value_t = 10_000)]
    pub max_admitted: i64,
    /// Skip the SQLite run.
    #[arg(long)]
    pub no_sqlite: bool,
    /// Also run on this PostgreSQL database (in a fresh schema that is dropped afterwards).
    #[arg(long, env = "TESSERA_BENCH_DATABASE_URL")]
    pub postgres: Option<String>,
    /// Where to write results.
    #[arg(long, default_value = "bench/results")]
    pub out: std::path::PathBuf,
    /// Print the sale's progress every second (sold, holds, conflicts, polls so far).
    #[arg(long)]
    pub progress: bool,
    /// Notice the organizer gives of the opening once everyone has joined, in seconds; every
    /// buyer polls once within it.
    #[arg(long, default_value_t = 10)]
    pub opens_in: u64,
    /// How an admitted buyer chooses a seat (see `Pick`). The near pick on both databases: on
    /// PostgreSQL it used to be far slower (401 s against 159 s), because nothing had analyzed the
    /// fresh seat map and each hold scanned every available seat; seat maps are now analyzed as
    /// they are created, and the two picks sell at the same pace there (145 and 148 s, 30,000
    /// buyers).
    #[arg(long, value_enum, default_value = "near")]
    pub pick: Pick,
    /// `tessera serve` processes sharing the database (PostgreSQL only), each with its own
    /// admission job; buyers are dealt out between them in turn.
    #[arg(long, default_value_t = 1)]
    pub instances: usize,
    /// PostgreSQL connections in all, shared out between the instances (`TESSERA_DB_MAX_CONNECTIONS`
    /// of each is this divided by `--instances`).
    #[arg(long, default_value_t = 32)]
    pub db_connections: u32,
    /// Scaling sweep on SQLite instead of one sale: one sale per `SEATSxBUYERS` point (for
    /// example `5000x20000,5000x200000,5000x1000000,50000x1000000,100000x1000000`; an event
    /// holds at most `MAX_SEATS`), written to `flash-scaling-latest.md` with a plot of sale time
    /// by seats and by buyers.
    #[arg(long, value_delimiter = ',', value_parser = parse_point)]
    pub sweep: Vec<(i64, usize)>,
}

/// A sweep point: `SEATSxBUYERS`.
fn parse_point(s: &str) -> Result<(i64, usize), String> {
    let (seats, buyers) = s.split_once('x').ok_or_else(|| format!("{s}: expected SEATSxBUYERS"))?;
    let n = |v: &str| v.trim().parse::<usize>().map_err(|e| format!("{s}: {e}"));
    let (seats, buyers) = (n(seats)?, n(buyers)?);
    if seats == 0 || buyers == 0 {
        return Err(format!("{s}: seats and buyers must be positive"));
    }
    Ok((i64::try_from(seats).map_err(|e| e.to_string())?, buyers))
}

/// How an admitted buyer asks for a seat.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// The best available seat nearest a random seat number (`quantity` with `near_seat`): the
    /// server holds a free seat there in the same conditional UPDATE that takes it, so nobody
    /// asks for a seat that is already gone. Retries on a 409 `seats_taken` like `seat`.
    Near,
    /// A random seat number whatever its state; on a 409 `seats_taken`, one of the available
    /// seats the answer names near it, then the best available seat. Late in a sale most first
    /// picks are taken: ~30,000 conflicts for 50,000 seats.
    Seat,
}

impl Pick {
    fn name(self) -> &'static str {
        match self {
            Pick::Near => "near",
            Pick::Seat => "seat",
        }
    }
}

/// What one backend's run measured.
#[derive(Debug, Clone)]
pub struct FlashReport {
    pub backend: String,
    pub pick: Pick,
    pub buyers: usize,
    pub seats: i64,
    pub join_secs: f64,
    pub sale_secs: f64,
    pub sold: u64,
    pub oversold: i64,
    pub audit: SaleAudit,
    pub reservations: u64,
    pub conflicts: u64,
    /// Polls from the opening on.
    pub polls: u64,
    /// Polls during the notice before the opening (one per buyer, and early comers').
    pub polls_before_open: u64,
    pub errors: u64,
    /// Servers the crowd was dealt between.
    pub instances: usize,
    /// The most admissions live at once, sampled every 100 ms through the sale (never above
    /// `max_admitted`, across all instances).
    pub max_live_admissions: i64,
    /// Entries still waiting behind one let through after them (0: the line's order held).
    pub passed_over: i64,
    /// CPU seconds the server (all its threads) and the load generator used during the sale;
    /// `None` where /proc is not readable. A PostgreSQL server's own CPU is not included.
    pub server_cpu_secs: Option<f64>,
    pub bench_cpu_secs: Option<f64>,
    pub latencies: Vec<(&'static str, Latency)>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

fn latency(mut v: Vec<u32>) -> Latency {
    v.sort_unstable();
    let ms = |p: f64| f64::from(crate::load::percentile(&v, p)) / 1000.0;
    Latency { count: v.len(), p50_ms: ms(0.5), p99_ms: ms(0.99) }
}

/// Everything the setup made.
struct Provisioned {
    event_id: EventId,
    organizer_token: String,
    buyer_tokens: Vec<String>,
}

/// Creates the organizer, the seated event with its waiting room (admission paused: one per
/// minute, one at a time), and the buyers with 100.00 in their wallets and signed access tokens.
async fn provision(store: &Store, args: &FlashArgs) -> anyhow::Result<Provisioned> {
    let tokens = TokenConfig { access_ttl_secs: 6 * 3600, ..TokenConfig::default() };
    let app = App::new(store.clone(), AppConfig { tokens, ..AppConfig::default() }, Arc::new(SystemClock))
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let now = tessera_domain::clock::now();
    let user = |name: String, email: String, role: Role| User {
        user_id: UserId::new(),
        name,
        email,
        // Not a password hash: these accounts cannot log in, they use minted tokens.
        password_hash: "!".into(),
        role,
        phone_number: None,
        created_at: now,
        updated_at: now,
        disabled_at: None,
    };
    let org = user("Flash Organizer".into(), "organizer@flash.tessera.test".into(), Role::Organizer);
    store.provision_users(std::slice::from_ref(&org), 0, now).await?;
    let who = Principal { user_id: org.user_id, role: Role::Organizer };
    let start = tessera_domain::clock::format_ts(now + time::Duration::days(30));
    let input = EventInput {
        name: Some("Flash Sale Concert".into()),
        start_time: Some(start),
        location: Some("Tokyo Dome".into()),
        price: Some("50.00".into()),
        seating: Some("seated".into()),
        hold_seconds: Some(300),
        max_per_person: Some(4),
        ..EventInput::default()
    };
    let seats = SeatMapInput { seat_count: Some(args.seats), sections: None };
    let event = app.create_event(&who, &input, &seats).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    // Announced for tomorrow; moved to `--opens-in` seconds ahead once everyone has joined.
    let tomorrow = tessera_domain::clock::format_ts(now + time::Duration::days(1));
    let announced = QueueSettingsInput {
        enabled: Some(true),
        admission_rate_per_minute: Some(args.admit_per_minute),
        max_admitted: Some(args.max_admitted),
        admission_window_seconds: Some(600),
        opens_at: Some(Some(tomorrow)),
    };
    app.set_queue(&who, event.event_id, announced).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let buyers: Vec<User> = (0..args.buyers)
        .map(|i| user(format!("Buyer {i}"), format!("buyer{i}@flash.tessera.test"), Role::Attendee))
        .collect();
    store.provision_users(&buyers, 10_000, now).await?;
    let buyer_tokens = buyers
        .iter()
        .map(|u| app.access_token(u.user_id, Role::Attendee))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let organizer_token =
        app.access_token(org.user_id, Role::Organizer).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(Provisioned { event_id: event.event_id, organizer_token, buyer_tokens })
}

/// Shared by every simulated buyer.
struct Crowd {
    /// One per server; buyer `i` uses pool `i % len`.
    pools: Vec<Pool>,
    event_id: String,
    seats: i64,
    pick: Pick,
    /// Set once the opening is moved near: each buyer then makes its one poll within
    /// `notice` (the periodic poll of a waiting client, compressed).
    open: watch::Receiver<bool>,
    notice: Duration,
    /// Set once the sale is over; buyers still waiting go home at once.
    stop: watch::Sender<bool>,
    joined: AtomicU64,
    sold: AtomicU64,
    reservations: AtomicU64,
    conflicts: AtomicU64,
    polls: AtomicU64,
    errors: AtomicU64,
    sold_out_at: std::sync::Mutex<Option<Instant>>,
}

/// The fields of the server's answers that a buyer acts on, borrowed from the body where they
/// can be: parsing every poll answer into a `serde_json::Value` was a visible share of the load
/// generator's CPU, which the server under test shares.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct QueueAnswer<'a> {
    #[serde(borrow)]
    queue_token: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    poll_after_ms: Option<f64>,
}

/// A hold's answer, or the problem that refused it (whose `status` is a number).
#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct ReserveAnswer<'a> {
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    reservation_id: Option<Cow<'a, str>>,
    /// On 409 `seats_taken`: available seats near the one asked for.
    #[serde(default)]
    available_nearby: Vec<i64>,
}

/// One buyer's request latencies (microseconds), by kind.
#[derive(Default)]
struct Trace {
    join: Vec<u32>,
    poll: Vec<u32>,
    reserve: Vec<u32>,
    pay: Vec<u32>,
}

impl Crowd {
    fn error(&self, what: &str, status: u16, body: &[u8]) {
        // Show the first few so a broken run says why.
        if self.errors.fetch_add(1, Ordering::Relaxed) < 5 {
            eprintln!("{what}: {status} {}", String::from_utf8_lossy(body));
        }
    }
}

async fn buyer(crowd: Arc<Crowd>, n: usize, token: String) -> Trace {
    let mut trace = Trace::default();
    let pool = &crowd.pools[n % crowd.pools.len()];
    let auth = format!("Bearer {token}");
    let join_path = format!("/events/{}/queue", crowd.event_id);
    let queue_token = match pool.call("POST", &join_path, &[("Authorization", &auth)], Some("{}")).await {
        Ok(a) if a.status == 201 || a.status == 200 => {
            trace.join.push(a.micros);
            a.parse::<QueueAnswer>().queue_token.unwrap_or_default().into_owned()
        }
        Ok(a) => {
            crowd.error("join", a.status, &a.body);
            return trace;
        }
        Err(e) => {
            crowd.error("join", 0, e.to_string().as_bytes());
            return trace;
        }
    };
    crowd.joined.fetch_add(1, Ordering::Relaxed);
    let mut open = crowd.open.clone();
    if open.wait_for(|o| *o).await.is_err() {
        return trace;
    }
    let first = rand::rng().random_range(Duration::ZERO..crowd.notice);
    tokio::time::sleep(first).await;
    let headers = [("Authorization", auth.as_str()), ("X-Queue-Token", queue_token.as_str())];
    loop {
        if *crowd.stop.borrow() {
            return trace;
        }
        let a = match pool.call("GET", "/queue/status", &headers, None).await {
            Ok(a) => a,
            Err(e) => return fail(&crowd, "poll", e, trace),
        };
        crowd.polls.fetch_add(1, Ordering::Relaxed);
        trace.poll.push(a.micros);
        let v = a.parse::<QueueAnswer>();
        match (a.status, v.status.as_deref()) {
            (200, Some("admitted")) => break,
            (200, Some("waiting")) => {
                // As the server suggests (the opening, and the pace the line has been moving),
                // never earlier, and late by up to 2 % of the wait (at most 200 ms): a client's
                // timer and the network are not exact.
                let after = v.poll_after_ms.unwrap_or(1000.0) / 1000.0;
                let secs = after + rand::rng().random_range(0.0..(after * 0.02).clamp(0.01, 0.2));
                let mut stop = crowd.stop.subscribe();
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs_f64(secs)) => {}
                    // Not timed, but waiting out everyone's last hint made each run a minute longer.
                    _ = stop.wait_for(|s| *s) => return trace,
                }
            }
            _ => {
                crowd.error("poll", a.status, &a.body);
                return trace;
            }
        }
    }
    // Reserve (`Pick::Seat`): a random seat; on 409 one of the available seats the answer names
    // near it (as a buyer picks another on the seat map), or another random one; then the best
    // available. `Pick::Near`: the best available seat near a random one, from the first try.
    let mut attempt = 0;
    let mut nearby: Vec<i64> = Vec::new();
    let reservation_id = loop {
        if *crowd.stop.borrow() {
            return trace;
        }
        let body = if crowd.pick == Pick::Near && nearby.is_empty() {
            let seat = rand::rng().random_range(1..=crowd.seats);
            format!(r#"{{"event_id":"{}","quantity":1,"near_seat":{seat}}}"#, crowd.event_id)
        } else if attempt < 2 {
            let seat = if nearby.is_empty() {
                rand::rng().random_range(1..=crowd.seats)
            } else {
                nearby[rand::rng().random_range(0..nearby.len())]
            };
            format!(r#"{{"event_id":"{}","seat_numbers":[{seat}]}}"#, crowd.event_id)
        } else {
            format!(r#"{{"event_id":"{}","quantity":1}}"#, crowd.event_id)
        };
        let a = match pool.call("POST", "/reservations", &headers, Some(&body)).await {
            Ok(a) => a,
            Err(e) => return fail(&crowd, "reserve", e, trace),
        };
        trace.reserve.push(a.micros);
        let v = a.parse::<ReserveAnswer>();
        match (a.status, v.code.as_deref()) {
            (201, _) => {
                crowd.reservations.fetch_add(1, Ordering::Relaxed);
                break v.reservation_id.unwrap_or_default().into_owned();
            }
            (409, Some("seats_taken")) => {
                crowd.conflicts.fetch_add(1, Ordering::Relaxed);
                nearby = v.available_nearby;
                attempt += 1;
            }
            (409, Some("sold_out")) => return trace,
            _ => {
                crowd.error("reserve", a.status, &a.body);
                return trace;
            }
        }
    };
    let key = Uuid::new_v4().to_string();
    let body = format!(r#"{{"reservation_id":"{reservation_id}","method":"balance"}}"#);
    let pay_headers = [("Authorization", auth.as_str()), ("Idempotency-Key", key.as_str())];
    match pool.call("POST", "/payments", &pay_headers, Some(&body)).await {
        Ok(a) if a.status == 201 => {
            trace.pay.push(a.micros);
            let sold = crowd.sold.fetch_add(1, Ordering::Relaxed) + 1;
            if i64::try_from(sold).unwrap_or(i64::MAX) >= crowd.seats
                && let Ok(mut at) = crowd.sold_out_at.lock()
            {
                at.get_or_insert_with(Instant::now);
            }
        }
        Ok(a) => crowd.error("pay", a.status, &a.body),
        Err(e) => return fail(&crowd, "pay", e, trace),
    }
    trace
}

fn fail(crowd: &Crowd, what: &str, e: anyhow::Error, trace: Trace) -> Trace {
    crowd.error(what, 0, e.to_string().as_bytes());
    trace
}

/// Runs the crowd against the servers at `addrs` (buyers dealt out in turn) and reports.
async fn sale(
    addrs: &[String],
    args: &FlashArgs,
    p: Provisioned,
    backend: &str,
    store: &Store,
    server_pids: &[u32],
) -> anyhow::Result<FlashReport> {
    let pick = args.pick;
    let (open_tx, open_rx) = watch::channel(false);
    // The connections are shared out between the servers.
    let per_server = args.connections.div_ceil(addrs.len()).max(1);
    let crowd = Arc::new(Crowd {
        pools: addrs.iter().map(|a| Pool::new(a, per_server)).collect(),
        event_id: p.event_id.to_string(),
        seats: args.seats,
        pick,
        open: open_rx,
        notice: Duration::from_secs(args.opens_in.max(1)),
        stop: watch::channel(false).0,
        joined: AtomicU64::new(0),
        sold: AtomicU64::new(0),
        reservations: AtomicU64::new(0),
        conflicts: AtomicU64::new(0),
        polls: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        sold_out_at: std::sync::Mutex::new(None),
    });
    let buyers = p.buyer_tokens.len() as u64;
    println!("[{backend}] {buyers} buyers join the waiting room before the opening…");
    let t0 = Instant::now();
    let tasks: Vec<_> = p
        .buyer_tokens
        .into_iter()
        .enumerate()
        .map(|(n, t)| tokio::spawn(buyer(crowd.clone(), n, t)))
        .collect();
    while crowd.joined.load(Ordering::Relaxed) + crowd.errors.load(Ordering::Relaxed) < buyers {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let join_secs = t0.elapsed().as_secs_f64();
    let notice = crowd.notice;
    println!("[{backend}] joined in {join_secs:.1}s; the sale opens in {}s", notice.as_secs());
    let opens_at = tessera_domain::clock::format_ts(
        tessera_domain::clock::now() + time::Duration::try_from(notice).unwrap_or(time::Duration::ZERO),
    );
    let settings = format!(r#"{{"opens_at":"{opens_at}"}}"#);
    let auth = format!("Bearer {}", p.organizer_token);
    let path = format!("/events/{}/queue", p.event_id);
    let a = crowd.pools[0].call("PUT", &path, &[("Authorization", &auth)], Some(&settings)).await?;
    if a.status != 200 {
        bail!("opening the sale answered {}: {}", a.status, String::from_utf8_lossy(&a.body));
    }
    open_tx.send_replace(true);
    let opened = Instant::now() + notice;
    tokio::time::sleep_until(opened.into()).await;
    let server_cpu = || -> Option<f64> { server_pids.iter().map(|p| crate::cpu_secs(&p.to_string())).sum() };
    let cpu_at_open = (server_cpu(), crate::cpu_secs("self"));
    let mut max_live_admissions = 0;
    let polls_before_open = crowd.polls.load(Ordering::Relaxed);
    // Until every seat is paid for, or a minute passes with nothing sold.
    let mut last = (0, Instant::now());
    let mut tick = 0u32;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let sold = crowd.sold.load(Ordering::Relaxed);
        let live = store.live_admissions(p.event_id, tessera_domain::clock::now()).await?;
        max_live_admissions = max_live_admissions.max(live);
        tick += 1;
        if args.progress && tick.is_multiple_of(10) {
            eprintln!(
                "t={:.1}s sold={sold} reservations={} conflicts={} polls={}",
                opened.elapsed().as_secs_f64(),
                crowd.reservations.load(Ordering::Relaxed),
                crowd.conflicts.load(Ordering::Relaxed),
                crowd.polls.load(Ordering::Relaxed)
            );
        }
        if i64::try_from(sold).unwrap_or(i64::MAX) >= args.seats {
            break;
        }
        if sold != last.0 {
            last = (sold, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(60) {
            eprintln!("[{backend}] nothing sold for a minute; stopping at {sold}");
            break;
        }
        if tasks.iter().all(|t| t.is_finished()) {
            break;
        }
    }
    let cpu_at_end = (server_cpu(), crate::cpu_secs("self"));
    let end = crowd.sold_out_at.lock().ok().and_then(|a| *a).unwrap_or_else(Instant::now);
    let sale_secs = end.duration_since(opened).as_secs_f64();
    crowd.stop.send_replace(true);
    let (mut join, mut poll, mut reserve, mut pay) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for t in tasks {
        let tr = t.await?;
        join.extend(tr.join);
        poll.extend(tr.poll);
        reserve.extend(tr.reserve);
        pay.extend(tr.pay);
    }
    let audit = store.sale_audit(p.event_id).await?;
    let passed_over = store.queue_passed_over(p.event_id).await?;
    let sold = crowd.sold.load(Ordering::Relaxed);
    Ok(FlashReport {
        backend: backend.into(),
        pick,
        buyers: buyers as usize,
        seats: args.seats,
        join_secs,
        sale_secs,
        sold,
        oversold: audit.oversold() + (i64::try_from(sold).unwrap_or(0) - audit.seats_sold).abs(),
        audit,
        reservations: crowd.reservations.load(Ordering::Relaxed),
        conflicts: crowd.conflicts.load(Ordering::Relaxed),
        polls: crowd.polls.load(Ordering::Relaxed) - polls_before_open,
        polls_before_open,
        errors: crowd.errors.load(Ordering::Relaxed),
        instances: addrs.len(),
        max_live_admissions,
        passed_over,
        server_cpu_secs: cpu_at_end.0.zip(cpu_at_open.0).map(|(b, a)| b - a),
        bench_cpu_secs: cpu_at_end.1.zip(cpu_at_open.1).map(|(b, a)| b - a),
        latencies: vec![
            ("join", latency(join)),
            ("poll", latency(poll)),
            ("reserve", latency(reserve)),
            ("pay", latency(pay)),
        ],
    })
}

/// One backend: a fresh database, provisioned; the server started on it; the crowd run.
pub async fn run_backend(
    args: &FlashArgs,
    backend: &str,
    url: &str,
    pg_schema: Option<String>,
) -> anyhow::Result<FlashReport> {
    // Two processes on one SQLite file would each run their own writer: PostgreSQL only.
    let instances = if pg_schema.is_some() { args.instances.max(1) } else { 1 };
    let mut opts = StoreOptions::new(url);
    opts.pg_schema = pg_schema.clone();
    let store = Store::connect(&opts).await?;
    store.migrate().await?;
    let t = Instant::now();
    let p = provision(&store, args).await.context("provisioning")?;
    println!(
        "[{backend}] provisioned {} buyers and {} seats in {:.1}s (not timed)",
        args.buyers,
        args.seats,
        t.elapsed().as_secs_f64()
    );
    let server_url = match &pg_schema {
        // The server finds the schema through the connection's search_path.
        Some(s) => {
            format!("{url}{}options=-c%20search_path%3D{s}", if url.contains('?') { "&" } else { "?" })
        }
        None => url.to_string(),
    };
    // SQLite: one writer whatever the setting, and on two cores two readers beat eight (fewer
    // threads to hand each statement between). PostgreSQL: enough connections to keep it busy,
    // shared out between the instances so two use no more of PostgreSQL than one.
    let connections = if pg_schema.is_some() {
        (args.db_connections / u32::try_from(instances).unwrap_or(u32::MAX)).max(1).to_string()
    } else {
        "2".into()
    };
    let mut servers = Vec::new();
    let mut addrs = Vec::new();
    for _ in 0..instances {
        let addr = crate::free_addr()?;
        servers.push(crate::start_server(
            &args.tessera,
            &server_url,
            &addr,
            &[
                ("TESSERA_QUEUE_JOIN_LIMIT_PER_IP", "100000000"),
                ("TESSERA_DB_MAX_CONNECTIONS", &connections),
                // Each sale queues its ticket e-mail; sending 50,000 of them is not what is measured.
                ("TESSERA_JOBS_WORKER", "false"),
                crate::NO_SHEDDING[0],
                crate::NO_SHEDDING[1],
                crate::NO_SHEDDING[2],
                crate::NO_SHEDDING[3],
            ],
        )?);
        crate::wait_ready(&addr).await?;
        addrs.push(addr);
    }
    let pids: Vec<u32> = servers.iter().map(|s| s.pid()).collect();
    let report = sale(&addrs, args, p, backend, &store, &pids).await;
    // Stopped before its schema is dropped: the server's admission job still ticks, and its
    // transaction (queue state, then seats) can deadlock with DROP SCHEMA's locks.
    drop(servers);
    if let Some(s) = &pg_schema {
        store.drop_schema(s).await?;
    }
    store.close().await;
    report
}

/// A Markdown table of the runs.
pub fn table(reports: &[FlashReport]) -> String {
    let mut s = String::from(
        "| backend | instances | seat pick | buyers | seats | sold | oversold | most admitted at once | passed over in line | join phase s | sale s (open → sold out) | reservations/s | payments/s | seat conflicts | polls before opening | polls from opening | errors | server CPU s | server CPU ms/sale | bench CPU s |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in reports {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.2} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.backend,
            r.instances,
            r.pick.name(),
            r.buyers,
            r.seats,
            r.sold,
            r.oversold,
            r.max_live_admissions,
            r.passed_over,
            r.join_secs,
            r.sale_secs,
            r.reservations as f64 / r.sale_secs,
            r.sold as f64 / r.sale_secs,
            r.conflicts,
            r.polls_before_open,
            r.polls,
            r.errors,
            r.server_cpu_secs.map_or("—".into(), |c| format!("{c:.1}")),
            r.server_cpu_secs
                .filter(|_| r.sold > 0)
                .map_or("—".into(), |c| format!("{:.2}", c * 1000.0 / r.sold as f64)),
            r.bench_cpu_secs.map_or("—".into(), |c| format!("{c:.1}")),
        ));
    }
    s.push_str("\n| backend | request | count | p50 ms | p99 ms |\n|---|---|---:|---:|---:|\n");
    for r in reports {
        for (name, l) in &r.latencies {
            s.push_str(&format!(
                "| {} | {name} | {} | {:.2} | {:.2} |\n",
                r.backend, l.count, l.p50_ms, l.p99_ms
            ));
        }
    }
    s
}

impl FlashReport {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "backend": self.backend,
            "instances": self.instances,
            "max_live_admissions": self.max_live_admissions,
            "passed_over": self.passed_over,
            "seat_pick": self.pick.name(),
            "buyers": self.buyers,
            "seats": self.seats,
            "sold": self.sold,
            "oversold": self.oversold,
            "audit": {
                "seats_sold": self.audit.seats_sold,
                "tickets_valid": self.audit.tickets_valid,
                "ticketed_seats": self.audit.ticketed_seats,
                "payments_success": self.audit.payments_success,
            },
            "join_phase_secs": self.join_secs,
            "sale_secs": self.sale_secs,
            "reservations_per_sec": self.reservations as f64 / self.sale_secs,
            "payments_per_sec": self.sold as f64 / self.sale_secs,
            "seat_conflicts": self.conflicts,
            "polls": self.polls,
            "polls_before_open": self.polls_before_open,
            "errors": self.errors,
            "server_cpu_secs": self.server_cpu_secs,
            "bench_cpu_secs": self.bench_cpu_secs,
            "latency_ms": self.latencies.iter().map(|(n, l)| serde_json::json!({
                "request": n, "count": l.count, "p50": l.p50_ms, "p99": l.p99_ms
            })).collect::<Vec<_>>(),
        })
    }
}
