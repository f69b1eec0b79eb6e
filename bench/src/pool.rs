//! A small pool of keep-alive HTTP/1.1 connections shared by many simulated users: a request
//! waits for a free connection (as a browser waits for a socket), and the latency reported is the
//! server's answer time, measured once the request is on the wire.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::load::read_response;

pub struct Pool {
    addr: String,
    idle: Mutex<Vec<TcpStream>>,
    permits: Semaphore,
}

/// An answer: status, body, and microseconds from sending to the end of the body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub micros: u32,
}

impl Answer {
    /// The body as `T`, or `T::default()` when it is not (an error body, say).
    pub fn parse<'a, T: serde::Deserialize<'a> + Default>(&'a self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

impl Pool {
    pub fn new(addr: &str, connections: usize) -> Self {
        Pool { addr: addr.into(), idle: Mutex::new(Vec::new()), permits: Semaphore::new(connections) }
    }

    /// Sends one request (`body` as JSON) with extra headers and reads the answer.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> anyhow::Result<Answer> {
        let _permit = self.permits.acquire().await.context("pool closed")?;
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let mut stream = match idle {
            Some(s) => s,
            None => {
                let s = TcpStream::connect(&self.addr).await?;
                s.set_nodelay(true)?;
                s
            }
        };
        let mut req = String::with_capacity(1024);
        let _ =
            write!(req, "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n", self.addr);
        for (k, v) in headers {
            let _ = write!(req, "{k}: {v}\r\n");
        }
        match body {
            Some(b) => {
                let _ =
                    write!(req, "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len());
            }
            None => req.push_str("\r\n"),
        }
        let t = Instant::now();
        stream.write_all(req.as_bytes()).await?;
        let mut buf = Vec::with_capacity(2048);
        let (status, start) = read_response(&mut stream, &mut buf).await?;
        let micros = u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX);
        if let Ok(mut v) = self.idle.lock() {
            v.push(stream);
        }
        Ok(Answer { status, body: buf.split_off(start), micros })
    }
}
