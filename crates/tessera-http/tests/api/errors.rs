//! Unexpected failures: the client gets a bare 500 `internal`; the log line carries the whole
//! cause chain and the place in the code where it arose.

use std::io::Write;
use std::sync::{Arc, Mutex};

use http::StatusCode;
use serde_json::{Value, json};
use tessera_store::{Backend, Store, StoreOptions};

use crate::both;
use crate::support::TestApp;

both!(a_5xx_log_line_keeps_the_cause_and_where);

/// The JSON log lines written while the guard lives (on this thread: the test's requests are
/// served on it).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn errors(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["level"] == "ERROR")
            .collect()
    }
}

/// A database the test can also reach with plain SQL, to break a stored value the way a bad
/// migration or a hand edit would.
struct OwnDb {
    store: Store,
    url: String,
    schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

async fn own_db(b: Backend) -> OwnDb {
    match b {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("t.db").display());
            let store = Store::connect(&StoreOptions::new(url.clone())).await.unwrap();
            OwnDb { store, url, schema: None, _dir: Some(dir) }
        }
        Backend::Postgres => {
            let url = std::env::var(tessera_store::testing::PG_URL_VAR).unwrap();
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut o = StoreOptions::new(url.clone());
            o.pg_schema = Some(schema.clone());
            let store = Store::connect(&o).await.unwrap();
            OwnDb { store, url, schema: Some(schema), _dir: None }
        }
    }
}

impl OwnDb {
    async fn execute(&self, sql: &str) {
        use sqlx::Executor;
        match &self.schema {
            None => {
                let pool = sqlx::SqlitePool::connect(&self.url).await.unwrap();
                pool.execute(sqlx::AssertSqlSafe(sql.to_string())).await.unwrap();
                pool.close().await;
            }
            Some(schema) => {
                let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
                let sql = format!("SET search_path TO {schema}; {sql}");
                pool.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
                pool.close().await;
            }
        }
    }
}

async fn a_5xx_log_line_keeps_the_cause_and_where(b: Backend) {
    let db = own_db(b).await;
    db.store.migrate().await.unwrap();
    let t = TestApp::on_store(db.store.clone(), tessera_app::AppConfig::default()).await;
    let org = t.user("organizer").await.token;
    let ev = t.event(&org, json!({"name": "Festival", "start_time": "2030-07-01T10:00:00Z"})).await;
    let body = json!({"name": "Student", "quota": 5, "requires_approval": true});
    let tt = t.post(&format!("/events/{ev}/ticket-types"), Some(&org), body).await.body["ticket_type_id"]
        .as_str()
        .unwrap()
        .to_string();
    let form_path = format!("/events/{ev}/ticket-types/{tt}/form");
    let form = json!({"fields": [{"name": "school", "type": "text"}]});
    assert_eq!(t.call("PUT", &form_path, Some(&org), Some(form)).await.status, StatusCode::OK);
    db.execute("UPDATE application_forms SET fields = '[{\"name\": '").await;

    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt().json().with_writer(move || writer.clone()).finish();
    let r = {
        let _guard = tracing::subscriber::set_default(subscriber);
        t.get(&form_path, None).await
    };
    r.assert_problem(500, None);
    assert_eq!(r.body["code"], "internal");
    assert_eq!(r.body["detail"], "an unexpected error occurred", "nothing of the cause leaks");
    let errors = log.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let fields = &errors[0]["fields"];
    let cause = fields["cause"].as_str().unwrap();
    assert!(
        cause.starts_with("reading the stored form: EOF while parsing"),
        "the chain, outermost first: {cause}"
    );
    let at = fields["at"].as_str().unwrap();
    assert!(at.starts_with("crates/tessera-app/src/applications.rs:"), "where it arose: {at}");
    if let Some(schema) = &db.schema {
        db.store.drop_schema(schema).await.unwrap();
    }
}
