//! Schema parity: the SQLite and PostgreSQL migrations must build the same schema. Both are
//! migrated, read back from each database's catalogue as plain facts (tables, columns with their
//! nullability, primary keys, unique keys, indexes, foreign keys, how many CHECK constraints),
//! and compared. A difference fails unless tests/schema_parity_allow.txt lists it with a reason;
//! an allowance that no longer matches a difference fails too, so the list stays true.
//! Column types are not compared: the two databases spell them differently by design (BLOB and
//! UUID, TEXT and TIMESTAMPTZ).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use sqlx::{PgPool, Row, SqlitePool};
use tessera_store::{Store, StoreOptions};

type Facts = BTreeSet<String>;
/// SQLite's foreign key rows gathered by id: referenced table, own columns, its columns.
type ForeignKey = (String, Vec<String>, Vec<Option<String>>);

const ALLOWED: &str = include_str!("schema_parity_allow.txt");

/// Both databases, freshly migrated, with plain connections for reading their catalogues.
struct Pair {
    sqlite: SqlitePool,
    pg: PgPool,
    pg_store: Store,
    schema: String,
    _dir: tempfile::TempDir,
}

impl Pair {
    async fn new() -> Pair {
        let dir = tempfile::tempdir().unwrap();
        let sqlite_url = format!("sqlite://{}", dir.path().join("parity.db").display());
        let sqlite_store = Store::connect(&StoreOptions::new(sqlite_url.clone())).await.unwrap();
        sqlite_store.migrate().await.unwrap();
        sqlite_store.close().await;
        let pg_url = std::env::var(tessera_store::testing::PG_URL_VAR).unwrap();
        let schema = format!("t_parity_{}", uuid::Uuid::new_v4().simple());
        let mut o = StoreOptions::new(pg_url.clone());
        o.pg_schema = Some(schema.clone());
        let pg_store = Store::connect(&o).await.unwrap();
        pg_store.migrate().await.unwrap();
        Pair {
            sqlite: SqlitePool::connect(&sqlite_url).await.unwrap(),
            pg: PgPool::connect(&pg_url).await.unwrap(),
            pg_store,
            schema,
            _dir: dir,
        }
    }

    /// Facts only SQLite has, and facts only PostgreSQL has.
    async fn differences(&self) -> (Facts, Facts) {
        let s = sqlite_facts(&self.sqlite).await;
        let p = pg_facts(&self.pg, &self.schema).await;
        (s.difference(&p).cloned().collect(), p.difference(&s).cloned().collect())
    }

    async fn drop(self) {
        self.pg_store.drop_schema(&self.schema).await.unwrap();
    }
}

