//! What the OpenAPI document says about every route alike, so that it tells the truth without
//! each annotation repeating it: a JSON body can be refused as 413 or 415, a `limit` has bounds,
//! ids in paths are UUIDs, and query values are in the forms the handlers accept. A schema
//! fuzzer (schemathesis, in CI) holds the document to what the server does.

use serde_json::{Value, json};

/// Applies the rules to the document (as JSON).
pub fn apply(doc: &mut Value) {
    bodies(doc);
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, op) in item.iter_mut() {
            if !matches!(method.as_str(), "get" | "post" | "put" | "patch" | "delete") {
                continue;
            }
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                for p in params {
                    param(path, p);
                }
            }
            if op.pointer("/requestBody/content/application~1json").is_some() {
                json_body_responses(op);
            }
        }
    }
}

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

/// A route that reads a JSON body can answer that it is malformed (400), too large (413), or
/// not JSON at all (415).
fn json_body_responses(op: &mut Value) {
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else { return };
    for (code, what) in [
        ("400", "Malformed JSON or invalid fields (`errors` names them)"),
        ("413", "The body is larger than 1 MiB"),
        ("415", "The body is not sent as JSON (Content-Type: application/json)"),
    ] {
        responses.entry(code).or_insert_with(|| problem(what));
    }
}

/// Timestamps from outside: RFC 3339 in the years 1970–2999 (UTC; the pattern checks the year
/// as written, and an offset can carry it a day either way).
const TIMESTAMP_PATTERN: &str = r"^(19[7-9][0-9]|2[0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$";
const DECIMAL_PATTERN: &str = r"^[0-9]{1,8}(\.[0-9]{1,2})?$";

fn param(path: &str, p: &mut Value) {
    let name = p.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    let place = p.get("in").and_then(Value::as_str).unwrap_or_default().to_string();
    let schema = match (place.as_str(), name.as_str()) {
        ("path", "key_id") => return,
        ("path", n) if n == "id" || n.ends_with("_id") => json!({"type": "string", "format": "uuid"}),
        ("query", "limit") => {
            let max = if path.ends_with("/seats") { 1000 } else { 100 };
            json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": max})
        }
        ("query", "organizer_id") => json!({"type": "string", "format": "uuid"}),
        ("header", "Idempotency-Key") => json!({"type": "string", "pattern": "^[!-~]{1,255}$"}),
        ("query", "start_from" | "start_to" | "from" | "to") => {
            json!({"type": "string", "format": "date-time", "pattern": TIMESTAMP_PATTERN})
        }
        ("query", "price_min" | "price_max") => json!({"type": "string", "pattern": DECIMAL_PATTERN}),
        ("query", "sort") => json!({"type": "string", "enum": [
            "start_time", "-start_time", "created_at", "-created_at", "price", "-price"]}),
        ("query", "seating") => json!({"type": "string", "enum": ["general", "seated"]}),
        ("query", "role") => json!({"type": "string", "enum": ["attendee", "organizer", "staff", "admin"]}),
        ("query", "format") => json!({"type": "string", "enum": ["csv", "json"]}),
        ("query", "status") if path.ends_with("/seats") => {
            json!({"type": "string", "enum": ["available", "held", "sold"]})
        }
        ("query", "status") if path.ends_with("/applications") => {
            json!({"type": "string", "enum": ["pending", "approved", "rejected"]})
        }
        ("query", "status") if path == "/events" || path == "/concerts" => {
            json!({"type": "string", "enum": ["published", "cancelled", "all"]})
        }
        _ => return,
    };
    p["schema"] = schema;
}

/// Text that is not only white space (the handlers trim) and has no control characters.
const TEXT: &str =
    r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$";
/// A positive amount with at most two decimals, at most 1000000.00, no leading zeros.
const AMOUNT_PATTERN: &str = r"^(1000000(\.00?)?|[1-9][0-9]{0,5}(\.[0-9]{1,2})?|0\.([1-9][0-9]?|0[1-9]))$";

