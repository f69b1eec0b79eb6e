//! Files (seed 001's UploadFile and DownloadFile): multipart uploads streamed to a local
//! directory, content sniffed against the allow-list, downloads with ETag, Range and
//! Content-Disposition, who may read a file (owner, admins, an event's image for everyone, a
//! chat attachment for the chat's members), deletion, and the failure paths.

use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::json;
use uuid::Uuid;

use tessera_app::AppConfig;
use tessera_app::files::FilesConfig;
use tessera_store::Backend;

use crate::both;
use crate::chats::{festival, send};
use crate::support::{Res, TestApp, User};

both!(
    an_upload_comes_back_whole_or_in_part,
    who_may_read_follows_what_a_file_is_attached_to,
    uploads_are_checked,
    files_are_deleted_by_their_owner,
);

/// A small PNG-looking content (the signature is what is sniffed).
pub fn png(len: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend((0..len.saturating_sub(8)).map(|i| u8::try_from(i % 251).unwrap()));
    v
}

/// `POST /files[?query]` with one multipart part named `part` (the file's name `name`).
pub async fn upload_as(
    t: &TestApp,
    who: Option<&User>,
    query: &str,
    part: &str,
    name: &str,
    content: &[u8],
) -> Res {
    upload_with(t, who.map(|u| u.token.as_str()), query, part, name, content).await
}

/// As [`upload_as`], with a bare token.
pub async fn upload_with(
    t: &TestApp,
    token: Option<&str>,
    query: &str,
    part: &str,
    name: &str,
    content: &[u8],
) -> Res {
    let boundary = "tessera-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{part}\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut req = Request::post(format!("/files{query}"))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    t.send(req.body(Body::from(body)).unwrap()).await
}

pub async fn upload(t: &TestApp, who: &User, name: &str, content: &[u8]) -> String {
    let r = upload_as(t, Some(who), "", "file", name, content).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["file_id"].as_str().unwrap().to_string()
}

/// GET with extra headers; the raw body.
async fn get_raw(
    t: &TestApp,
    path: &str,
    who: Option<&User>,
    headers: &[(&str, &str)],
) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    use tower::ServiceExt;
    let mut req = Request::get(path);
    if let Some(u) = who {
        req = req.header("authorization", format!("Bearer {}", u.token));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = t.router().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes().to_vec();
    (status, headers, bytes)
}

async fn an_upload_comes_back_whole_or_in_part(b: Backend) {
    let t = TestApp::new(b).await;
    let a = t.user("attendee").await;
    let content = png(70_000);
    let r = upload_as(&t, Some(&a), "", "file", "写真 1.png", &content).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    use sha2::Digest;
    let sha: String = sha2::Sha256::digest(&content).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        (
            r.body["content_type"].as_str(),
            r.body["size"].as_u64(),
            r.body["sha256"].as_str(),
            r.body["filename"].as_str()
        ),
        (Some("image/png"), Some(70_000), Some(sha.as_str()), Some("写真 1.png"))
    );
    assert_eq!(r.body["owner_id"], a.id.to_string());
    let id = r.body["file_id"].as_str().unwrap();
    let path = format!("/files/{id}");
    let (status, h, bytes) = get_raw(&t, &path, Some(&a), &[]).await;
    assert_eq!((status, bytes.len()), (StatusCode::OK, content.len()));
    assert!(bytes == content, "the bytes come back as sent");
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["etag"], format!("\"{sha}\""));
    assert_eq!(h["content-length"], "70000");
    assert_eq!(
        h["content-disposition"],
        "inline; filename=\"__ 1.png\"; filename*=UTF-8''%E5%86%99%E7%9C%9F%201.png"
    );
    // Revalidation and ranges.
    let etag = format!("\"{sha}\"");
    let (status, _, bytes) = get_raw(&t, &path, Some(&a), &[("if-none-match", &etag)]).await;
    assert_eq!((status, bytes.len()), (StatusCode::NOT_MODIFIED, 0));
    let (status, h, bytes) = get_raw(&t, &path, Some(&a), &[("range", "bytes=10-19")]).await;
    assert_eq!(
        (status, &bytes[..], h["content-range"].to_str().unwrap()),
        (StatusCode::PARTIAL_CONTENT, &content[10..20], "bytes 10-19/70000")
    );
    let (status, _, bytes) = get_raw(&t, &path, Some(&a), &[("range", "bytes=-5")]).await;
    assert_eq!((status, &bytes[..]), (StatusCode::PARTIAL_CONTENT, &content[69_995..]));
    let (status, h, _) = get_raw(&t, &path, Some(&a), &[("range", "bytes=70000-")]).await;
    assert_eq!(
        (status, h["content-range"].to_str().unwrap()),
        (StatusCode::RANGE_NOT_SATISFIABLE, "bytes */70000")
    );
    // The description.
    let m = t.get(&format!("{path}/meta"), Some(&a.token)).await;
    assert_eq!((m.status, m.body["size"].as_u64()), (StatusCode::OK, Some(70_000)));
    // Text is downloaded, not shown.
    let text = upload(&t, &a, "notes.txt", "こんにちは\nhello\n".as_bytes()).await;
    let (_, h, _) = get_raw(&t, &format!("/files/{text}"), Some(&a), &[]).await;
    assert_eq!(h["content-type"], "text/plain; charset=utf-8");
    assert!(h["content-disposition"].to_str().unwrap().starts_with("attachment;"));
    assert_eq!(h["x-content-type-options"], "nosniff");
}

