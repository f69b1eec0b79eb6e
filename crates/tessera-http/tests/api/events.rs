//! `/events` and `/categories`.

use http::StatusCode;
use serde_json::json;
use tessera_store::Backend;
use uuid::Uuid;

use crate::both;
use crate::support::{Res, TestApp, User, event_body};

both!(
    create_and_get_event,
    create_event_rejects_bad_input,
    create_event_authorization,
    get_event_not_found,
    events_are_listed_by_start_time_without_the_cancelled,
    events_filter_by_category_place_text_and_organizer,
    events_filter_by_dates_and_prices,
    events_sort_by_price_start_or_creation,
    pages_of_one_visit_every_event_once,
    list_events_rejects_bad_query,
    patch_event_rules,
    delete_event_cancels,
    categories_count_published,
);

async fn create_and_get_event(b: Backend) {
    let t = TestApp::new(b).await;
    let User { id: org, token: org_t } = t.user("organizer").await;
    let r = t.post("/events", Some(&org_t), event_body("Jazz Night")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["event_id"].as_str().unwrap();
    assert_eq!(r.headers["location"], format!("/events/{id}"));
    assert_eq!(r.body["price"], "3500.00");
    assert_eq!(r.body["start_time"], "2026-05-01T09:00:00Z");
    assert_eq!(r.body["organizer_id"], org.to_string());
    assert_eq!(r.body["organizer"], "A organizer");
    assert_eq!(r.body["status"], "published");
    let g = t.get(&format!("/events/{id}"), None).await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.body, r.body);
    // A number is accepted for the price; a free event has a null price.
    let r = t
        .post(
            "/events",
            Some(&org_t),
            json!({"name": "N", "start_time": "2026-06-01T00:00:00Z", "price": 12.5}),
        )
        .await;
    assert_eq!(r.body["price"], "12.50");
    let r =
        t.post("/events", Some(&org_t), json!({"name": "Free", "start_time": "2026-06-01T00:00:00Z"})).await;
    assert!(r.body["price"].is_null());
}

async fn create_event_rejects_bad_input(b: Backend) {
    let t = TestApp::new(b).await;
    let org_t = t.user("organizer").await.token;
    let cases = [
        (json!({"start_time": "2026-05-01T18:00:00Z"}), "name"),
        (json!({"name": "X"}), "start_time"),
        (json!({"name": "X", "start_time": "tomorrow"}), "start_time"),
        (
            json!({"name": "X", "start_time": "2026-05-01T18:00:00Z", "end_time": "2026-05-01T17:00:00Z"}),
            "end_time",
        ),
        (json!({"name": "X", "start_time": "2026-05-01T18:00:00Z", "price": "-1"}), "price"),
        (json!({"name": "X", "start_time": "2026-05-01T18:00:00Z", "price": -1}), "price"),
        (json!({"name": "X", "start_time": "2026-05-01T18:00:00Z", "price": "1.234"}), "price"),
        (json!({"name": "X", "start_time": "2026-05-01T18:00:00Z", "url": "not a url"}), "url"),
        (json!({"name": "X", "start_time": "2026-05-01T18:00:00Z", "max_attendees": 0}), "max_attendees"),
        (json!({"name": "X", "start_time": "2026-05-01T18:00:00Z", "max_attendees": "ten"}), "max_attendees"),
        (json!({"name": "X".repeat(256), "start_time": "2026-05-01T18:00:00Z"}), "name"),
        (json!({"name": "X", "start_time": "2026-05-01T18:00:00Z", "currency": "yen"}), "currency"),
    ];
    for (body, field) in cases {
        let r = t.post("/events", Some(&org_t), body.clone()).await;
        r.assert_problem(400, Some(field));
        assert_eq!(r.body["code"], "validation_failed", "{body}");
    }
    let req = http::Request::post("/events")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {org_t}"))
        .body(axum::body::Body::from("[1,2"))
        .unwrap();
    t.send(req).await.assert_problem(400, Some("body"));
    assert_eq!(t.db.store.count_events().await.unwrap(), 0, "no partial write");
}

async fn create_event_authorization(b: Backend) {
    let t = TestApp::new(b).await;
    let att_t = t.user("attendee").await.token;
    let staff_t = t.user("staff").await.token;
    let admin_t = t.user("admin").await.token;
    t.post("/events", None, event_body("X")).await.assert_problem(401, None);
    t.post("/events", Some(&att_t), event_body("X")).await.assert_problem(403, None);
    t.post("/events", Some(&staff_t), event_body("X")).await.assert_problem(403, None);
    assert_eq!(t.post("/events", Some(&admin_t), event_body("X")).await.status, StatusCode::CREATED);
}

async fn get_event_not_found(b: Backend) {
    let t = TestApp::new(b).await;
    t.get(&format!("/events/{}", Uuid::now_v7()), None).await.assert_problem(404, None);
    t.get("/events/12345", None).await.assert_problem(404, None);
}

