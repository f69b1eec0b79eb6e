//! Tessera's benchmark (not a test). Two scenarios:
//! - `run` (catalogue): throughput and latency of catalogue reads, reported as ratios to a bare
//!   hyper "hello world" measured in the same run on the same machine;
//! - `flash`: a flash sale of a seated event through the waiting room (see flash.rs);
//! - `checkin`: door scans of 10,000 valid tickets (see checkin.rs);
//! - `chat`: 1,000 WebSocket clients in 50 chats, and 10,000 idle connections (see chat.rs).
//!
//! `bash bench/run.sh` builds release binaries and runs the catalogue scenario;
//! `bash bench/run.sh flash` runs the flash sale. The load generator is a
//! small keep-alive HTTP/1.1 client in this binary; it shares the cores with the server under test,
//! which is why only same-run ratios mean anything.

mod chat;
mod checkin;
mod flash;
mod hello;
mod load;
mod overload;
mod plot;
mod pool;

// The load generator shares the two cores with the server it measures: glibc's allocator was
// ~9 % of all CPU samples during a flash sale (the bench's many small allocations per request),
// time taken from the server. The server uses mimalloc for the same reason.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::load::{Report, Target};

#[derive(Parser)]
#[command(about = "Tessera load scenarios")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The baseline: a bare hyper server answering "Hello, World!", or a file's bytes.
    Hello {
        #[arg(long)]
        listen: String,
        /// Answer this file's bytes (as `application/json`) instead of "Hello, World!".
        #[arg(long)]
        body_file: Option<PathBuf>,
    },
    /// Run the catalogue scenario.
    Run(RunArgs),
    /// Run the flash-sale scenario.
    Flash(flash::FlashArgs),
    /// Run the door check-in scenario.
    Checkin(checkin::CheckinArgs),
    /// Run the overload scenario (load shedding).
    Overload(overload::OverloadArgs),
    /// Run the chat scenario (WebSocket delivery, idle connections' memory).
    Chat(chat::ChatArgs),
}

#[derive(clap::Args, Clone)]
struct RunArgs {
    /// Path of the release `tessera` binary.
    #[arg(long, default_value = "target/release/tessera")]
    tessera: PathBuf,
    /// Seconds of load per scenario.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Also run against this PostgreSQL database (demo data is loaded into it).
    #[arg(long, env = "TESSERA_BENCH_DATABASE_URL")]
    postgres: Option<String>,
    /// Where to write results.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
}

struct Server(Child);

impl Server {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

/// CPU seconds (user + system, all threads) a process has used so far, from /proc: the same
/// sale can take quite different wall times from run to run on a shared two-core machine, while
/// the CPU it costs moves far less, so the flash bench reports both.
pub(crate) fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let mut f = rest.split_whitespace().skip(11);
    let (utime, stime): (f64, f64) = (f.next()?.parse().ok()?, f.next()?.parse().ok()?);
    // /proc counts in USER_HZ, which Linux fixes at 100 for user space.
    Some((utime + stime) / 100.0)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    match cli.command {
        Cmd::Hello { listen, body_file } => {
            let body = body_file.map(std::fs::read).transpose()?;
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(hello::serve(&listen, body))
        }
        Cmd::Run(args) => rt.block_on(run(args)),
        Cmd::Flash(args) => rt.block_on(run_flash(args)),
        Cmd::Checkin(args) => rt.block_on(run_checkin(args)),
        Cmd::Overload(args) => rt.block_on(run_overload(args)),
        Cmd::Chat(args) => rt.block_on(run_chat(args)),
    }
}

/// A free loopback address (the kernel picks the port).
pub(crate) fn free_addr() -> anyhow::Result<String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.to_string())
}

pub(crate) async fn wait_ready(addr: &str) -> anyhow::Result<()> {
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{addr} did not start")
}