/// Request fields the handlers require (none may be null), with the forms they accept. Fields
/// are `Option` in the code so that a missing one is a 400 naming it rather than a parse error.
fn body_rules() -> Vec<(&'static str, &'static str, bool, Value)> {
    let text = |max: u64| json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": TEXT});
    let uuid = json!({"type": "string", "format": "uuid"});
    vec![
        ("ApiKeyRequest", "name", true, text(100)),
        ("RejectRequest", "reason", true, text(500)),
        ("LoginRequest", "email", true, text(255)),
        ("LoginRequest", "password", true, json!({"type": "string"})),
        ("RefreshRequest", "refresh_token", true, text(1000)),
        ("RegisterRequest", "name", true, text(255)),
        ("RegisterRequest", "email", true, json!({"type": "string", "format": "email", "maxLength": 255})),
        ("RegisterRequest", "password", true, json!({"type": "string", "minLength": 8, "maxLength": 128})),
        ("RegisterRequest", "role", false, json!({"type": "string", "enum": ["attendee", "organizer"]})),
        ("ChargeRequest", "amount", true, json!({"type": "string", "pattern": AMOUNT_PATTERN})),
        ("CheckinRequest", "code", true, text(1024)),
        ("CheckinRequest", "direction", false, json!({"type": "string", "enum": ["entry", "exit"]})),
        ("CheckinRequest", "gate", false, json!({"type": "string", "maxLength": 100})),
        ("CheckinRequest", "device_id", false, json!({"type": "string", "maxLength": 100})),
        (
            "SyncRequest",
            "scans",
            true,
            json!({"type": "array", "minItems": 1, "maxItems": 1000,
            "items": {"$ref": "#/components/schemas/OfflineScanRequest"}}),
        ),
        ("SyncRequest", "device_id", false, json!({"type": "string", "maxLength": 100})),
        ("OfflineScanRequest", "scan_id", true, uuid.clone()),
        ("OfflineScanRequest", "code", true, text(1024)),
        (
            "OfflineScanRequest",
            "scanned_at",
            true,
            json!({"type": "string", "format": "date-time", "pattern": TIMESTAMP_PATTERN}),
        ),
        ("OfflineScanRequest", "direction", false, json!({"type": "string", "enum": ["entry", "exit"]})),
        ("OfflineScanRequest", "gate", false, json!({"type": "string", "maxLength": 100})),
        ("QueueTokenRequest", "event_id", true, uuid.clone()),
        ("PaymentRequest", "reservation_id", true, uuid.clone()),
        ("PaymentRequest", "method", false, json!({"type": "string", "enum": ["balance"]})),
        ("BuyRequest", "ticket_type_id", true, uuid.clone()),
        ("BuyRequest", "ticket_quantity", true, json!({"type": "integer", "minimum": 1, "maximum": 100})),
        ("UserPatchRequest", "name", false, text(255)),
        ("UserPatchRequest", "password", false, json!({"type": "string", "minLength": 8, "maxLength": 128})),
        (
            "UserPatchRequest",
            "role",
            false,
            json!({"type": "string", "enum": ["attendee", "organizer", "staff", "admin"]}),
        ),
        (
            "EventCreateRequest",
            "max_attendees",
            false,
            json!({"type": "integer", "minimum": 1, "maximum": 1_000_000}),
        ),
        (
            "EventCreateRequest",
            "hold_seconds",
            false,
            json!({"type": "integer", "minimum": 30, "maximum": 86_400}),
        ),
        (
            "EventCreateRequest",
            "max_per_person",
            false,
            json!({"type": "integer", "minimum": 1, "maximum": 100}),
        ),
        (
            "EventPatchRequest",
            "max_attendees",
            false,
            json!({"type": "integer", "minimum": 1, "maximum": 1_000_000}),
        ),
        (
            "EventPatchRequest",
            "hold_seconds",
            false,
            json!({"type": "integer", "minimum": 30, "maximum": 86_400}),
        ),
        (
            "EventPatchRequest",
            "max_per_person",
            false,
            json!({"type": "integer", "minimum": 1, "maximum": 100}),
        ),
        ("ApplicationRequest", "ticket_type_id", true, uuid.clone()),
        ("CheckinRequest", "event_id", false, uuid.clone()),
        (
            "BatchApproveRequest",
            "application_ids",
            true,
            json!({"type": "array", "minItems": 1, "maxItems": 500, "items": uuid}),
        ),
    ]
}

/// Applies `body_rules` to the component schemas: a required field is listed as such and loses
/// `null`; the field's schema becomes the rule's (keeping its description).
fn bodies(doc: &mut Value) {
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else { return };
    for (schema, field, required, rule) in body_rules() {
        let Some(s) = schemas.get_mut(schema) else { continue };
        let description = s.pointer(&format!("/properties/{field}/description")).cloned();
        if let Some(prop) = s.pointer_mut(&format!("/properties/{field}")) {
            let mut rule = rule;
            if let (Some(d), Some(obj)) = (description, rule.as_object_mut()) {
                obj.insert("description".into(), d);
            }
            *prop = rule;
        }
        if required && let Some(obj) = s.as_object_mut() {
            let list = obj.entry("required").or_insert_with(|| json!([]));
            if let Some(a) = list.as_array_mut()
                && !a.iter().any(|f| f == field)
            {
                a.push(json!(field));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_and_parameters() {
        let mut doc = json!({"paths": {
            "/events/{event_id}/seats": {"get": {"parameters": [
                {"name": "event_id", "in": "path", "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                "responses": {"200": {}}}},
            "/events": {"post": {"requestBody": {"content": {"application/json": {}}},
                "responses": {"201": {}, "400": {"description": "kept"}}}}
        }});
        apply(&mut doc);
        let seats = &doc["paths"]["/events/{event_id}/seats"]["get"]["parameters"];
        assert_eq!(seats[0]["schema"]["format"], "uuid");
        assert_eq!(seats[1]["schema"]["maximum"], 1000);
        let post = &doc["paths"]["/events"]["post"]["responses"];
        assert_eq!(post["400"]["description"], "kept");
        assert!(post["413"].is_object() && post["415"].is_object());
        let re = TIMESTAMP_PATTERN;
        assert!(re.starts_with('^'));
    }
}