async fn who_may_read_follows_what_a_file_is_attached_to(b: Backend) {
    let f = festival(TestApp::new(b).await).await;
    let t = &f.t;
    let stranger = t.user("attendee").await;
    let admin = t.user("admin").await;
    let id = upload(t, &f.a, "map.png", &png(100)).await;
    let path = format!("/files/{id}");
    // Its owner and admins; B and the organizer do not know it exists; no token: sign in.
    assert_eq!(get_raw(t, &path, Some(&f.a), &[]).await.0, StatusCode::OK);
    assert_eq!(get_raw(t, &path, Some(&admin), &[]).await.0, StatusCode::OK);
    assert_eq!(get_raw(t, &path, Some(&f.b), &[]).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get_raw(t, &path, None, &[]).await.0, StatusCode::UNAUTHORIZED);
    // Attached to a message of the event's chat: its members read it, others still do not.
    let r = send(t, f.event, &f.a, json!({"file_id": id})).await;
    assert_eq!(
        (r.status, r.body["file_id"].as_str(), r.body["body"].as_str()),
        (StatusCode::CREATED, Some(id.as_str()), Some("")),
        "{}",
        r.body
    );
    let message = r.body["message_id"].as_str().unwrap().to_string();
    assert_eq!(get_raw(t, &path, Some(&f.b), &[]).await.0, StatusCode::OK);
    assert_eq!(get_raw(t, &path, Some(&f.org), &[]).await.0, StatusCode::OK);
    assert_eq!(get_raw(t, &path, Some(&stranger), &[]).await.0, StatusCode::NOT_FOUND);
    assert_eq!(t.get(&format!("{path}/meta"), Some(&f.b.token)).await.status, StatusCode::OK);
    // Deleting the message takes the file out of the chat.
    t.call("DELETE", &format!("/chats/{}/messages/{message}", f.event), Some(&f.a.token), None).await;
    assert_eq!(get_raw(t, &path, Some(&f.b), &[]).await.0, StatusCode::NOT_FOUND);
    // Only one's own files can be attached.
    send(t, f.event, &f.b, json!({"body": "look", "file_id": id})).await.assert_problem(404, None);
    send(t, f.event, &f.b, json!({"body": "look", "file_id": Uuid::now_v7()}))
        .await
        .assert_problem(404, None);
    // An event's image is anyone's to read; only its organizer (or an admin) adds one.
    let r =
        upload_as(t, Some(&f.org), &format!("?event_id={}", f.event), "file", "poster.png", &png(50)).await;
    assert_eq!(
        (r.status, r.body["event_id"].as_str()),
        (StatusCode::CREATED, Some(f.event.to_string().as_str())),
        "{}",
        r.body
    );
    let poster = r.body["file_id"].as_str().unwrap();
    assert_eq!(get_raw(t, &format!("/files/{poster}"), None, &[]).await.0, StatusCode::OK);
    upload_as(t, Some(&f.a), &format!("?event_id={}", f.event), "file", "fake.png", &png(50))
        .await
        .assert_problem(403, None);
    upload_as(t, Some(&f.org), &format!("?event_id={}", Uuid::now_v7()), "file", "x.png", &png(50))
        .await
        .assert_problem(404, None);
    // Seed 001 DownloadFile: a file that does not exist is 404.
    t.get(&format!("/files/{}", Uuid::now_v7()), Some(&f.a.token)).await.assert_problem(404, None);
    t.get("/files/not-a-uuid", Some(&f.a.token)).await.assert_problem(404, None);
    t.get(&format!("/files/{}/meta", Uuid::now_v7()), None).await.assert_problem(404, None);
}