async fn sqlite_facts(db: &SqlitePool) -> Facts {
    let mut f = Facts::new();
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table'
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(db)
    .await
    .unwrap();
    for (t, sql) in &tables {
        f.insert(format!("table {t}"));
        let cols = sqlx::query("SELECT name, \"notnull\", pk FROM pragma_table_info(?) ORDER BY cid")
            .bind(t)
            .fetch_all(db)
            .await
            .unwrap();
        let mut pk: Vec<(i64, String)> = Vec::new();
        for c in &cols {
            let (name, not_null, in_pk): (String, bool, i64) = (c.get(0), c.get(1), c.get(2));
            // A primary key column is NOT NULL in PostgreSQL; SQLite only enforces it for
            // INTEGER keys, and Tessera never stores a null key.
            f.insert(format!("column {t}.{name} {}", nullability(!(not_null || in_pk > 0))));
            if in_pk > 0 {
                pk.push((in_pk, name));
            }
        }
        if !pk.is_empty() {
            pk.sort();
            let cols: Vec<String> = pk.into_iter().map(|(_, n)| n).collect();
            f.insert(format!("primary key {t}({})", cols.join(", ")));
        }
        let indexes = sqlx::query("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?)")
            .bind(t)
            .fetch_all(db)
            .await
            .unwrap();
        for i in &indexes {
            let (name, unique, origin, partial): (String, bool, String, bool) =
                (i.get(0), i.get(1), i.get(2), i.get(3));
            if origin == "pk" {
                continue;
            }
            let cols: Vec<Option<String>> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                    .bind(&name)
                    .fetch_all(db)
                    .await
                    .unwrap();
            let cols: Vec<String> = cols.into_iter().map(|c| c.unwrap_or_else(|| "expr".into())).collect();
            f.insert(index_fact(t, &name, unique, partial, &cols));
        }
        let fks = sqlx::query(
            "SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?) ORDER BY id, seq",
        )
        .bind(t)
        .fetch_all(db)
        .await
        .unwrap();
        let mut by_id: std::collections::BTreeMap<i64, ForeignKey> = Default::default();
        for k in &fks {
            let e = by_id.entry(k.get(0)).or_insert_with(|| (k.get(1), Vec::new(), Vec::new()));
            e.1.push(k.get(2));
            e.2.push(k.get(3));
        }
        for (_, (to_table, from, to)) in by_id {
            // `REFERENCES t` without columns means t's primary key.
            let to: Vec<String> = if to.iter().all(Option::is_none) {
                sqlx::query_scalar("SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk")
                    .bind(&to_table)
                    .fetch_all(db)
                    .await
                    .unwrap()
            } else {
                to.into_iter().map(Option::unwrap_or_default).collect()
            };
            f.insert(format!("foreign key {t}({}) -> {to_table}({})", from.join(", "), to.join(", ")));
        }
        let checks =
            sql.to_uppercase().matches("CHECK (").count() + sql.to_uppercase().matches("CHECK(").count();
        if checks > 0 {
            f.insert(format!("checks on {t}: {checks}"));
        }
    }
    f
}

async fn pg_facts(db: &PgPool, schema: &str) -> Facts {
    let mut f = Facts::new();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'",
    )
    .bind(schema)
    .fetch_all(db)
    .await
    .unwrap();
    for t in &tables {
        f.insert(format!("table {t}"));
    }
    let cols: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, is_nullable::text FROM information_schema.columns
         WHERE table_schema = $1 AND table_name <> '_sqlx_migrations'",
    )
    .bind(schema)
    .fetch_all(db)
    .await
    .unwrap();
    for (t, c, nullable) in cols {
        if tables.contains(&t) {
            f.insert(format!("column {t}.{c} {}", nullability(nullable == "YES")));
        }
    }
    let indexes = sqlx::query(
        "SELECT t.relname::text, i.relname::text, x.indisunique, x.indisprimary, x.indpred IS NOT NULL,
                ARRAY(SELECT COALESCE(a.attname::text, 'expr')
                      FROM generate_subscripts(x.indkey, 1) AS k
                      LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[k]
                      WHERE k < x.indnkeyatts ORDER BY k)
         FROM pg_index x
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE n.nspname = $1 AND t.relname <> '_sqlx_migrations'",
    )
    .bind(schema)
    .fetch_all(db)
    .await
    .unwrap();
    for i in &indexes {
        let (t, name, unique, primary, partial, cols): (String, String, bool, bool, bool, Vec<String>) =
            (i.get(0), i.get(1), i.get(2), i.get(3), i.get(4), i.get(5));
        if primary {
            f.insert(format!("primary key {t}({})", cols.join(", ")));
        } else {
            f.insert(index_fact(&t, &name, unique, partial, &cols));
        }
    }
    let constraints = sqlx::query(
        "SELECT c.contype::text, cl.relname::text, COALESCE(rf.relname::text, ''),
                ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS u(n, o)
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = u.n ORDER BY o),
                ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS u(n, o)
                      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = u.n ORDER BY o)
         FROM pg_constraint c
         JOIN pg_class cl ON cl.oid = c.conrelid
         JOIN pg_namespace n ON n.oid = cl.relnamespace
         LEFT JOIN pg_class rf ON rf.oid = c.confrelid
         WHERE n.nspname = $1 AND c.contype IN ('f', 'c')",
    )
    .bind(schema)
    .fetch_all(db)
    .await
    .unwrap();
    let mut checks: std::collections::BTreeMap<String, usize> = Default::default();
    for c in &constraints {
        let (kind, t, to_table, from, to): (String, String, String, Vec<String>, Vec<String>) =
            (c.get(0), c.get(1), c.get(2), c.get(3), c.get(4));
        if kind == "f" {
            f.insert(format!("foreign key {t}({}) -> {to_table}({})", from.join(", "), to.join(", ")));
        } else {
            *checks.entry(t).or_default() += 1;
        }
    }
    for (t, n) in checks {
        f.insert(format!("checks on {t}: {n}"));
    }
    f
}

