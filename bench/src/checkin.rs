//! The door scenario: an event with N valid tickets (default 10,000), every code issued up front
//! (not timed); then staff scanners send each ticket's entry once over real HTTP — signature,
//! revocation and validity checked and one conditional update per scan — and then every code
//! again (each must be refused as already inside). Reported as scans/s and p50/p99, with a bare
//! hyper hello-world measured in the same run as the baseline ratio.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tessera_domain::id::UserId;
use tessera_domain::records::User;

use anyhow::{Context, bail};

use tessera_app::auth::{Principal, TokenConfig};
use tessera_app::booking::ReserveInput;
use tessera_app::{App, AppConfig, SystemClock};
use tessera_domain::Role;
use tessera_domain::booking::{SeatMapInput, TicketTypeInput};
use tessera_domain::event::EventInput;
use tessera_store::{Store, StoreOptions};

use crate::load::{Report, Target};
use crate::pool::Pool;

#[derive(clap::Args, Clone)]
pub struct CheckinArgs {
    /// Path of the release `tessera` binary.
    #[arg(long, default_value = "target/release/tessera")]
    pub tessera: std::path::PathBuf,
    /// Valid tickets to scan.
    #[arg(long, default_value_t = 10_000)]
    pub tickets: usize,
    /// Concurrent scanner connections.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Then scan fresh tickets (`--tickets` per point) at each of these connection counts
    /// (e.g. 1,2,4,8,16,32,64,128,256): the scaling table and plot.
    #[arg(long, value_delimiter = ',')]
    pub sweep: Vec<usize>,
    /// Skip the SQLite run.
    #[arg(long)]
    pub no_sqlite: bool,
    /// Also run on this PostgreSQL database (in a fresh schema that is dropped afterwards).
    #[arg(long, env = "TESSERA_BENCH_DATABASE_URL")]
    pub postgres: Option<String>,
    /// Where to write results.
    #[arg(long, default_value = "bench/results")]
    pub out: std::path::PathBuf,
}

fn err(e: impl std::fmt::Debug) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

/// Makes the event, its tickets and their codes; answers (codes, staff token).
async fn provision(store: &Store, n: usize) -> anyhow::Result<(Vec<String>, String)> {
    let tokens = TokenConfig { access_ttl_secs: 6 * 3600, ..TokenConfig::default() };
    let app = App::new(store.clone(), AppConfig { tokens, ..AppConfig::default() }, Arc::new(SystemClock))
        .await
        .map_err(err)?;
    let now = tessera_domain::clock::now();
    let user = |name: String, role: Role| User {
        user_id: UserId::new(),
        email: format!("{}@door.tessera.test", name.to_lowercase().replace(' ', ".")),
        name,
        password_hash: "!".into(),
        role,
        phone_number: None,
        created_at: now,
        updated_at: now,
        disabled_at: None,
    };
    let org = user("Door Organizer".into(), Role::Organizer);
    let staff = user("Door Staff".into(), Role::Staff);
    store.provision_users(&[org.clone(), staff.clone()], 0, now).await?;
    let who = Principal { user_id: org.user_id, role: Role::Organizer };
    let input = EventInput {
        name: Some("Door Benchmark Festival".into()),
        start_time: Some(tessera_domain::clock::format_ts(now + time::Duration::days(1))),
        location: Some("Makuhari Messe".into()),
        price: Some("10.00".into()),
        max_per_person: Some(100),
        ..EventInput::default()
    };
    let event = app.create_event(&who, &input, &SeatMapInput::default()).await.map_err(err)?;
    let tt = TicketTypeInput {
        name: Some("General".into()),
        price: Some("10.00".into()),
        quota: Some(i64::try_from(n).unwrap_or(i64::MAX)),
        per_person_limit: Some(100),
        ..TicketTypeInput::default()
    };
    let tt = app.create_ticket_type(&who, event.event_id, &tt).await.map_err(err)?;
    app.add_event_staff(&who, event.event_id, staff.user_id).await.map_err(err)?;
    // Buyers of up to 100 tickets each.
    let buyers: Vec<User> =
        (0..n.div_ceil(100)).map(|i| user(format!("Holder {i}"), Role::Attendee)).collect();
    store.provision_users(&buyers, 100_000_000, now).await?;
    let mut left = n;
    let mut ticket_ids = Vec::with_capacity(n);
    for b in &buyers {
        let p = Principal { user_id: b.user_id, role: Role::Attendee };
        let q = left.min(100);
        left -= q;
        let hold = ReserveInput {
            event_id: Some(event.event_id),
            ticket_type_id: Some(tt.row.ticket_type_id),
            quantity: Some(i64::try_from(q).unwrap_or(1)),
            ..ReserveInput::default()
        };
        let h = app.reserve(&p, &hold).await.map_err(err)?;
        let r = app.pay(&p, Some(h.reservation.reservation_id), None, None).await.map_err(err)?;
        ticket_ids.extend(r.tickets.iter().map(|t| t.ticket_id));
    }
    let mut codes = Vec::with_capacity(n);
    for id in ticket_ids {
        let t = store.ticket_detail(id).await?.context("ticket")?;
        codes.push(app.ticket_code(&t).await.map_err(err)?);
    }
    let staff_token = app.access_token(staff.user_id, Role::Staff).map_err(err)?;
    Ok((codes, staff_token))
}

