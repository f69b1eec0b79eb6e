//! Values bound the way sqlx binds them and read back, and the statements that carry them: UUIDs
//! as 16-byte blobs, timestamps as RFC 3339 text, booleans as integers, so the inline connections
//! and sqlx read each other's rows.

use rusqlite::Connection;
use rusqlite::types::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::query::Arg;

/// Binding values the way sqlx does.
pub(crate) fn id(u: impl Into<Uuid>) -> Value {
    Value::Blob(u.into().as_bytes().to_vec())
}

pub(crate) fn ts(t: OffsetDateTime) -> Value {
    Value::Text(t.format(&Rfc3339).unwrap_or_default())
}

pub(crate) fn opt_id<T: Into<Uuid>>(u: Option<T>) -> Value {
    u.map(id).unwrap_or(Value::Null)
}

pub(crate) fn arg(a: &Arg) -> Value {
    match a {
        Arg::Text(s) => Value::Text(s.clone()),
        Arg::Int(i) => Value::Integer(*i),
        Arg::Ts(t) => ts(*t),
        Arg::Id(u) => id(*u),
    }
}

pub(crate) fn values(args: &[Arg]) -> Vec<Value> {
    args.iter().map(arg).collect()
}

/// Reading values back.
pub(crate) fn get_id<T: From<Uuid>>(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<T> {
    let b: Vec<u8> = row.get(i)?;
    Uuid::from_slice(&b)
        .map(T::from)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, Box::new(e)))
}

pub(crate) fn get_opt_id<T: From<Uuid>>(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<T>> {
    let b: Option<Vec<u8>> = row.get(i)?;
    b.map(|b| {
        Uuid::from_slice(&b).map(T::from).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, Box::new(e))
        })
    })
    .transpose()
}

pub(crate) fn get_ts(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<OffsetDateTime> {
    let s: String = row.get(i)?;
    OffsetDateTime::parse(&s, &Rfc3339)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

pub(crate) fn get_opt_ts(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<OffsetDateTime>> {
    let s: Option<String> = row.get(i)?;
    s.map(|_| get_ts(row, i)).transpose()
}

/// A word column read as the domain enum it stores (`"seated"` → `Seating::Seated`).
pub(crate) fn get_word<T>(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<T>
where
    T: std::str::FromStr<Err = String>,
{
    let s: String = row.get(i)?;
    s.parse().map_err(|e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

/// Prepares (cached) and binds `$1…$N` by number, as sqlx does: SQLite numbers named
/// parameters by first appearance, which is not always the order of their numbers.
fn prepare<'t>(
    tx: &'t Connection,
    sql: &str,
    values: &[Value],
) -> rusqlite::Result<rusqlite::CachedStatement<'t>> {
    const NAMES: [&str; 16] = [
        "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15", "$16",
    ];
    let mut stmt = tx.prepare_cached(sql)?;
    for (i, v) in values.iter().enumerate() {
        let idx = match NAMES.get(i) {
            Some(name) => stmt.parameter_index(name)?,
            None => stmt.parameter_index(&format!("${}", i + 1))?,
        };
        if let Some(idx) = idx {
            stmt.raw_bind_parameter(idx, v)?;
        }
    }
    Ok(stmt)
}

/// Runs a statement; returns the rows it changed.
pub(crate) fn exec(tx: &Connection, sql: &str, values: &[Value]) -> rusqlite::Result<usize> {
    prepare(tx, sql, values)?.raw_execute()
}

/// Runs a query (or a statement with RETURNING) and maps every row.
pub(crate) fn rows<T>(
    tx: &Connection,
    sql: &str,
    values: &[Value],
    mut f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = prepare(tx, sql, values)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(f(row)?);
    }
    Ok(out)
}

/// The first row of a query, if any.
pub(crate) fn first<T>(
    conn: &Connection,
    sql: &str,
    values: &[Value],
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Option<T>> {
    let mut stmt = prepare(conn, sql, values)?;
    let mut rows = stmt.raw_query();
    rows.next()?.map(f).transpose()
}
