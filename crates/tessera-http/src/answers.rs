//! Catalogue answers kept serialized in memory, each with its ETag and, once a client asks, its
//! gzip form: a read of the catalogue that was answered a moment ago is answered again without
//! the database, the JSON encoder or the compressor, and a client that already has it gets 304.
//!
//! Freshness: an answer is kept under the catalogue version (`App::catalogue_version`) read
//! before its rows were, so any write to the catalogue through this instance makes the next
//! read build it again. Writes made by other instances (or `tessera seed`) are seen once the
//! answer is `TTL` old: the staleness across instances is bounded by `TTL`.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};

/// How long an answer is kept: the most another instance's write can go unseen.
pub const TTL: Duration = Duration::from_secs(1);

/// The most answer bytes kept (JSON and gzip together); past it, the kept answers are dropped
/// and built again as they are asked for. Query strings are the client's to choose, so the
/// number of distinct answers is not ours to bound.
const MAX_BYTES: usize = 8 * 1024 * 1024;

/// Kept answers by key (the route and its raw query).
#[derive(Debug, Default)]
pub struct Answers {
    kept: RwLock<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    answers: HashMap<String, Arc<Answer>>,
    bytes: usize,
}

#[derive(Debug)]
struct Answer {
    version: u64,
    made: Instant,
    etag: HeaderValue,
    json: Bytes,
    /// Made the first time a client asks for gzip.
    gzip: OnceLock<Option<Bytes>>,
}

impl Answers {
    /// The answer for `key` at catalogue `version`: the kept one while it is fresh, or the JSON
    /// `make` builds, kept for the next. Answered as 304, gzip or plain JSON by `request`'s
    /// headers. Errors from `make` are answered as they are, never kept.
    pub async fn answer<F, Fut>(
        &self,
        key: &str,
        version: u64,
        request: &HeaderMap,
        make: F,
    ) -> ApiResult<Response>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = ApiResult<Vec<u8>>>,
    {
        let answer = match self.fresh(key, version) {
            Some(a) => a,
            None => {
                let a = Arc::new(Answer::new(version, make().await?));
                self.keep(key, a.clone());
                a
            }
        };
        Ok(answer.respond(request))
    }

    fn fresh(&self, key: &str, version: u64) -> Option<Arc<Answer>> {
        let kept = self.kept.read().ok()?;
        kept.answers.get(key).filter(|a| a.version == version && a.made.elapsed() < TTL).cloned()
    }

    fn keep(&self, key: &str, a: Arc<Answer>) {
        let Ok(mut kept) = self.kept.write() else { return };
        let size = a.json.len() * 2;
        if kept.bytes + size > MAX_BYTES {
            kept.answers.clear();
            kept.bytes = 0;
        }
        if let Some(old) = kept.answers.insert(key.to_string(), a) {
            kept.bytes = kept.bytes.saturating_sub(old.json.len() * 2);
        }
        kept.bytes += size;
    }
}

impl Answer {
    fn new(version: u64, json: Vec<u8>) -> Answer {
        let digest = Sha256::digest(&json);
        let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        // Weak: the gzip and the plain answer are the same representation for If-None-Match.
        let etag =
            HeaderValue::from_str(&format!("W/\"{hex}\"")).unwrap_or(HeaderValue::from_static("W/\"\""));
        Answer { version, made: Instant::now(), etag, json: Bytes::from(json), gzip: OnceLock::new() }
    }

    fn respond(&self, request: &HeaderMap) -> Response {
        let not_modified = request
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| etag_matches(v, self.etag.as_bytes()));
        let (status, body, gzipped) = if not_modified {
            (StatusCode::NOT_MODIFIED, Bytes::new(), false)
        } else if accepts_gzip(request) {
            match self.gzip.get_or_init(|| gzip(&self.json)) {
                Some(z) => (StatusCode::OK, z.clone(), true),
                None => (StatusCode::OK, self.json.clone(), false),
            }
        } else {
            (StatusCode::OK, self.json.clone(), false)
        };
        let mut res = Response::new(Body::from(body));
        *res.status_mut() = status;
        let h = res.headers_mut();
        h.insert(header::ETAG, self.etag.clone());
        // Stored, but checked with us before each use: the catalogue changes at any moment.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if status == StatusCode::OK {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if gzipped {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        res
    }
}