/// Scans every code once with `connections` scanners; answers (report, answers by status).
async fn scan_all(
    addr: &str,
    codes: &Arc<Vec<String>>,
    token: &str,
    connections: usize,
    expect: u16,
) -> anyhow::Result<Report> {
    let pool = Arc::new(Pool::new(addr, connections));
    let next = Arc::new(AtomicUsize::new(0));
    let unexpected = Arc::new(AtomicU64::new(0));
    let auth = format!("Bearer {token}");
    let start = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..connections {
        let (pool, next, codes, unexpected, auth) =
            (pool.clone(), next.clone(), codes.clone(), unexpected.clone(), auth.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(code) = codes.get(i) else { break };
                let body = format!(r#"{{"code":"{code}","direction":"entry","gate":"G{}"}}"#, s % 8);
                let a = pool.call("POST", "/checkin", &[("Authorization", &auth)], Some(&body)).await?;
                if a.status != expect && unexpected.fetch_add(1, Ordering::Relaxed) < 3 {
                    eprintln!("scan answered {}: {}", a.status, String::from_utf8_lossy(&a.body));
                }
                lat.push(a.micros);
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let errors = unexpected.load(Ordering::Relaxed);
    Ok(Report {
        name: String::new(),
        requests: lat.len() as u64,
        errors,
        secs,
        p50_us: u64::from(crate::load::percentile(&lat, 0.5)),
        p99_us: u64::from(crate::load::percentile(&lat, 0.99)),
        same_bytes_rps: None,
        server_cpu_ms: None,
    })
}

/// One backend: provision, start the server, scan every ticket in, then every ticket again;
/// then, for a sweep, fresh tickets at each connection count.
pub async fn run_backend(
    args: &CheckinArgs,
    backend: &str,
    url: &str,
    pg_schema: Option<String>,
    addr: &str,
) -> anyhow::Result<(Vec<Report>, Vec<(usize, Report)>)> {
    let mut opts = StoreOptions::new(url);
    opts.pg_schema = pg_schema.clone();
    let store = Store::connect(&opts).await?;
    store.migrate().await?;
    let t = Instant::now();
    let (mut codes, token) =
        provision(&store, args.tickets * (1 + args.sweep.len())).await.context("provisioning")?;
    let swept = codes.split_off(args.tickets);
    println!(
        "[{backend}] issued {} ticket codes in {:.1}s (not timed)",
        codes.len(),
        t.elapsed().as_secs_f64()
    );
    let server_url = match &pg_schema {
        Some(s) => {
            format!("{url}{}options=-c%20search_path%3D{s}", if url.contains('?') { "&" } else { "?" })
        }
        None => url.to_string(),
    };
    let mut env = vec![("TESSERA_JOBS_WORKER", "false")];
    env.extend(crate::NO_SHEDDING);
    let server = crate::start_server(&args.tessera, &server_url, addr, &env)?;
    crate::wait_ready(addr).await?;
    let codes = Arc::new(codes);
    let pid = server.pid().to_string();
    let cpu = || crate::cpu_secs(&pid);
    let c0 = cpu();
    let entries = scan_all(addr, &codes, &token, args.connections, 200).await?;
    let c1 = cpu();
    let replays = scan_all(addr, &codes, &token, args.connections, 409).await?;
    let c2 = cpu();
    let spent = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
    let (entries, replays) = (entries.with_cpu(spent(c0, c1)), replays.with_cpu(spent(c1, c2)));
    let mut sweep = Vec::new();
    for (conns, chunk) in args.sweep.iter().zip(swept.chunks(args.tickets)) {
        let chunk = Arc::new(chunk.to_vec());
        let c0 = cpu();
        let r = scan_all(addr, &chunk, &token, *conns, 200).await?;
        println!("[{backend}] {conns} connections: {:.0} scans/s", r.rps());
        sweep.push((*conns, r.with_cpu(spent(c0, cpu()))));
    }
    if let Some(s) = &pg_schema {
        store.drop_schema(s).await?;
    }
    store.close().await;
    let swept_errors: u64 = sweep.iter().map(|(_, r)| r.errors).sum();
    if entries.errors > 0 || replays.errors > 0 || swept_errors > 0 {
        bail!(
            "{} entries, {} replays and {swept_errors} swept entries were answered unexpectedly",
            entries.errors,
            replays.errors
        );
    }
    Ok((
        vec![
            entries.named(&format!("POST /checkin, first entry ({backend})")),
            replays.named(&format!("POST /checkin, replayed code: 409 ({backend})")),
        ],
        sweep,
    ))
}

/// The baseline: a bare hyper server under the same load generator, same connections.
pub async fn baseline(connections: usize) -> anyhow::Result<Report> {
    let (_hello, hello_addr) = crate::bare_server(None).await?;
    let hello_addr = &hello_addr;
    crate::load::run(&Target::fixed(hello_addr, "/"), Duration::from_secs(1), connections).await?;
    Ok(crate::load::run(&Target::fixed(hello_addr, "/"), Duration::from_secs(5), connections)
        .await?
        .named("hyper hello-world (baseline)"))
}