/// Starts `tessera serve` on `db_url` with extra environment.
pub(crate) fn start_server(
    bin: &PathBuf,
    db_url: &str,
    listen: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<Server> {
    spawn_server(Command::new(bin), bin, db_url, listen, env)
}

/// Load shedding off, for the scenarios that measure what the server answers at a fixed
/// concurrency (catalogue, flash sale, check-in): their clients do not back off on 503, and with
/// the server's default lag limit they would measure shedding, which `overload` measures.
pub(crate) const NO_SHEDDING: [(&str, &str); 4] = [
    ("TESSERA_SHED_MAX_LAG_MS", "0"),
    ("TESSERA_CONCURRENCY_READS", "1000000"),
    ("TESSERA_CONCURRENCY_WRITES", "1000000"),
    ("TESSERA_CONCURRENCY_LOGINS", "1000000"),
];

/// The same, pinned to `cpus` with taskset (util-linux).
pub(crate) fn start_pinned_server(
    cpus: &str,
    bin: &PathBuf,
    db_url: &str,
    listen: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<Server> {
    let mut taskset = Command::new("taskset");
    taskset.args(["-c", cpus]).arg(bin);
    spawn_server(taskset, bin, db_url, listen, env)
}

fn spawn_server(
    mut cmd: Command,
    bin: &std::path::Path,
    db_url: &str,
    listen: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<Server> {
    let child = cmd
        .args(["serve", "--listen", listen])
        .env("DATABASE_URL", db_url)
        .env("TESSERA_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| {
            format!("running {} (build it with cargo build --release -p tessera)", bin.display())
        })?;
    Ok(Server(child))
}

/// (peak, current) resident memory of a process, in KiB (0 when unknown).
fn memory_kib(pid: &str) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Milliseconds from spawning `tessera serve` on `db_url` to its first 200 from `/health`.
async fn start_to_first_answer(bin: &PathBuf, db_url: &str) -> anyhow::Result<f64> {
    let addr = free_addr()?;
    let t = std::time::Instant::now();
    let _server = start_server(bin, db_url, &addr, &[("TESSERA_JOBS_WORKER", "false")])?;
    while t.elapsed() < Duration::from_secs(30) {
        if let Ok(body) = load::fetch(&addr, "/health").await {
            anyhow::ensure!(!body.is_empty(), "empty /health");
            return Ok(t.elapsed().as_secs_f64() * 1000.0);
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    bail!("{addr} did not answer /health")
}

/// The binary's size once stripped (with `strip`, from binutils).
fn stripped_size(bin: &PathBuf, tmp: &std::path::Path) -> String {
    let out = tmp.join("tessera-stripped");
    let ok = Command::new("strip").arg("-o").arg(&out).arg(bin).status().is_ok_and(|s| s.success());
    match std::fs::metadata(&out) {
        Ok(m) if ok => format!("{:.1} MB ({} bytes)", m.len() as f64 / 1e6, m.len()),
        _ => "(strip unavailable)".into(),
    }
}

/// A bare hyper server on a free port, answering "Hello, World!" or a file's bytes.
pub(crate) async fn bare_server(body: Option<&std::path::Path>) -> anyhow::Result<(Server, String)> {
    let addr = free_addr()?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["hello", "--listen", &addr]);
    if let Some(b) = body {
        cmd.arg("--body-file").arg(b);
    }
    let server = Server(cmd.stdout(Stdio::null()).spawn()?);
    wait_ready(&addr).await?;
    Ok((server, addr))
}

/// Loads the demo catalogue, then starts the server on it.
fn start_tessera(bin: &PathBuf, db_url: &str, listen: &str) -> anyhow::Result<Server> {
    let status = Command::new(bin)
        .args(["seed", "--demo"])
        .env("DATABASE_URL", db_url)
        .env("TESSERA_LOG", "warn")
        .stdout(Stdio::null())
        .status()
        .with_context(|| {
            format!("running {} (build it with cargo build --release -p tessera)", bin.display())
        })?;
    anyhow::ensure!(status.success(), "seeding demo data failed");
    start_server(bin, db_url, listen, &NO_SHEDDING)
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let dur = Duration::from_secs(args.duration);
    let mut reports: Vec<Report> = Vec::new();

    let tmp = std::env::temp_dir().join(format!("tessera-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let (_hello, hello_addr) = bare_server(None).await?;
    println!(
        "warming up and measuring the baseline ({}s each, {} connections)…",
        args.duration, args.connections
    );
    load::run(&Target::fixed(&hello_addr, "/"), Duration::from_secs(2), args.connections).await?;
    let baseline = load::run(&Target::fixed(&hello_addr, "/"), dur, args.connections)
        .await?
        .named("hyper hello-world (baseline)");
    reports.push(baseline.clone());

    let mut backends = vec![("sqlite", format!("sqlite://{}/bench.db", tmp.display()))];
    if let Some(pg) = &args.postgres {
        backends.push(("postgres", pg.clone()));
    }
    let mut footprint: Vec<(String, String)> = Vec::new();
    for (name, url) in &backends {
        let addr = free_addr()?;
        let server = start_tessera(&args.tessera, url, &addr)?;
        wait_ready(&addr).await?;
        let ids = load::event_ids(&addr).await?;
        anyhow::ensure!(!ids.is_empty(), "no events to read");
        let paths: Vec<String> = ids.iter().map(|id| format!("/events/{id}")).collect();
        let pid = server.pid().to_string();
        let cpu = || cpu_secs(&pid);
        // The list, then one event: each beside a bare server answering the same bytes.
        for (label, target, sample) in [
            (
                "GET /events?limit=20",
                Target::fixed(&addr, "/events?limit=20"),
                "/events?limit=20".to_string(),
            ),
            ("GET /events/{id}", Target::rotating(&addr, paths.clone()), paths[0].clone()),
        ] {
            let file = tmp.join("same-bytes.json");
            std::fs::write(&file, load::fetch(&addr, &sample).await?)?;
            let (bare, bare_addr) = bare_server(Some(&file)).await?;
            load::run(&Target::fixed(&bare_addr, "/"), Duration::from_secs(1), args.connections).await?;
            let same = load::run(&Target::fixed(&bare_addr, "/"), dur, args.connections).await?;
            drop(bare);
            reports.push(same.clone().named(&format!("bare hyper, the same bytes as {label} ({name})")));
            load::run(&target, Duration::from_secs(2), args.connections).await?;
            let c0 = cpu();
            let r = load::run(&target, dur, args.connections).await?;
            let spent = cpu().zip(c0).map(|(b, a)| b - a);
            reports.push(r.named(&format!("{label} ({name})")).against(&same).with_cpu(spent));
        }
        let (peak, now) = memory_kib(&pid);
        footprint.push((
            format!("server RSS after the catalogue loads, peak / now ({name})"),
            format!("{} / {} MB", peak / 1024, now / 1024),
        ));
        drop(server);
        // The footprint target's load: a fresh server at 10,000 catalogue reads a second (pages
        // and single events in turn), not at the most it can take.
        let addr = free_addr()?;
        let server = start_server(&args.tessera, url, &addr, &NO_SHEDDING)?;
        wait_ready(&addr).await?;
        let mut mixed = vec!["/events?limit=20".to_string()];
        mixed.extend(paths.iter().cloned());
        let paced =
            load::run_at(&Target::rotating(&addr, mixed), dur, args.connections, Some(10_000.0)).await?;
        let (peak, now) = memory_kib(&server.pid().to_string());
        footprint.push((
            format!("server RSS at 10,000 catalogue reads/s, peak / now ({name})"),
            format!(
                "{} / {} MB ({:.0} req/s served, p99 {:.2} ms)",
                peak / 1024,
                now / 1024,
                paced.rps(),
                paced.p99_us as f64 / 1000.0
            ),
        ));
    }
    // Start-up: process start to the first answered request, on a new SQLite file (migrations
    // run) and on the migrated, seeded one.
    let mut fresh = Vec::new();
    let mut migrated = Vec::new();
    for i in 0..5 {
        fresh.push(
            start_to_first_answer(&args.tessera, &format!("sqlite://{}/fresh-{i}.db", tmp.display())).await?,
        );
        migrated.push(start_to_first_answer(&args.tessera, &backends[0].1).await?);
    }
    let ms = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        format!("{:.1} ms (median of {}; {:.1}–{:.1})", v[v.len() / 2], v.len(), v[0], v[v.len() - 1])
    };
    footprint.push(("start to first answer, new SQLite file".into(), ms(&mut fresh)));
    footprint.push(("start to first answer, migrated SQLite file".into(), ms(&mut migrated)));
    footprint.push(("release binary, stripped".into(), stripped_size(&args.tessera, &tmp)));
    let _ = std::fs::remove_dir_all(&tmp);

    let mut table = load::table(&reports, &baseline);
    table.push_str("\n| footprint | measured |\n|---|---|\n");
    for (what, v) in &footprint {
        table.push_str(&format!("| {what} | {v} |\n"));
    }
    println!("\n{table}");
    std::fs::create_dir_all(&args.out)?;
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let json = serde_json::json!({
        "scenario": "catalogue",
        "unix_time": stamp,
        "duration_secs": args.duration,
        "connections": args.connections,
        "results": reports.iter().map(|r| r.to_json(&baseline)).collect::<Vec<_>>(),
    });
    std::fs::write(args.out.join(format!("catalogue-{stamp}.json")), serde_json::to_string_pretty(&json)?)?;
    std::fs::write(args.out.join("catalogue-latest.md"), format!("# Catalogue benchmark\n\n{table}"))?;
    println!("results written to {}", args.out.display());
    Ok(())
}

async fn run_flash(args: flash::FlashArgs) -> anyhow::Result<()> {
    if !args.sweep.is_empty() {
        return run_flash_sweep(args).await;
    }
    let tmp = std::env::temp_dir().join(format!("tessera-flash-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let mut reports = Vec::new();
    if !args.no_sqlite {
        let url = format!("sqlite://{}/flash.db", tmp.display());
        reports.push(flash::run_backend(&args, "sqlite", &url, None).await?);
    }
    if let Some(pg) = &args.postgres {
        let schema = format!("flash_{}", std::process::id());
        reports.push(flash::run_backend(&args, "postgres", pg, Some(schema)).await?);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let table = flash::table(&reports);
    println!("\n{table}");
    std::fs::create_dir_all(&args.out)?;
    write_flash_json("flash", &args, &reports)?;
    std::fs::write(args.out.join("flash-latest.md"), format!("# Flash-sale benchmark\n\n{table}"))?;
    println!("results written to {}", args.out.display());
    check_sales(&reports, &args)
}

/// The runs as `{scenario}-{unix time}.json` in the results directory.
fn write_flash_json(
    scenario: &str,
    args: &flash::FlashArgs,
    reports: &[flash::FlashReport],
) -> anyhow::Result<()> {
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let json = serde_json::json!({
        "scenario": scenario,
        "unix_time": stamp,
        "connections": args.connections,
        "admit_per_minute": args.admit_per_minute,
        "max_admitted": args.max_admitted,
        "results": reports.iter().map(flash::FlashReport::to_json).collect::<Vec<_>>(),
    });
    std::fs::write(args.out.join(format!("{scenario}-{stamp}.json")), serde_json::to_string_pretty(&json)?)?;
    Ok(())
}

/// What every sale must show, however fast: nothing sold twice, never more admitted at once than
/// the waiting room allows, and nobody passed over in the line.
fn check_sales(reports: &[flash::FlashReport], args: &flash::FlashArgs) -> anyhow::Result<()> {
    anyhow::ensure!(reports.iter().all(|r| r.oversold == 0), "a seat was sold twice");
    anyhow::ensure!(
        reports.iter().all(|r| r.max_live_admissions <= args.max_admitted),
        "more were admitted at once than max_admitted"
    );
    anyhow::ensure!(reports.iter().all(|r| r.passed_over == 0), "someone was passed over in the line");
    Ok(())
}

/// The scaling sweep: one SQLite sale per (seats, buyers) point, then a table and two plots
/// (sale time by seats at a fixed crowd, and by crowd at a fixed seat count).
async fn run_flash_sweep(args: flash::FlashArgs) -> anyhow::Result<()> {
    let mut reports = Vec::new();
    for &(seats, buyers) in &args.sweep {
        let tmp = std::env::temp_dir().join(format!("tessera-flash-{}-{seats}-{buyers}", std::process::id()));
        std::fs::create_dir_all(&tmp)?;
        let point = flash::FlashArgs { seats, buyers, sweep: Vec::new(), ..args.clone() };
        let url = format!("sqlite://{}/flash.db", tmp.display());
        let r = flash::run_backend(&point, "sqlite", &url, None).await;
        let _ = std::fs::remove_dir_all(&tmp);
        let r = r?;
        println!(
            "[sweep] {seats} seats, {buyers} buyers: sold {} in {:.2}s (join phase {:.1}s)",
            r.sold, r.sale_secs, r.join_secs
        );
        reports.push(r);
    }
    let table = flash::table(&reports);
    println!("\n{table}");
    std::fs::create_dir_all(&args.out)?;
    write_flash_json("flash-scaling", &args, &reports)?;
    // A series per fixed crowd (x: seats) and per fixed seat count (x: buyers), where it has
    // two points or more.
    let series = |key: &dyn Fn(&flash::FlashReport) -> usize,
                  x: &dyn Fn(&flash::FlashReport) -> usize,
                  name: &dyn Fn(usize) -> String| {
        let mut keys: Vec<usize> = reports.iter().map(key).collect();
        keys.sort_unstable();
        keys.dedup();
        keys.into_iter()
            .map(|k| plot::Series {
                name: name(k),
                points: reports.iter().filter(|r| key(r) == k).map(|r| (x(r) as f64, r.sale_secs)).collect(),
            })
            .filter(|s| s.points.len() > 1)
            .collect::<Vec<_>>()
    };
    let by_seats = series(&|r| r.buyers, &|r| r.seats as usize, &|b| format!("{b} buyers"));
    let by_buyers = series(&|r| r.seats as usize, &|r| r.buyers, &|s| format!("{s} seats"));
    std::fs::write(
        args.out.join("flash-scaling-seats.svg"),
        plot::line_chart(
            "Flash sale on SQLite: sale time by seats",
            "seats",
            "sale s (open → sold out)",
            &by_seats,
        ),
    )?;
    std::fs::write(
        args.out.join("flash-scaling-buyers.svg"),
        plot::line_chart(
            "Flash sale on SQLite: sale time by buyers",
            "buyers",
            "sale s (open → sold out)",
            &by_buyers,
        ),
    )?;
    let md = format!(
        "# Flash sale on SQLite: scaling with seats and buyers\n\n{table}\n\
         ![sale time by seats](flash-scaling-seats.svg)\n\n![sale time by buyers](flash-scaling-buyers.svg)\n"
    );
    std::fs::write(args.out.join("flash-scaling-latest.md"), md)?;
    println!("results written to {}", args.out.display());
    check_sales(&reports, &args)
}

async fn run_checkin(args: checkin::CheckinArgs) -> anyhow::Result<()> {
    let baseline = checkin::baseline(args.connections).await?;
    let mut reports = vec![baseline.clone()];
    let mut sweeps: Vec<(String, Vec<(usize, Report)>)> = Vec::new();
    let tmp = std::env::temp_dir().join(format!("tessera-checkin-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    if !args.no_sqlite {
        let url = format!("sqlite://{}/checkin.db", tmp.display());
        let (r, sweep) = checkin::run_backend(&args, "sqlite", &url, None, &free_addr()?).await?;
        reports.extend(r);
        sweeps.push(("sqlite".into(), sweep));
    }
    if let Some(pg) = &args.postgres {
        let schema = format!("checkin_{}", std::process::id());
        let (r, sweep) = checkin::run_backend(&args, "postgres", pg, Some(schema), &free_addr()?).await?;
        reports.extend(r);
        sweeps.push(("postgres".into(), sweep));
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let table = load::table(&reports, &baseline);
    println!("\n{table}");
    std::fs::create_dir_all(&args.out)?;
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let json = serde_json::json!({
        "scenario": "checkin",
        "unix_time": stamp,
        "tickets": args.tickets,
        "connections": args.connections,
        "results": reports.iter().map(|r| r.to_json(&baseline)).collect::<Vec<_>>(),
        "sweep": sweeps.iter().map(|(b, points)| serde_json::json!({
            "backend": b,
            "points": points.iter().map(|(c, r)| serde_json::json!({"connections": c, "result": r.to_json(&baseline)})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    std::fs::write(args.out.join(format!("checkin-{stamp}.json")), serde_json::to_string_pretty(&json)?)?;
    std::fs::write(
        args.out.join("checkin-latest.md"),
        format!("# Door check-in benchmark ({} valid tickets)\n\n{table}", args.tickets),
    )?;
    if sweeps.iter().any(|(_, p)| !p.is_empty()) {
        let mut md = format!(
            "# Door check-in throughput by connections ({} first-entry scans per point)\n\n\
             | backend | connections | scans/s | p50 ms | p99 ms | server CPU ms/scan |\n|---|---:|---:|---:|---:|---:|\n",
            args.tickets
        );
        let mut series = Vec::new();
        for (backend, points) in &sweeps {
            for (c, r) in points {
                md.push_str(&format!(
                    "| {backend} | {c} | {:.0} | {:.2} | {:.2} | {} |\n",
                    r.rps(),
                    r.p50_us as f64 / 1000.0,
                    r.p99_us as f64 / 1000.0,
                    r.server_cpu_ms.map_or(String::new(), |v| format!("{v:.3}"))
                ));
            }
            series.push(plot::Series {
                name: backend.clone(),
                points: points.iter().map(|(c, r)| (*c as f64, r.rps())).collect(),
            });
        }
        md.push_str("\n![scans/s by connections](checkin-scaling.svg)\n");
        std::fs::write(args.out.join("checkin-scaling-latest.md"), md)?;
        let svg = plot::line_chart("Door check-in: first-entry scans/s", "connections", "scans/s", &series);
        std::fs::write(args.out.join("checkin-scaling.svg"), svg)?;
    }
    println!("results written to {}", args.out.display());
    Ok(())
}

async fn run_overload(args: overload::OverloadArgs) -> anyhow::Result<()> {
    let phases = overload::run(&args).await?;
    let table = overload::table(&phases);
    println!("\n{table}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(
        args.out.join("overload-latest.md"),
        format!(
            "# Overload benchmark (`{}`, {} s per phase, SQLite, demo catalogue)\n\n{table}",
            args.path, args.duration
        ),
    )?;
    println!("results written to {}", args.out.display());
    anyhow::ensure!(phases.iter().all(|p| p.alive), "the server went down");
    Ok(())
}

async fn run_chat(args: chat::ChatArgs) -> anyhow::Result<()> {
    let tmp = std::env::temp_dir().join(format!("tessera-chat-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let mut reports = Vec::new();
    if !args.no_sqlite {
        let url = format!("sqlite://{}/chat.db", tmp.display());
        reports.push(chat::run_backend(&args, "sqlite", &url, None).await?);
    }
    if let Some(pg) = &args.postgres {
        let schema = format!("chat_{}", std::process::id());
        reports.push(chat::run_backend(&args, "postgres", pg, Some(schema)).await?);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let table = chat::table(&reports);
    println!("\n{table}");
    std::fs::create_dir_all(&args.out)?;
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let json = serde_json::json!({"scenario": "chat", "unix_time": stamp, "senders": args.senders,
        "duration_secs": args.duration, "results": reports});
    std::fs::write(args.out.join(format!("chat-{stamp}.json")), serde_json::to_string_pretty(&json)?)?;
    std::fs::write(
        args.out.join("chat-latest.md"),
        format!(
            "# Chat benchmark ({} chats of {} WebSocket clients, {} HTTP senders for {} s)\n\n{table}",
            args.chats, args.members, args.senders, args.duration
        ),
    )?;
    println!("results written to {}", args.out.display());
    anyhow::ensure!(reports.iter().all(|r| r.delivered >= r.expected), "some messages were not delivered");
    Ok(())
}