async fn uploads_are_checked(b: Backend) {
    let config =
        AppConfig { files: FilesConfig { max_bytes: 1000, ..Default::default() }, ..Default::default() };
    let t = TestApp::with_config(b, config).await;
    let (a, admin) = (t.user("attendee").await, t.user("admin").await);
    upload_as(&t, Some(&a), "", "file", "big.png", &png(1001)).await.assert_problem(413, None);
    assert_eq!(upload_as(&t, Some(&a), "", "file", "fits.png", &png(1000)).await.status, StatusCode::CREATED);
    upload_as(&t, Some(&a), "", "file", "app.exe", b"MZ\x90\x00\x03\x00\x00\x00")
        .await
        .assert_problem(415, None);
    upload_as(&t, Some(&a), "", "file", "page.html", b"<html><script>alert(1)</script>")
        .await
        .assert_problem(415, None);
    upload_as(&t, Some(&a), "", "file", "empty.png", b"").await.assert_problem(400, Some("file"));
    upload_as(&t, Some(&a), "", "other", "x.png", &png(10)).await.assert_problem(400, Some("file"));
    upload_as(&t, None, "", "file", "x.png", &png(10)).await.assert_problem(401, None);
    t.post("/files", Some(&a.token), json!({"file": "x"})).await.assert_problem(400, Some("file"));
    // Seed 001 UploadFile: an admin uploading for a user who does not exist is 404.
    upload_as(&t, Some(&admin), &format!("?user_id={}", Uuid::now_v7()), "file", "x.png", &png(10))
        .await
        .assert_problem(404, None);
    let r = upload_as(&t, Some(&admin), &format!("?user_id={}", a.id), "file", "for-a.png", &png(10)).await;
    assert_eq!(
        (r.status, r.body["owner_id"].as_str()),
        (StatusCode::CREATED, Some(a.id.to_string().as_str()))
    );
    // Only admins upload for others.
    upload_as(&t, Some(&a), &format!("?user_id={}", admin.id), "file", "x.png", &png(10))
        .await
        .assert_problem(403, None);
    upload_as(&t, Some(&a), "?user_id=nope", "file", "x.png", &png(10))
        .await
        .assert_problem(400, Some("user_id"));
    // Refused uploads leave nothing behind in the files directory.
    let stored = walk(t.files.path());
    assert_eq!(stored, 2, "two files stored");
}

/// Regular files under a directory.
fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
        .unwrap_or(0)
}

async fn files_are_deleted_by_their_owner(b: Backend) {
    let f = festival(TestApp::new(b).await).await;
    let t = &f.t;
    let id = upload(t, &f.a, "map.png", &png(100)).await;
    send(t, f.event, &f.a, json!({"file_id": id})).await;
    // B may read it (the chat's) but not delete it; strangers are told it does not exist.
    t.call("DELETE", &format!("/files/{id}"), Some(&f.b.token), None).await.assert_problem(403, None);
    let stranger = t.user("attendee").await;
    t.call("DELETE", &format!("/files/{id}"), Some(&stranger.token), None).await.assert_problem(404, None);
    t.call("DELETE", &format!("/files/{id}"), None, None).await.assert_problem(401, None);
    assert_eq!(
        t.call("DELETE", &format!("/files/{id}"), Some(&f.a.token), None).await.status,
        StatusCode::NO_CONTENT
    );
    t.get(&format!("/files/{id}"), Some(&f.a.token)).await.assert_problem(404, None);
    t.call("DELETE", &format!("/files/{id}"), Some(&f.a.token), None).await.assert_problem(404, None);
    assert_eq!(walk(t.files.path()), 0, "its bytes are gone");
    // An admin deletes anyone's.
    let admin = t.user("admin").await;
    let id = upload(t, &f.b, "b.png", &png(100)).await;
    assert_eq!(
        t.call("DELETE", &format!("/files/{id}"), Some(&admin.token), None).await.status,
        StatusCode::NO_CONTENT
    );
}