/// Four events of two organizers (the first organizer's id is kept): Jazz Night and Rock Fest
/// (music, the first organizer's), Rust Meetup (tech, free) and Old Show (music, cancelled).
struct Catalogue {
    t: TestApp,
    organizer: Uuid,
}

async fn catalogue(b: Backend) -> Catalogue {
    let t = TestApp::new(b).await;
    let User { id: org, token: org_t } = t.user("organizer").await;
    let org2_t = t.user("organizer").await.token;
    let mk = |name: &str, start: &str, price: Option<&str>, cat: &str, loc: &str| {
        let mut v = json!({"name": name, "start_time": start, "category": cat, "location": loc,
                           "description": format!("About {name}")});
        if let Some(p) = price {
            v["price"] = json!(p);
        }
        v
    };
    t.event(&org_t, mk("Jazz Night", "2026-05-01T18:00:00Z", Some("3500"), "music", "Tokyo Hall")).await;
    t.event(&org_t, mk("Rock Fest", "2026-06-01T18:00:00Z", Some("8000"), "music", "Osaka Dome")).await;
    t.event(&org2_t, mk("Rust Meetup", "2026-04-01T18:00:00Z", None, "tech", "Tokyo Center")).await;
    let cancelled =
        t.event(&org2_t, mk("Old Show", "2026-03-01T18:00:00Z", Some("100"), "music", "Kyoto")).await;
    t.call("DELETE", &format!("/events/{cancelled}"), Some(&org2_t), None).await;
    Catalogue { t, organizer: org }
}

impl Catalogue {
    /// The names `GET /events?{query}` lists, in its order.
    async fn names(&self, query: &str) -> Vec<String> {
        names(&self.t.get(&format!("/events?{query}"), None).await)
    }
}

fn names(r: &Res) -> Vec<String> {
    r.body["items"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()).collect()
}

async fn events_are_listed_by_start_time_without_the_cancelled(b: Backend) {
    let c = catalogue(b).await;
    assert_eq!(
        c.names("").await,
        ["Rust Meetup", "Jazz Night", "Rock Fest"],
        "start_time order, cancelled hidden"
    );
    assert_eq!(c.names("status=all").await.len(), 4);
    assert_eq!(c.names("status=cancelled").await, ["Old Show"]);
}

async fn events_filter_by_category_place_text_and_organizer(b: Backend) {
    let c = catalogue(b).await;
    assert_eq!(c.names("category=music").await, ["Jazz Night", "Rock Fest"]);
    assert_eq!(c.names("location=tokyo").await, ["Rust Meetup", "Jazz Night"]);
    assert_eq!(c.names("q=JAZZ").await, ["Jazz Night"]);
    assert_eq!(c.names("q=about%20rust").await, ["Rust Meetup"]);
    assert_eq!(c.names("q=100%25").await.len(), 0, "LIKE wildcards are literal");
    assert_eq!(c.names(&format!("organizer_id={}", c.organizer)).await, ["Jazz Night", "Rock Fest"]);
    assert_eq!(c.names("organizer=A%20ORGANIZER").await.len(), 3);
}

async fn events_filter_by_dates_and_prices(b: Backend) {
    let c = catalogue(b).await;
    assert_eq!(
        c.names("start_from=2026-04-15T00:00:00Z&start_to=2026-05-31T00:00:00Z").await,
        ["Jazz Night"]
    );
    assert_eq!(c.names("price_min=1000&price_max=5000").await, ["Jazz Night"]);
    assert_eq!(c.names("price_max=0").await, ["Rust Meetup"]);
}

async fn events_sort_by_price_start_or_creation(b: Backend) {
    let c = catalogue(b).await;
    assert_eq!(c.names("sort=-price").await, ["Rock Fest", "Jazz Night", "Rust Meetup"]);
    assert_eq!(c.names("sort=-start_time").await, ["Rock Fest", "Jazz Night", "Rust Meetup"]);
    assert_eq!(c.names("sort=created_at").await, ["Jazz Night", "Rock Fest", "Rust Meetup"]);
}

/// Pages of one, in every sort order, visit every event exactly once.
async fn pages_of_one_visit_every_event_once(b: Backend) {
    let c = catalogue(b).await;
    for sort in ["start_time", "-start_time", "price", "-price", "created_at"] {
        let mut seen = Vec::new();
        let mut url = format!("/events?limit=1&sort={sort}");
        loop {
            let r = c.t.get(&url, None).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            seen.extend(names(&r));
            match r.body["next_cursor"].as_str() {
                Some(cursor) => url = format!("/events?limit=1&sort={sort}&cursor={cursor}"),
                None => break,
            }
        }
        seen.sort();
        assert_eq!(seen, ["Jazz Night", "Rock Fest", "Rust Meetup"], "sort {sort}");
    }
}

