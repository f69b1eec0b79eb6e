//! The overload scenario: catalogue reads at a load the server answers comfortably, then at ten
//! times as many concurrent clients, with the server's load shedding on and (for comparison, in
//! the same run) effectively off. Reports the answered requests' throughput and latency apart
//! from the shed ones (503), and whether the server stayed up. Clients honour the 503's
//! Retry-After (one second), as well-behaved ones do.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::load::{percentile, read_response};

#[derive(clap::Args, Clone)]
pub struct OverloadArgs {
    /// Path of the release `tessera` binary.
    #[arg(long, default_value = "target/release/tessera")]
    pub tessera: PathBuf,
    /// Seconds of load per phase.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Concurrent clients of the comfortable load.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// How many times as many clients the overload has.
    #[arg(long, default_value_t = 10)]
    pub factor: usize,
    /// The path every client reads.
    #[arg(long, default_value = "/events?limit=20")]
    pub path: String,
    /// Where to write results.
    #[arg(long, default_value = "bench/results")]
    pub out: PathBuf,
    /// Pin the server to these CPUs (taskset) and the load generator to the others, so that the
    /// server is what saturates (on a shared machine the clients otherwise queue for CPU too,
    /// and their own waiting is most of what they measure). Empty: no pinning.
    #[arg(long, default_value = "0")]
    pub server_cpus: String,
    /// The load generator's CPUs when the server is pinned.
    #[arg(long, default_value = "1")]
    pub client_cpus: String,
}

pub struct Phase {
    pub name: String,
    pub ok: u64,
    pub shed: u64,
    pub other: u64,
    pub secs: f64,
    pub ok_p50_us: u32,
    pub ok_p99_us: u32,
    pub shed_p99_us: u32,
    pub server_cpu_secs: f64,
    pub alive: bool,
}

/// Closed-loop load over `conns` keep-alive connections, latencies kept apart by outcome. A
/// connection the server closes is opened again (and counted under `other`).
async fn load(
    addr: &str,
    path: &str,
    dur: Duration,
    conns: usize,
) -> anyhow::Result<(Vec<u32>, Vec<u32>, u64, f64)> {
    let start = Instant::now();
    let deadline = start + dur;
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (addr, path) = (addr.to_string(), path.to_string());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut shed, mut other) = (Vec::new(), Vec::new(), 0u64);
            let mut buf = Vec::with_capacity(64 * 1024);
            let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n\r\n");
            'conn: while Instant::now() < deadline {
                let Ok(mut stream) = TcpStream::connect(&addr).await else {
                    other += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    if stream.write_all(req.as_bytes()).await.is_err() {
                        other += 1;
                        continue 'conn;
                    }
                    let Ok((status, _)) = read_response(&mut stream, &mut buf).await else {
                        other += 1;
                        continue 'conn;
                    };
                    let us = u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX);
                    match status {
                        200 => ok.push(us),
                        503 => {
                            shed.push(us);
                            // As a well-behaved client does: the server asks for a second, and
                            // clients spread their returns (jitter) rather than all coming back
                            // in the same instant.
                            let jitter = u64::from(t.elapsed().subsec_nanos() ^ us) % 500;
                            tokio::time::sleep(Duration::from_millis(1000 + jitter)).await;
                        }
                        _ => other += 1,
                    }
                }
            }
            (ok, shed, other)
        }));
    }
    let (mut ok, mut shed, mut other) = (Vec::new(), Vec::new(), 0);
    for t in tasks {
        let (o, s, e) = t.await?;
        ok.extend(o);
        shed.extend(s);
        other += e;
    }
    ok.sort_unstable();
    shed.sort_unstable();
    Ok((ok, shed, other, start.elapsed().as_secs_f64()))
}

async fn phase(
    name: &str,
    addr: &str,
    pid: &str,
    args: &OverloadArgs,
    conns: usize,
) -> anyhow::Result<Phase> {
    let cpu0 = crate::cpu_secs(pid).unwrap_or(0.0);
    let (ok, shed, other, secs) = load(addr, &args.path, Duration::from_secs(args.duration), conns).await?;
    let cpu = crate::cpu_secs(pid).unwrap_or(0.0) - cpu0;
    let alive = TcpStream::connect(addr).await.is_ok();
    Ok(Phase {
        name: name.into(),
        ok: ok.len() as u64,
        shed: shed.len() as u64,
        other,
        secs,
        ok_p50_us: percentile(&ok, 0.50),
        ok_p99_us: percentile(&ok, 0.99),
        shed_p99_us: percentile(&shed, 0.99),
        server_cpu_secs: cpu,
        alive,
    })
}

/// Runs the scenario on SQLite with the demo catalogue.
pub async fn run(args: &OverloadArgs) -> anyhow::Result<Vec<Phase>> {
    if !args.server_cpus.is_empty() {
        let me = std::process::id().to_string();
        let pinned = std::process::Command::new("taskset")
            .args(["-a", "-p", "-c", &args.client_cpus, &me])
            .output()?;
        anyhow::ensure!(
            pinned.status.success(),
            "taskset failed: {}",
            String::from_utf8_lossy(&pinned.stderr)
        );
    }
    let tmp = std::env::temp_dir().join(format!("tessera-overload-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let url = format!("sqlite://{}/overload.db", tmp.display());
    let seed = std::process::Command::new(&args.tessera)
        .args(["seed", "--demo"])
        .env("DATABASE_URL", &url)
        .env("TESSERA_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .status()?;
    anyhow::ensure!(seed.success(), "seeding demo data failed");
    let mut phases = Vec::new();
    let heavy = args.connections * args.factor;
    let off = vec![("TESSERA_CONCURRENCY_READS", "1000000"), ("TESSERA_SHED_MAX_LAG_MS", "0")];
    for (shedding, env) in [(true, vec![]), (false, off)] {
        let addr = crate::free_addr()?;
        let server = if args.server_cpus.is_empty() {
            crate::start_server(&args.tessera, &url, &addr, &env)?
        } else {
            crate::start_pinned_server(&args.server_cpus, &args.tessera, &url, &addr, &env)?
        };
        let pid = server.pid().to_string();
        crate::wait_ready(&addr).await?;
        load(&addr, &args.path, Duration::from_secs(2), args.connections).await?;
        let label = if shedding { "shedding on" } else { "shedding off" };
        if shedding {
            phases.push(
                phase(&format!("{} clients", args.connections), &addr, &pid, args, args.connections).await?,
            );
        }
        phases.push(phase(&format!("{heavy} clients, {label}"), &addr, &pid, args, heavy).await?);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(phases)
}

pub fn table(phases: &[Phase]) -> String {
    let base = phases.first().map_or(1, |p| p.ok_p99_us.max(1));
    let mut s = String::from(
        "| load | answered/s | shed/s (503) | other | p50 ms (answered) | p99 ms (answered) | p99 ÷ comfortable p99 | p99 ms (503) | server CPU ms per answer | up after |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for p in phases {
        s.push_str(&format!(
            "| {} | {:.0} | {:.0} | {} | {:.2} | {:.2} | {:.1} | {:.2} | {:.3} | {} |\n",
            p.name,
            p.ok as f64 / p.secs,
            p.shed as f64 / p.secs,
            p.other,
            f64::from(p.ok_p50_us) / 1000.0,
            f64::from(p.ok_p99_us) / 1000.0,
            f64::from(p.ok_p99_us) / f64::from(base),
            f64::from(p.shed_p99_us) / 1000.0,
            p.server_cpu_secs * 1000.0 / (p.ok.max(1) as f64),
            if p.alive { "yes" } else { "NO" },
        ));
    }
    s
}
