//! The baseline server: bare hyper, HTTP/1.1 keep-alive, a fixed body — the ceiling any real
//! handler on this machine is compared with. With a body given, it answers those bytes as JSON:
//! the same bytes a Tessera route answers, so the ratio measures Tessera's work and not the size
//! of its answer.

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

pub async fn serve(listen: &str, body: Option<Vec<u8>>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let json = body.is_some();
    let body = body.map_or(Bytes::from_static(b"Hello, World!"), Bytes::from);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |_req: Request<hyper::body::Incoming>| {
                let mut res = Response::new(Full::new(body.clone()));
                if json {
                    res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
                async { Ok::<_, Infallible>(res) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}