async fn list_events_rejects_bad_query(b: Backend) {
    let t = TestApp::new(b).await;
    let cases = [
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=x", "limit"),
        ("sort=name", "sort"),
        ("status=deleted", "status"),
        ("start_from=yesterday", "start_from"),
        ("start_from=2026-05-01T00:00:00Z&start_to=2026-04-01T00:00:00Z", "start_to"),
        ("price_min=abc", "price_min"),
        ("price_min=10&price_max=5", "price_max"),
        ("organizer_id=nope", "organizer_id"),
        ("cursor=%%%", "cursor"),
    ];
    for (q, field) in cases {
        t.get(&format!("/events?{q}"), None).await.assert_problem(400, Some(field));
    }
    // A cursor from another sort order is refused rather than misread.
    let org_t = t.user("organizer").await.token;
    t.event(&org_t, event_body("A")).await;
    t.event(&org_t, event_body("B")).await;
    let r = t.get("/events?limit=1&sort=price", None).await;
    let c = r.body["next_cursor"].as_str().unwrap();
    t.get(&format!("/events?limit=1&sort=start_time&cursor={c}"), None)
        .await
        .assert_problem(400, Some("cursor"));
}

async fn patch_event_rules(b: Backend) {
    let t = TestApp::new(b).await;
    let org_t = t.user("organizer").await.token;
    let other_t = t.user("organizer").await.token;
    let admin_t = t.user("admin").await.token;
    let id = t.event(&org_t, event_body("Jazz")).await;
    let path = format!("/events/{id}");
    let r = t
        .call("PATCH", &path, Some(&org_t), Some(json!({"name": "Jazz Night", "price": null, "url": null})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["name"], "Jazz Night");
    assert!(r.body["price"].is_null() && r.body["url"].is_null());
    assert_eq!(r.body["location"], "Tokyo Hall", "untouched fields stay");
    let r = t.call("PATCH", &path, Some(&admin_t), Some(json!({"max_attendees": 500}))).await;
    assert_eq!(r.body["max_attendees"], 500);
    // The result is validated as a whole: an end before the (unchanged) start is refused.
    t.call("PATCH", &path, Some(&org_t), Some(json!({"end_time": "2020-01-01T00:00:00Z"})))
        .await
        .assert_problem(400, Some("end_time"));
    t.call("PATCH", &path, Some(&org_t), Some(json!({"name": ""}))).await.assert_problem(400, Some("name"));
    t.call("PATCH", &path, Some(&org_t), Some(json!({"price": "abc"})))
        .await
        .assert_problem(400, Some("price"));
    t.call("PATCH", &path, Some(&other_t), Some(json!({"name": "Mine"}))).await.assert_problem(403, None);
    t.call("PATCH", &path, None, Some(json!({"name": "Mine"}))).await.assert_problem(401, None);
    t.call("PATCH", &format!("/events/{}", Uuid::now_v7()), Some(&org_t), Some(json!({"name": "X"})))
        .await
        .assert_problem(404, None);
    assert_eq!(t.get(&path, None).await.body["name"], "Jazz Night");
}

async fn delete_event_cancels(b: Backend) {
    let t = TestApp::new(b).await;
    let org_t = t.user("organizer").await.token;
    let other_t = t.user("organizer").await.token;
    let att_t = t.user("attendee").await.token;
    let id = t.event(&org_t, event_body("Jazz")).await;
    let path = format!("/events/{id}");
    t.call("DELETE", &path, None, None).await.assert_problem(401, None);
    t.call("DELETE", &path, Some(&att_t), None).await.assert_problem(403, None);
    t.call("DELETE", &path, Some(&other_t), None).await.assert_problem(403, None);
    let r = t.call("DELETE", &path, Some(&org_t), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(t.get(&path, None).await.body["status"], "cancelled", "still readable");
    assert_eq!(t.call("DELETE", &path, Some(&org_t), None).await.status, StatusCode::OK, "idempotent");
    t.call("DELETE", &format!("/events/{}", Uuid::now_v7()), Some(&org_t), None)
        .await
        .assert_problem(404, None);
}

async fn categories_count_published(b: Backend) {
    let t = TestApp::new(b).await;
    let org_t = t.user("organizer").await.token;
    t.event(&org_t, event_body("A")).await;
    t.event(&org_t, event_body("B")).await;
    t.event(&org_t, json!({"name": "C", "start_time": "2026-05-01T18:00:00Z", "category": "tech"})).await;
    let gone =
        t.event(&org_t, json!({"name": "D", "start_time": "2026-05-01T18:00:00Z", "category": "tech"})).await;
    t.call("DELETE", &format!("/events/{gone}"), Some(&org_t), None).await;
    let r = t.get("/categories", None).await;
    assert_eq!(
        r.body["items"],
        json!([{"category": "music", "event_count": 2}, {"category": "tech", "event_count": 1}])
    );
}
