//! Sign-in with an external OpenID Connect issuer (as Cognito): an issuer served by the test on
//! loopback publishes RS256 keys the test made; its tokens sign people in beside Tessera's own,
//! first use makes or links the account, groups give the role, and a rotated key is fetched.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

use tessera_app::AppConfig;
use tessera_app::oidc::OidcConfig;
use tessera_store::Backend;

use crate::both;
use crate::support::TestApp;

both!(
    cognito_access_tokens_sign_in_and_groups_give_the_role,
    a_verified_email_links_the_existing_account,
    tokens_for_others_or_expired_or_forged_are_refused,
    a_rotated_key_is_fetched_when_a_token_names_it,
);

const AUDIENCE: &str = "tessera-app-client";

/// An RSA key pair the test made, with its id.
struct Key {
    kid: &'static str,
    private: rsa::RsaPrivateKey,
}

impl Key {
    fn jwk(&self) -> Value {
        let public = self.private.to_public_key();
        json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        })
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.into());
        let der = self.private.to_pkcs1_der().unwrap();
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(der.as_bytes())).unwrap()
    }
}

/// Two keys, made once for all these tests (2048-bit generation takes a moment).
fn keys() -> &'static [Key; 2] {
    static KEYS: OnceLock<[Key; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand08::thread_rng();
        let mut make = |kid| Key { kid, private: rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap() };
        let a = make("key-a");
        let b = make("key-b");
        [a, b]
    })
}

