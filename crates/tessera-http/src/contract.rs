//! What the OpenAPI document says about every route alike, so that it tells the truth without
//! each annotation repeating it: a JSON body can be refused as 413 or 415, a `limit` has bounds,
//! ids in paths are UUIDs, and query values are in the forms the handlers accept. A schema
//! fuzzer (schemathesis, in CI) holds the document to what the server does.

use serde_json::{Value, json};

/// Applies the rules to the document (as JSON).
pub fn apply(doc: &mut Value) {
    shapes(doc);
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
        // Opaque: only a `next_cursor` from the same list is accepted.
        ("query", "cursor") => json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{1,400}$"}),
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

/// A text the handlers trim and may leave empty (then it is as if not given).
const OPTIONAL_TEXT: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";
/// An http(s) URL with a host (a conservative form of what the `url` crate accepts).
const URL_PATTERN: &str = r"^https?://[a-z0-9]+(\.[a-z0-9]+)*(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~/-]*)?$";
const UUID_PATTERN: &str = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
/// Booking's limits (tessera_domain::booking).
const MAX_SEATS: u64 = 100_000;

/// The same rule, also allowing `null` (an optional field left out).
fn nullable(mut rule: Value) -> Value {
    if let Some(t) = rule.get("type").and_then(Value::as_str).map(str::to_string) {
        rule["type"] = json!([t, "null"]);
    }
    rule
}

fn int(min: u64, max: u64) -> Value {
    json!({"type": "integer", "minimum": min, "maximum": max})
}

/// Request fields the handlers require (none may be null), with the forms they accept. Fields
/// are `Option` in the code so that a missing one is a 400 naming it rather than a parse error.
/// Rules between fields (an end after its start, sections only for seated events) and rules
/// that depend on stored data cannot be said here; scripts/schemathesis_hooks.py lists them.
fn body_rules() -> Vec<(&'static str, &'static str, bool, Value)> {
    let text = text_schema;
    let opt_text = |max: u64| json!({"type": ["string", "null"], "maxLength": max, "pattern": OPTIONAL_TEXT});
    let uuid = json!({"type": "string", "format": "uuid", "pattern": UUID_PATTERN});
    let ts = json!({"type": "string", "format": "date-time", "pattern": TIMESTAMP_PATTERN});
    let phone = json!({"type": ["string", "null"], "pattern": r"^[0-9 +()-]{0,15}$"});
    let decimal = json!({"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/DecimalInput"}]});
    let mut rules = vec![
        ("ApiKeyRequest", "name", true, text(100)),
        ("RejectRequest", "reason", true, text(500)),
        ("LoginRequest", "email", true, text(255)),
        ("LoginRequest", "password", true, json!({"type": "string"})),
        ("RefreshRequest", "refresh_token", true, text(1000)),
        ("RegisterRequest", "name", true, text(255)),
        ("RegisterRequest", "email", true, json!({"type": "string", "format": "email", "maxLength": 255})),
        ("RegisterRequest", "password", true, json!({"type": "string", "minLength": 8, "maxLength": 128})),
        ("RegisterRequest", "role", false, json!({"type": "string", "enum": ["attendee", "organizer"]})),
        ("RegisterRequest", "phone_number", false, phone.clone()),
        ("ChargeRequest", "amount", true, json!({"type": "string", "pattern": AMOUNT_PATTERN})),
        ("CheckinRequest", "code", true, text(1024)),
        ("CheckinRequest", "direction", false, json!({"type": "string", "enum": ["entry", "exit"]})),
        ("CheckinRequest", "gate", false, json!({"type": "string", "maxLength": 100})),
        ("CheckinRequest", "device_id", false, json!({"type": "string", "maxLength": 100})),
        ("CheckinRequest", "event_id", false, uuid.clone()),
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
        ("OfflineScanRequest", "scanned_at", true, ts.clone()),
        ("OfflineScanRequest", "direction", false, json!({"type": "string", "enum": ["entry", "exit"]})),
        ("OfflineScanRequest", "gate", false, json!({"type": "string", "maxLength": 100})),
        ("QueueTokenRequest", "event_id", true, uuid.clone()),
        ("PaymentRequest", "reservation_id", true, uuid.clone()),
        ("PaymentRequest", "method", false, json!({"type": "string", "enum": ["balance"]})),
        ("BuyRequest", "ticket_type_id", true, uuid.clone()),
        ("BuyRequest", "ticket_quantity", true, int(1, 100)),
        ("UserPatchRequest", "name", false, text(255)),
        ("UserPatchRequest", "password", false, json!({"type": "string", "minLength": 8, "maxLength": 128})),
        (
            "UserPatchRequest",
            "role",
            false,
            json!({"type": "string", "enum": ["attendee", "organizer", "staff", "admin"]}),
        ),
        ("UserPatchRequest", "phone_number", false, phone),
        (
            "UserPatchRequest",
            "current_password",
            false,
            json!({"type": ["string", "null"], "maxLength": 128}),
        ),
        ("EventCreateRequest", "name", true, text(255)),
        ("EventCreateRequest", "start_time", true, ts.clone()),
        (
            "EventCreateRequest",
            "seating",
            false,
            nullable(json!({"type": "string", "enum": ["general", "seated"]})),
        ),
        ("EventCreateRequest", "seat_count", false, nullable(int(1, MAX_SEATS))),
        (
            "EventCreateRequest",
            "sections",
            false,
            json!({"type": ["array", "null"], "minItems": 1, "maxItems": 100,
            "items": {"$ref": "#/components/schemas/SectionRequest"}}),
        ),
        ("SectionRequest", "name", false, nullable(text(50))),
        ("SectionRequest", "rows", true, int(1, 1000)),
        ("SectionRequest", "seats_per_row", true, int(1, 1000)),
        ("SectionRequest", "price", false, decimal.clone()),
        ("EventPatchRequest", "name", false, nullable(text(255))),
        ("EventPatchRequest", "start_time", false, nullable(ts.clone())),
        ("TicketTypeRequest", "name", true, text(100)),
        ("TicketTypeRequest", "quota", true, int(1, MAX_SEATS)),
        ("TicketTypeRequest", "per_person_limit", false, nullable(int(1, 100))),
        ("TicketTypeRequest", "sale_starts_at", false, nullable(ts.clone())),
        ("TicketTypeRequest", "sale_ends_at", false, nullable(ts.clone())),
        ("TicketTypePatchRequest", "name", false, nullable(text(100))),
        ("TicketTypePatchRequest", "quota", false, nullable(int(1, MAX_SEATS))),
        ("TicketTypePatchRequest", "per_person_limit", false, nullable(int(1, 100))),
        ("TicketTypePatchRequest", "sale_starts_at", false, nullable(ts.clone())),
        ("TicketTypePatchRequest", "sale_ends_at", false, nullable(ts.clone())),
        ("ReservationRequest", "event_id", true, uuid.clone()),
        ("ReservationRequest", "ticket_type_id", false, nullable(uuid.clone())),
        ("ReservationRequest", "quantity", false, nullable(int(1, 100))),
        ("ReservationRequest", "near_seat", false, nullable(int(1, MAX_SEATS))),
        (
            "ReservationRequest",
            "seat_numbers",
            false,
            json!({"type": ["array", "null"], "minItems": 1, "maxItems": 100, "uniqueItems": true,
            "items": int(1, MAX_SEATS)}),
        ),
        ("QueueSettingsRequest", "admission_rate_per_minute", false, nullable(int(1, 1_000_000))),
        ("QueueSettingsRequest", "max_admitted", false, nullable(int(1, 1_000_000))),
        ("QueueSettingsRequest", "admission_window_seconds", false, nullable(int(30, 86_400))),
        ("QueueSettingsRequest", "opens_at", false, nullable(ts.clone())),
        ("ApplicationRequest", "ticket_type_id", true, uuid.clone()),
        ("OpenChatRequest", "name", false, opt_text(100)),
        (
            "ApplicationRequest",
            "answers",
            false,
            json!({"type": "object", "additionalProperties": {"oneOf": [
                {"type": "string", "maxLength": 1000, "pattern": OPTIONAL_TEXT}, {"type": "number"}]}}),
        ),
        (
            "ApplicationRequest",
            "guest_names",
            false,
            json!({"type": ["array", "null"], "minItems": 1, "maxItems": 100, "uniqueItems": true,
            "items": text(255)}),
        ),
        ("FestivalApplicationRequest", "event_id", true, uuid.clone()),
        ("FestivalApplicationRequest", "ticket_type_id", true, uuid.clone()),
        (
            "FestivalApplicationRequest",
            "answers",
            false,
            json!({"type": "object", "additionalProperties": {"oneOf": [
                {"type": "string", "maxLength": 1000, "pattern": OPTIONAL_TEXT}, {"type": "number"}]}}),
        ),
        (
            "FestivalApplicationRequest",
            "guest_names",
            false,
            json!({"type": ["array", "null"], "minItems": 1, "maxItems": 100, "uniqueItems": true,
            "items": text(255)}),
        ),
        (
            "FormRequest",
            "fields",
            true,
            json!({"type": "array", "minItems": 1, "maxItems": 50,
            "items": {"$ref": "#/components/schemas/FormFieldRequest"}}),
        ),
        (
            "BatchApproveRequest",
            "application_ids",
            true,
            json!({"type": "array", "minItems": 1, "maxItems": 500, "items": uuid}),
        ),
    ];
    // Creating and changing an event share their optional fields.
    for schema in ["EventCreateRequest", "EventPatchRequest"] {
        rules.extend([
            (schema, "description", false, opt_text(20_000)),
            (schema, "location", false, opt_text(255)),
            (schema, "organizer", false, opt_text(255)),
            (schema, "category", false, opt_text(100)),
            (schema, "end_time", false, nullable(ts.clone())),
            (schema, "currency", false, json!({"type": ["string", "null"], "pattern": "^[A-Z]{3}$"})),
            (
                schema,
                "url",
                false,
                json!({"type": ["string", "null"], "maxLength": 255, "pattern": URL_PATTERN}),
            ),
            (schema, "hold_seconds", false, int(30, 86_400)),
            (schema, "max_per_person", false, int(1, 100)),
            (schema, "max_attendees", false, int(1, 1_000_000)),
        ]);
    }
    rules
}