fn nullability(nullable: bool) -> &'static str {
    if nullable { "NULL" } else { "NOT NULL" }
}

/// Unique keys are compared by their columns (SQLite names the index behind a UNIQUE constraint
/// itself); other indexes by name and columns.
fn index_fact(table: &str, name: &str, unique: bool, partial: bool, cols: &[String]) -> String {
    let partial = if partial { " partial" } else { "" };
    if unique {
        format!("unique {table}({}){partial}", cols.join(", "))
    } else {
        format!("index {name} on {table}({}){partial}", cols.join(", "))
    }
}

/// The reviewed differences: `sqlite | fact | why` or `postgres | fact | why`.
fn allowed() -> (Facts, Facts) {
    let (mut s, mut p) = (Facts::new(), Facts::new());
    for line in ALLOWED.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let mut parts = line.splitn(3, '|').map(str::trim);
        let (side, fact, why) = (parts.next(), parts.next(), parts.next());
        assert!(why.is_some_and(|w| !w.is_empty()), "an allowance needs a reason: {line}");
        match (side, fact) {
            (Some("sqlite"), Some(f)) => s.insert(f.to_string()),
            (Some("postgres"), Some(f)) => p.insert(f.to_string()),
            _ => panic!("not `sqlite|postgres | fact | why`: {line}"),
        };
    }
    (s, p)
}

/// What is different and not allowed, and what is allowed but no longer different.
fn unexplained(only_sqlite: &Facts, only_pg: &Facts) -> Vec<String> {
    let (allow_s, allow_p) = allowed();
    let mut out = Vec::new();
    out.extend(only_sqlite.difference(&allow_s).map(|f| format!("only on SQLite: {f}")));
    out.extend(only_pg.difference(&allow_p).map(|f| format!("only on PostgreSQL: {f}")));
    out.extend(allow_s.difference(only_sqlite).map(|f| format!("allowed but not different (sqlite): {f}")));
    out.extend(allow_p.difference(only_pg).map(|f| format!("allowed but not different (postgres): {f}")));
    out
}

#[tokio::test]
#[cfg_attr(not(tessera_pg), ignore = "set TESSERA_TEST_DATABASE_URL to run on PostgreSQL")]
async fn both_databases_have_the_same_schema() {
    let pair = Pair::new().await;
    let (only_s, only_p) = pair.differences().await;
    let problems = unexplained(&only_s, &only_p);
    let facts = sqlite_facts(&pair.sqlite).await;
    pair.drop().await;
    assert!(facts.len() > 100, "the catalogue was read: {} facts", facts.len());
    assert!(problems.is_empty(), "the schemas differ:\n{}", problems.join("\n"));
}

/// The check itself: a column added on one side only, or a missing index, is caught.
#[tokio::test]
#[cfg_attr(not(tessera_pg), ignore = "set TESSERA_TEST_DATABASE_URL to run on PostgreSQL")]
async fn a_change_on_one_side_only_is_caught() {
    let pair = Pair::new().await;
    sqlx::query("ALTER TABLE events ADD COLUMN venue_notes TEXT").execute(&pair.sqlite).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE INDEX events_venue_idx ON {}.events (location)",
        pair.schema
    )))
    .execute(&pair.pg)
    .await
    .unwrap();
    let (only_s, only_p) = pair.differences().await;
    let problems = unexplained(&only_s, &only_p);
    pair.drop().await;
    assert!(problems.contains(&"only on SQLite: column events.venue_notes NULL".to_string()), "{problems:?}");
    assert!(
        problems.contains(&"only on PostgreSQL: index events_venue_idx on events(location)".to_string()),
        "{problems:?}"
    );
}
