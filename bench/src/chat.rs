//! The chat scenario: 1,000 WebSocket clients in 50 group chats of 20 (each following its chat),
//! while senders post messages over HTTP as fast as the server takes them for a fixed time.
//! Reported: messages accepted per second, messages delivered per second (every member gets
//! every message of its chat, its sender included), p50/p99 from sending to delivery, server CPU
//! per message. First, on the fresh server, its resident memory with 10,000 idle connections
//! (each following a chat), measured and closed before the messages start.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use tessera_app::{App, AppConfig, SystemClock};
use tessera_domain::Role;
use tessera_domain::id::{ChatId, UserId};
use tessera_domain::records::{Chat, ChatKind, User};
use tessera_store::{Store, StoreOptions};
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::pool::Pool;

#[derive(clap::Args, Clone)]
pub struct ChatArgs {
    /// Path of the release `tessera` binary.
    #[arg(long, default_value = "target/release/tessera")]
    pub tessera: std::path::PathBuf,
    /// Chats, and members per chat (each member one WebSocket client).
    #[arg(long, default_value_t = 50)]
    pub chats: usize,
    #[arg(long, default_value_t = 20)]
    pub members: usize,
    /// Concurrent HTTP senders.
    #[arg(long, default_value_t = 16)]
    pub senders: usize,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Idle connections for the memory measure (0: skip it).
    #[arg(long, default_value_t = 10_000)]
    pub idle: usize,
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

/// One backend's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChatReport {
    pub backend: String,
    pub clients: usize,
    pub sent: u64,
    pub send_errors: u64,
    pub sent_per_sec: f64,
    pub delivered: u64,
    pub expected: u64,
    pub delivered_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub server_cpu_ms_per_message: f64,
    pub idle_connections: usize,
    pub rss_idle_mib: f64,
    pub rss_with_idle_connections_mib: f64,
    pub kib_per_idle_connection: f64,
}