/// The same flows with the files in S3: moto's server (PyPI, installed into .venv-moto by
/// scripts/moto-venv.sh on first use) on a free loopback port.
#[cfg(feature = "s3")]
mod s3 {
    use super::*;

    both!(uploads_and_downloads_go_through_s3);

    /// moto's server on a free port, with one bucket; stopped when dropped.
    struct Moto {
        port: u16,
        child: std::process::Child,
    }

    impl Drop for Moto {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl Moto {
        async fn start(bucket: &str) -> Moto {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            let out =
                std::process::Command::new("bash").arg(root.join("scripts/moto-venv.sh")).output().unwrap();
            assert!(out.status.success(), "installing moto: {}", String::from_utf8_lossy(&out.stderr));
            let program = String::from_utf8(out.stdout).unwrap().trim().to_string();
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let child = std::process::Command::new(program)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let moto = Moto { port, child };
            // Creating the bucket (a plain path-style PUT) also tells when the server is up.
            for _ in 0..100 {
                if moto.request(&format!("PUT /{bucket} HTTP/1.1")).await.is_some_and(|s| s.contains(" 200"))
                {
                    return moto;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("moto did not start on port {port}");
        }

        /// Sends a bodiless request; the status line.
        async fn request(&self, line: &str) -> Option<String> {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.ok()?;
            let req = format!(
                "{line}\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.port
            );
            s.write_all(req.as_bytes()).await.ok()?;
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await.ok()?;
            String::from_utf8_lossy(&buf).lines().next().map(str::to_string)
        }

        fn options(&self) -> Vec<(String, String)> {
            [
                ("aws_endpoint", format!("http://127.0.0.1:{}", self.port)),
                ("aws_allow_http", "true".into()),
                ("aws_region", "us-east-1".into()),
                ("aws_access_key_id", "testing".into()),
                ("aws_secret_access_key", "testing".into()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
        }
    }

    async fn uploads_and_downloads_go_through_s3(b: Backend) {
        let moto = Moto::start("tessera-files").await;
        let files = FilesConfig {
            s3_bucket: Some("tessera-files".into()),
            s3_options: moto.options(),
            max_bytes: 20 * 1024 * 1024,
            ..Default::default()
        };
        let t = TestApp::with_config(b, AppConfig { files, ..Default::default() }).await;
        let a = t.user("attendee").await;
        // Larger than one multipart part (5 MiB), so the upload is written in parts.
        let content = png(12 * 1024 * 1024 + 3);
        let id = upload(&t, &a, "big.png", &content).await;
        let path = format!("/files/{id}");
        let (status, h, bytes) = get_raw(&t, &path, Some(&a), &[]).await;
        assert_eq!((status, bytes.len()), (StatusCode::OK, content.len()));
        assert!(bytes == content, "the bytes come back as sent");
        assert_eq!(h["content-type"], "image/png");
        let (status, _, bytes) = get_raw(&t, &path, Some(&a), &[("range", "bytes=6000000-6000009")]).await;
        assert_eq!((status, &bytes[..]), (StatusCode::PARTIAL_CONTENT, &content[6_000_000..6_000_010]));
        // The object is in the bucket under files/<id>, and goes with the file.
        let head = format!("HEAD /tessera-files/files/{id} HTTP/1.1");
        assert!(moto.request(&head).await.unwrap().contains(" 200"));
        assert_eq!(t.call("DELETE", &path, Some(&a.token), None).await.status, StatusCode::NO_CONTENT);
        assert!(moto.request(&head).await.unwrap().contains(" 404"));
        // A refused upload leaves no object behind.
        upload_as(&t, Some(&a), "", "file", "x.exe", b"MZ\x90\x00\x03").await.assert_problem(415, None);
    }
}
