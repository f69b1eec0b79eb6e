//! Opaque pagination cursors: base64url of `kind|value|id`, so clients cannot depend on their shape.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{AppError, Result};

/// Encodes the position after a row: the sort kind, its value there, and the row id.
pub fn encode(kind: &str, value: &str, id: impl Into<Uuid>) -> String {
    let id: Uuid = id.into();
    URL_SAFE_NO_PAD.encode(format!("{kind}|{value}|{id}"))
}

/// Decodes a cursor made by [`encode`] for the same `kind`.
pub fn decode<I: From<Uuid>>(cursor: &str, kind: &str) -> Result<(String, I)> {
    let bad = || AppError::invalid("cursor", "is not a cursor from this list; start again without it");
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '|');
    let (k, v, id) = (parts.next(), parts.next(), parts.next());
    match (k, v, id) {
        (Some(k), Some(v), Some(id)) if k == kind => {
            Ok((v.to_string(), Uuid::parse_str(id).map_err(|_| bad())?.into()))
        }
        _ => Err(bad()),
    }
}

/// A timestamp cursor value (epoch seconds).
pub fn ts_value(t: OffsetDateTime) -> String {
    t.unix_timestamp().to_string()
}

pub fn parse_ts_value(v: &str) -> Result<OffsetDateTime> {
    v.parse::<i64>()
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| tessera_domain::check_ts(t).ok())
        .ok_or_else(|| AppError::invalid("cursor", "is not a cursor from this list; start again without it"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_kind_check() {
        let id = Uuid::now_v7();
        let c = encode("start_time", "42", id);
        assert_eq!(decode(&c, "start_time").unwrap(), ("42".to_string(), id));
        assert!(decode::<Uuid>(&c, "price").is_err());
        assert!(decode::<Uuid>("!!!", "price").is_err());
    }
}