/// Component schemas that the code's types cannot describe precisely: a decimal in the range
/// `Money` accepts, and a form field (tessera_domain::application::FormField).
fn shapes(doc: &mut Value) {
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else { return };
    schemas.insert(
        "DecimalInput".into(),
        json!({
            "description": "A decimal ≥ 0 with at most two decimal places, given as a JSON string (\"1500.00\") or an integral number (1500).",
            "oneOf": [
                {"type": "string", "pattern": DECIMAL_PATTERN},
                {"type": "integer", "minimum": 0, "maximum": 99_999_999}
            ]
        }),
    );
    schemas.insert(
        "FormFieldRequest".into(),
        json!({
            "type": "object",
            "description": "One field of an application form. Only a choice has options (1 to 100); only a number has min and max.",
            "required": ["name", "type"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z0-9_]{1,50}$", "description": "The answer's key; unique in the form."},
                "label": {"type": "string", "maxLength": 200},
                "type": {"type": "string", "enum": ["text", "email", "number", "choice"]},
                "required": {"type": "boolean"},
                "options": {"type": "array", "maxItems": 100, "items": text_schema(200)},
                "min": {"type": "number"},
                "max": {"type": "number"},
                "max_length": {"type": "integer", "minimum": 1, "maximum": 1000}
            }
        }),
    );
}

fn text_schema(max: u64) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": TEXT})
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
