//! `tessera healthcheck`: asks the server on this machine for `/health` over plain HTTP/1.1 (a
//! container's health check; the image has no curl).

use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The listen address as seen from this machine: a wildcard host becomes loopback.
pub fn local_addr(listen: &str) -> String {
    match listen.rsplit_once(':') {
        Some(("0.0.0.0", port)) => format!("127.0.0.1:{port}"),
        Some(("[::]", port)) => format!("[::1]:{port}"),
        _ => listen.to_string(),
    }
}

/// Succeeds when `GET /health` on `addr` answers 200 within `timeout`.
pub async fn check(addr: &str, timeout: Duration) -> anyhow::Result<()> {
    let ask = async {
        let mut s =
            tokio::net::TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
        s.write_all(format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
            .await?;
        let mut head = Vec::new();
        s.take(64 * 1024).read_to_end(&mut head).await?;
        anyhow::Ok(head)
    };
    let head = tokio::time::timeout(timeout, ask).await.context("no answer in time")??;
    let status = String::from_utf8_lossy(&head).lines().next().unwrap_or("").to_string();
    if !status.starts_with("HTTP/1.1 200") {
        bail!("{addr}/health answered {status:?}");
    }
    println!("healthy");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_hosts_are_asked_on_loopback() {
        assert_eq!(local_addr("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(local_addr("[::]:8080"), "[::1]:8080");
        assert_eq!(local_addr("127.0.0.1:9000"), "127.0.0.1:9000");
    }
}