/// Provisions `chats` group chats of `members` users; answers each member's (chat, token).
async fn provision(store: &Store, chats: usize, members: usize) -> anyhow::Result<Vec<(ChatId, String)>> {
    let app = App::new(store.clone(), AppConfig::default(), Arc::new(SystemClock))
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let now = tessera_domain::clock::now();
    let users: Vec<User> = (0..chats * members)
        .map(|i| User {
            user_id: UserId::new(),
            name: format!("Chatter {i}"),
            email: format!("chatter-{i}@chat.tessera.test"),
            password_hash: "!".into(),
            role: Role::Attendee,
            phone_number: None,
            created_at: now,
            updated_at: now,
            disabled_at: None,
        })
        .collect();
    store.provision_users(&users, 0, now).await?;
    let mut out = Vec::with_capacity(users.len());
    for group in users.chunks(members) {
        let chat = Chat {
            chat_id: ChatId::new(),
            kind: ChatKind::Group,
            event_id: None,
            name: Some("Bench chat".into()),
            created_by: Some(group[0].user_id),
            last_seq: 0,
            last_message_id: None,
            created_at: now,
            updated_at: now,
        };
        let ids: Vec<UserId> = group.iter().map(|u| u.user_id).collect();
        store.create_chat(&chat, None, &ids).await?;
        for u in group {
            let token = app.access_token(u.user_id, Role::Attendee).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            out.push((chat.chat_id, token));
        }
    }
    Ok(out)
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects and follows a chat; answers once the server confirmed it.
async fn follower(addr: &str, chat: ChatId, token: &str) -> anyhow::Result<Ws> {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws?access_token={token}")).await?;
    let follow = serde_json::json!({"type": "follow", "chat_id": chat}).to_string();
    ws.send(Frame::Text(follow.into())).await?;
    while let Some(f) = ws.next().await {
        if let Frame::Text(t) = f?
            && t.as_str().contains("\"followed\"")
        {
            return Ok(ws);
        }
    }
    bail!("the connection closed before following")
}

fn rss_bytes(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    kb * 1024.0
}

pub async fn run_backend(
    args: &ChatArgs,
    backend: &str,
    url: &str,
    pg_schema: Option<String>,
) -> anyhow::Result<ChatReport> {
    let mut opts = StoreOptions::new(url);
    opts.pg_schema = pg_schema.clone();
    let store = Store::connect(&opts).await?;
    store.migrate().await?;
    let members = provision(&store, args.chats, args.members).await.context("provisioning")?;
    let server_url = match &pg_schema {
        Some(s) => {
            format!("{url}{}options=-c%20search_path%3D{s}", if url.contains('?') { "&" } else { "?" })
        }
        None => url.to_string(),
    };
    let addr = crate::free_addr()?;
    let mut env = vec![
        ("TESSERA_JOBS_WORKER", "false"),
        ("TESSERA_CHAT_MESSAGES_PER_SECOND", "1000000"),
        ("TESSERA_CHAT_CONNECTIONS_PER_USER", "64"),
        ("TESSERA_MAX_CONNECTIONS", "30000"),
    ];
    env.extend(crate::NO_SHEDDING);
    let server = crate::start_server(&args.tessera, &server_url, &addr, &env)?;
    crate::wait_ready(&addr).await?;
    let pid = server.pid();
    let rss_idle = rss_bytes(pid);

    // Memory with many idle connections (each following its member's chat).
    let mut idle = Vec::with_capacity(args.idle);
    for i in 0..args.idle {
        let (chat, token) = &members[i % members.len()];
        idle.push(follower(&addr, *chat, token).await.with_context(|| format!("idle connection {i}"))?);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle_conns = rss_bytes(pid);
    drop(idle);
    // The connections are gone before the messages start.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Every member follows its chat.
    let epoch = Instant::now();
    let delivered = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<u32>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for (chat, token) in &members {
        let mut ws = follower(&addr, *chat, token).await?;
        let (delivered, latencies, stop) = (delivered.clone(), latencies.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let Ok(Some(Ok(frame))) = tokio::time::timeout(Duration::from_millis(200), ws.next()).await
                else {
                    continue;
                };
                let Frame::Text(t) = frame else { continue };
                // The body is "t=<microseconds since the epoch>".
                if let Some(at) = t.as_str().split("\"body\":\"t=").nth(1).and_then(|r| r.split('"').next()) {
                    let sent: u64 = at.parse().unwrap_or(0);
                    let now = u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
                    mine.push(u32::try_from(now.saturating_sub(sent)).unwrap_or(u32::MAX));
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies.lock().map(|mut l| l.extend(mine)).ok();
        }));
    }
    println!("[{backend}] {} clients following {} chats", members.len(), args.chats);

    // Senders post to the chats in turn for the duration.
    let pool = Arc::new(Pool::new(&addr, args.senders));
    let (sent, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let cpu_before = crate::cpu_secs(&pid.to_string()).unwrap_or(0.0);
    let started = Instant::now();
    let until = started + Duration::from_secs(args.duration);
    let mut senders = Vec::new();
    for s in 0..args.senders {
        let (pool, sent, errors) = (pool.clone(), sent.clone(), errors.clone());
        // Sender s speaks for member s*members of its chats in turn.
        let mine: Vec<(ChatId, String)> = members
            .iter()
            .step_by(args.members)
            .skip(s % args.chats)
            .step_by(args.senders.max(1))
            .cloned()
            .collect();
        let mine = if mine.is_empty() { vec![members[0].clone()] } else { mine };
        senders.push(tokio::spawn(async move {
            let mut i = 0usize;
            while Instant::now() < until {
                let (chat, token) = &mine[i % mine.len()];
                i += 1;
                let at = epoch.elapsed().as_micros();
                let body = format!(r#"{{"body":"t={at}"}}"#);
                let auth = format!("Bearer {token}");
                match pool
                    .call(
                        "POST",
                        &format!("/chats/{chat}/messages"),
                        &[("Authorization", &auth)],
                        Some(&body),
                    )
                    .await
                {
                    Ok(a) if a.status == 201 => sent.fetch_add(1, Ordering::Relaxed),
                    _ => errors.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for s in senders {
        s.await?;
    }
    let send_secs = started.elapsed().as_secs_f64();
    let expected = sent.load(Ordering::Relaxed) * u64::try_from(args.members).unwrap_or(0);
    // Let deliveries drain (up to 10 s).
    let drain = Instant::now();
    while delivered.load(Ordering::Relaxed) < expected && drain.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deliver_secs = started.elapsed().as_secs_f64();
    let cpu = crate::cpu_secs(&pid.to_string()).unwrap_or(0.0) - cpu_before;
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.await?;
    }
    let mut lat = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    lat.sort_unstable();
    let ms = |p: f64| f64::from(crate::load::percentile(&lat, p)) / 1000.0;
    let sent_n = sent.load(Ordering::Relaxed);

    drop(server);
    if let Some(s) = &pg_schema {
        store.drop_schema(s).await?;
    }
    store.close().await;
    let per_conn = if args.idle > 0 { (rss_idle_conns - rss_idle) / 1024.0 / args.idle as f64 } else { 0.0 };
    Ok(ChatReport {
        backend: backend.to_string(),
        clients: members.len(),
        sent: sent_n,
        send_errors: errors.load(Ordering::Relaxed),
        sent_per_sec: sent_n as f64 / send_secs,
        delivered: delivered.load(Ordering::Relaxed),
        expected,
        delivered_per_sec: delivered.load(Ordering::Relaxed) as f64 / deliver_secs,
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        server_cpu_ms_per_message: if sent_n > 0 { cpu * 1000.0 / sent_n as f64 } else { 0.0 },
        idle_connections: args.idle,
        rss_idle_mib: rss_idle / 1048576.0,
        rss_with_idle_connections_mib: rss_idle_conns / 1048576.0,
        kib_per_idle_connection: per_conn,
    })
}

pub fn table(reports: &[ChatReport]) -> String {
    let mut s = String::from(
        "| backend | clients | messages/s accepted | deliveries/s | delivered / expected | send→delivery p50 | p99 | server CPU per message | RSS idle → with idle WebSockets |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in reports {
        s.push_str(&format!(
            "| {} | {} | {:.0} | {:.0} | {} / {} | {:.1} ms | {:.1} ms | {:.2} ms | {:.0} MiB → {:.0} MiB with {} ({:.1} KiB each) |\n",
            r.backend,
            r.clients,
            r.sent_per_sec,
            r.delivered_per_sec,
            r.delivered,
            r.expected,
            r.p50_ms,
            r.p99_ms,
            r.server_cpu_ms_per_message,
            r.rss_idle_mib,
            r.rss_with_idle_connections_mib,
            r.idle_connections,
            r.kib_per_idle_connection,
        ));
    }
    s
}