/// Whether an If-None-Match value names `etag` (weak comparison, RFC 9110 §13.1.2), or is `*`.
fn etag_matches(if_none_match: &str, etag: &[u8]) -> bool {
    let opaque = |t: &[u8]| -> Vec<u8> { t.strip_prefix(b"W/").unwrap_or(t).to_vec() };
    let ours = opaque(etag);
    if_none_match.split(',').map(str::trim).any(|t| t == "*" || opaque(t.as_bytes()) == ours)
}

/// Whether Accept-Encoding lists gzip (or `*`) with a weight above zero.
fn accepts_gzip(request: &HeaderMap) -> bool {
    request.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).any(|v| {
        v.split(',').any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let weight = parts
                .find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .map_or(1.0, |q| q.parse::<f32>().unwrap_or(0.0));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && weight > 0.0
        })
    })
}

/// The gzip form, when it is smaller.
fn gzip(json: &[u8]) -> Option<Bytes> {
    use std::io::Write;
    let mut z =
        flate2::write::GzEncoder::new(Vec::with_capacity(json.len() / 4), flate2::Compression::default());
    z.write_all(json).ok()?;
    let z = z.finish().ok()?;
    (z.len() < json.len()).then(|| Bytes::from(z))
}

/// A value as JSON bytes, for [`Answers::answer`].
pub fn json_bytes<T: serde::Serialize>(v: &T) -> ApiResult<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("encoding the answer: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn gzip_is_sent_only_to_clients_that_accept_it() {
        assert!(accepts_gzip(&headers(&[(header::ACCEPT_ENCODING, "gzip, deflate, br")])));
        assert!(accepts_gzip(&headers(&[(header::ACCEPT_ENCODING, "br;q=1.0, gzip;q=0.5")])));
        assert!(accepts_gzip(&headers(&[(header::ACCEPT_ENCODING, "*")])));
        assert!(!accepts_gzip(&headers(&[(header::ACCEPT_ENCODING, "gzip;q=0")])));
        assert!(!accepts_gzip(&headers(&[(header::ACCEPT_ENCODING, "identity")])));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn etags_compare_weakly_and_in_lists() {
        let ours = b"W/\"abc\"";
        assert!(etag_matches("W/\"abc\"", ours));
        assert!(etag_matches("\"abc\"", ours));
        assert!(etag_matches("\"x\", W/\"abc\"", ours));
        assert!(etag_matches("*", ours));
        assert!(!etag_matches("W/\"abd\"", ours));
    }

    #[tokio::test]
    async fn an_answer_is_kept_until_the_version_moves() {
        let answers = Answers::default();
        let made = std::sync::atomic::AtomicUsize::new(0);
        let ask = |version: u64| {
            let made = &made;
            let answers = &answers;
            async move {
                answers
                    .answer("k", version, &HeaderMap::new(), || async {
                        made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        Ok(br#"{"items":[]}"#.to_vec())
                    })
                    .await
                    .unwrap()
            }
        };
        let first = ask(1).await;
        ask(1).await;
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 1);
        ask(2).await;
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 2);
        let etag = first.headers()[header::ETAG].to_str().unwrap().to_string();
        let again = answers
            .answer("k", 2, &headers(&[(header::IF_NONE_MATCH, &etag)]), || async { Ok(Vec::new()) })
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }

    #[tokio::test]
    async fn the_gzip_form_reads_back_as_the_json() {
        let answers = Answers::default();
        let json = serde_json::to_vec(&vec!["Tokyo Jazz Night"; 50]).unwrap();
        let res = answers
            .answer("g", 0, &headers(&[(header::ACCEPT_ENCODING, "gzip")]), || async { Ok(json.clone()) })
            .await
            .unwrap();
        assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
        let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain).unwrap();
        assert_eq!(plain, json);
    }
}