/// The issuer: its discovery document and its key set (which the test can change), counting
/// fetches of the keys.
struct Issuer {
    url: String,
    published: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

async fn issuer(published: Vec<Value>) -> Issuer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let published = Arc::new(Mutex::new(published));
    let fetches = Arc::new(AtomicUsize::new(0));
    let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/keys.json")});
    let (keys, count) = (published.clone(), fetches.clone());
    let router = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(discovery) }),
        )
        .route(
            "/keys.json",
            axum::routing::get(move || async move {
                count.fetch_add(1, Ordering::SeqCst);
                axum::Json(json!({"keys": keys.lock().unwrap().clone()}))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Issuer { url, published, fetches }
}

async fn app_trusting(b: Backend, issuer: &Issuer) -> TestApp {
    let oidc = OidcConfig { refetch_after: Duration::ZERO, ..OidcConfig::new(&issuer.url, AUDIENCE) };
    TestApp::with_config(b, AppConfig { oidc: Some(oidc), ..Default::default() }).await
}

/// Claims as Cognito puts them in an access token, valid for an hour from the app's clock.
fn access_claims(t: &TestApp, issuer: &Issuer, sub: &str, groups: &[&str]) -> Value {
    let now = t.app.now().unix_timestamp();
    json!({
        "iss": issuer.url, "sub": sub, "client_id": AUDIENCE, "token_use": "access",
        "scope": "openid email", "cognito:username": "hana", "cognito:groups": groups,
        "iat": now, "exp": now + 3600,
    })
}

async fn cognito_access_tokens_sign_in_and_groups_give_the_role(b: Backend) {
    let iss = issuer(vec![keys()[0].jwk()]).await;
    let t = app_trusting(b, &iss).await;
    let token = keys()[0].sign(&access_claims(&t, &iss, "sub-1", &["organizer"]));
    let me = t.get("/users/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!((me.body["name"].as_str(), me.body["role"].as_str()), (Some("hana"), Some("organizer")));
    let id = me.body["user_id"].clone();
    // As an organizer, they may create an event.
    let ev = t.post("/events", Some(&token), crate::support::event_body("Via Cognito")).await;
    assert_eq!(ev.status, StatusCode::CREATED, "{}", ev.body);
    // The same subject is the same person; taken out of the group, they are an attendee again.
    let token = keys()[0].sign(&access_claims(&t, &iss, "sub-1", &[]));
    let me = t.get("/users/me", Some(&token)).await;
    assert_eq!((me.body["user_id"].clone(), me.body["role"].as_str()), (id, Some("attendee")));
    t.post("/events", Some(&token), crate::support::event_body("No longer")).await.assert_problem(403, None);
    // Tessera's own sign-in works beside it.
    let own = t.user("attendee").await;
    assert_eq!(t.get("/users/me", Some(&own.token)).await.status, StatusCode::OK);
    // The keys were fetched once (discovery, then the set), not per request.
    assert_eq!(iss.fetches.load(Ordering::SeqCst), 1);
}

async fn a_verified_email_links_the_existing_account(b: Backend) {
    let iss = issuer(vec![keys()[0].jwk()]).await;
    let t = app_trusting(b, &iss).await;
    let own = t.user("attendee").await;
    let email = t.get("/users/me", Some(&own.token)).await.body["email"].as_str().unwrap().to_string();
    let now = t.app.now().unix_timestamp();
    let id_token = |sub: &str, verified: bool| {
        keys()[0].sign(&json!({
            "iss": iss.url, "sub": sub, "aud": AUDIENCE, "token_use": "id", "email": email.to_uppercase(),
            "email_verified": verified, "name": "Someone", "iat": now, "exp": now + 600,
        }))
    };
    // An unverified address links nothing: a new account with an address that is no one's.
    let me = t.get("/users/me", Some(&id_token("sub-unverified", false))).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_ne!(me.body["user_id"].as_str().unwrap(), own.id.to_string());
    assert!(me.body["email"].as_str().unwrap().ends_with(".oidc.invalid"), "{}", me.body);
    // A verified one is the account that has it.
    let me = t.get("/users/me", Some(&id_token("sub-verified", true))).await;
    assert_eq!(me.body["user_id"].as_str().unwrap(), own.id.to_string(), "{}", me.body);
    // A disabled account cannot sign in this way either.
    let admin = t.user("admin").await;
    let r = t
        .call("PATCH", &format!("/users/{}", own.id), Some(&admin.token), Some(json!({"disabled": true})))
        .await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    t.get("/users/me", Some(&id_token("sub-verified", true))).await.assert_problem(401, None);
}

async fn tokens_for_others_or_expired_or_forged_are_refused(b: Backend) {
    let iss = issuer(vec![keys()[0].jwk()]).await;
    let t = app_trusting(b, &iss).await;
    let good = access_claims(&t, &iss, "sub-2", &[]);
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let now = t.app.now().unix_timestamp();
    let refused = [
        ("another client", keys()[0].sign(&with("client_id", json!("someone-else")))),
        ("another issuer", keys()[0].sign(&with("iss", json!("https://evil.example.com")))),
        ("expired", keys()[0].sign(&with("exp", json!(now - 3600)))),
        ("not yet valid", keys()[0].sign(&with("nbf", json!(now + 3600)))),
        ("a refresh token", keys()[0].sign(&with("token_use", json!("refresh")))),
        ("a key the issuer does not publish", keys()[1].sign(&good)),
    ];
    for (what, token) in refused {
        let r = t.get("/users/me", Some(&token)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.body);
    }
    // A signature that does not match its claims.
    let token = keys()[0].sign(&good);
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&with("cognito:groups", json!(["admin"]))).unwrap());
    t.get("/users/me", Some(&parts.join("."))).await.assert_problem(401, None);
    // The untouched token works; the clock moving past its expiry ends it.
    assert_eq!(t.get("/users/me", Some(&token)).await.status, StatusCode::OK);
    t.clock.advance(3600 + 120);
    t.get("/users/me", Some(&token)).await.assert_problem(401, None);
}

async fn a_rotated_key_is_fetched_when_a_token_names_it(b: Backend) {
    let iss = issuer(vec![keys()[0].jwk()]).await;
    let t = app_trusting(b, &iss).await;
    let first = keys()[0].sign(&access_claims(&t, &iss, "sub-3", &[]));
    assert_eq!(t.get("/users/me", Some(&first)).await.status, StatusCode::OK);
    // The issuer rotates: key B is published and key A withdrawn.
    *iss.published.lock().unwrap() = vec![keys()[1].jwk()];
    let second = keys()[1].sign(&access_claims(&t, &iss, "sub-3", &[]));
    let me = t.get("/users/me", Some(&second)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(iss.fetches.load(Ordering::SeqCst), 2, "fetched again for the unknown key");
    // Known keys need no fetch.
    assert_eq!(t.get("/users/me", Some(&second)).await.status, StatusCode::OK);
    assert_eq!(iss.fetches.load(Ordering::SeqCst), 2);
}
