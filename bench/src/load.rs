//! A small closed-loop load generator: N keep-alive HTTP/1.1 connections, each sending the next
//! request as soon as the previous answer has been read, for a fixed time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where to send requests: one path, or a list taken in turn.
pub struct Target {
    addr: String,
    paths: Arc<Vec<String>>,
}

impl Target {
    pub fn fixed(addr: &str, path: &str) -> Self {
        Target { addr: addr.into(), paths: Arc::new(vec![path.into()]) }
    }

    pub fn rotating(addr: &str, paths: Vec<String>) -> Self {
        Target { addr: addr.into(), paths: Arc::new(paths) }
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub secs: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// Requests per second of a bare server answering the same bytes, measured in the same run.
    pub same_bytes_rps: Option<f64>,
    /// The server's CPU time (user + system) per request, in milliseconds.
    pub server_cpu_ms: Option<f64>,
}

impl Report {
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.secs
    }

    /// With the rate of a bare server answering the same bytes.
    pub fn against(mut self, bare: &Report) -> Self {
        self.same_bytes_rps = Some(bare.rps());
        self
    }

    /// With the server's CPU seconds over the run.
    pub fn with_cpu(mut self, cpu_secs: Option<f64>) -> Self {
        self.server_cpu_ms = cpu_secs.map(|c| c * 1000.0 / self.requests.max(1) as f64);
        self
    }

    pub fn to_json(&self, base: &Report) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "requests": self.requests,
            "errors": self.errors,
            "requests_per_sec": self.rps(),
            "p50_ms": self.p50_us as f64 / 1000.0,
            "p99_ms": self.p99_us as f64 / 1000.0,
            "throughput_ratio_to_baseline": self.rps() / base.rps(),
            "p99_ratio_to_baseline": self.p99_us as f64 / base.p99_us.max(1) as f64,
            "same_bytes_requests_per_sec": self.same_bytes_rps,
            "throughput_ratio_to_same_bytes": self.same_bytes_rps.map(|b| self.rps() / b),
            "server_cpu_ms_per_request": self.server_cpu_ms,
        })
    }
}

/// A Markdown table of the reports with ratios to the baseline.
pub fn table(reports: &[Report], base: &Report) -> String {
    let mut s = String::from(
        "| scenario | req/s | p50 ms | p99 ms | throughput ÷ baseline | p99 ÷ baseline | throughput ÷ same bytes | server CPU ms/req | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let opt = |v: Option<f64>, digits: usize| v.map_or("".to_string(), |v| format!("{v:.digits$}"));
    for r in reports {
        s.push_str(&format!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.3} | {:.1} | {} | {} | {} |\n",
            r.name,
            r.rps(),
            r.p50_us as f64 / 1000.0,
            r.p99_us as f64 / 1000.0,
            r.rps() / base.rps(),
            r.p99_us as f64 / base.p99_us.max(1) as f64,
            opt(r.same_bytes_rps.map(|b| r.rps() / b), 3),
            opt(r.server_cpu_ms, 3),
            r.errors
        ));
    }
    s
}

/// The `p` quantile (0–1) of sorted latencies; 0 when there are none.
pub(crate) fn percentile(sorted: &[u32], p: f64) -> u32 {
    sorted.get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1))).copied().unwrap_or(0)
}

/// Reads one response into `buf`; returns its status code and where the body starts.
pub(crate) async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<(u16, usize)> {
    buf.clear();
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).context("non-UTF-8 headers")?;
            let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).context("bad status line")?;
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse::<usize>().ok())?
                })
                .context("no content-length")?;
            let total = end + 4 + len;
            while buf.len() < total {
                buf.reserve(total - buf.len());
                if stream.read_buf(buf).await? == 0 {
                    bail!("connection closed mid-body");
                }
            }
            return Ok((status, end + 4));
        }
        // Straight into the buffer's spare room: a zeroed 16 KiB chunk per read was measurable.
        buf.reserve(4096);
        if stream.read_buf(buf).await? == 0 {
            bail!("connection closed");
        }
    }
}

/// Runs the load for `dur` over `conns` connections.
pub async fn run(target: &Target, dur: Duration, conns: usize) -> anyhow::Result<Report> {
    run_at(target, dur, conns, None).await
}

/// The same, at `rate` requests a second in all when given (each connection sends on its own
/// schedule, `conns / rate` seconds apart, as far as the answers allow): an open loop, for what
/// a server holds at a given load rather than at the most it can take.
pub async fn run_at(
    target: &Target,
    dur: Duration,
    conns: usize,
    rate: Option<f64>,
) -> anyhow::Result<Report> {
    let start = Instant::now();
    let every = rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(conns as f64 / r));
    let deadline = start + dur;
    let mut tasks = Vec::new();
    for c in 0..conns {
        let addr = target.addr.clone();
        let paths = target.paths.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<u32> = Vec::with_capacity(100_000);
            let mut errors = 0u64;
            let mut stream = TcpStream::connect(&addr).await?;
            stream.set_nodelay(true)?;
            let mut buf = Vec::with_capacity(64 * 1024);
            let mut i = c;
            // Spread over the first interval, so the connections do not send in step.
            let mut next = every.map(|e| start + e.mul_f64(c as f64 / conns as f64));
            while Instant::now() < deadline {
                if let (Some(at), Some(e)) = (next, every) {
                    tokio::time::sleep_until(at.into()).await;
                    next = Some(at + e);
                }
                let path = &paths[i % paths.len()];
                i += 1;
                let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n\r\n");
                let t = Instant::now();
                stream.write_all(req.as_bytes()).await?;
                let (status, _) = read_response(&mut stream, &mut buf).await?;
                lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                if status != 200 {
                    errors += 1;
                }
            }
            anyhow::Ok((lat, errors))
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await??;
        all.extend(lat);
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| percentile(&all, p);
    Ok(Report {
        name: String::new(),
        requests: all.len() as u64,
        errors,
        secs,
        p50_us: u64::from(pct(0.50)),
        p99_us: u64::from(pct(0.99)),
        same_bytes_rps: None,
        server_cpu_ms: None,
    })
}

/// The body of one GET answered 200.
pub async fn fetch(addr: &str, path: &str) -> anyhow::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut buf = Vec::new();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n\r\n").as_bytes(),
        )
        .await?;
    let (status, end) = read_response(&mut stream, &mut buf).await?;
    anyhow::ensure!(status == 200, "GET {path} answered {status}");
    Ok(buf[end..].to_vec())
}

/// Event ids from the catalogue (first pages), for the single-event scenario.
pub async fn event_ids(addr: &str) -> anyhow::Result<Vec<String>> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut buf = Vec::new();
    stream.write_all(format!("GET /events?limit=100 HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await?;
    let (status, end) = read_response(&mut stream, &mut buf).await?;
    anyhow::ensure!(status == 200, "GET /events answered {status}");
    let v: serde_json::Value = serde_json::from_slice(&buf[end..])?;
    Ok(v["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["event_id"].as_str().map(str::to_string)).collect())
        .unwrap_or_default())
}
