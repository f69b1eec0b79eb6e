//! `/events` and `/categories`.

use http::StatusCode;
use serde_json::json;
use tessera_store::Backend;
use uuid::Uuid;

use crate::both;
use crate::support::{TestApp, event_body};

both!(
    create_and_get_event,
    create_event_rejects_bad_input,
    create_event_authorization,
    get_event_not_found,
    list_events_filters_sorts_and_pages,
    list_events_rejects_bad_query,
    patch_event_rules,
    delete_event_cancels,
    categories_count_published,
);

async fn create_and_get_event(b: Backend) {
    let t = TestApp::new(b).await;
    let (org, org_t) = t.user("organizer").await;
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
    let (_, org_t) = t.user("organizer").await;
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
    assert_eq!(t.app.store.count_events().await.unwrap(), 0, "no partial write");
}

async fn create_event_authorization(b: Backend) {
    let t = TestApp::new(b).await;
    let (_, att_t) = t.user("attendee").await;
    let (_, staff_t) = t.user("staff").await;
    let (_, admin_t) = t.user("admin").await;
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

async fn list_events_filters_sorts_and_pages(b: Backend) {
    let t = TestApp::new(b).await;
    let (org, org_t) = t.user("organizer").await;
    let (_, org2_t) = t.user("organizer").await;
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

    let names = |r: &crate::support::Res| -> Vec<String> {
        r.body["items"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()).collect()
    };
    let all = t.get("/events", None).await;
    assert_eq!(names(&all), ["Rust Meetup", "Jazz Night", "Rock Fest"], "start_time order, cancelled hidden");
    assert_eq!(names(&t.get("/events?status=all", None).await).len(), 4);
    assert_eq!(names(&t.get("/events?status=cancelled", None).await), ["Old Show"]);
    assert_eq!(names(&t.get("/events?category=music", None).await), ["Jazz Night", "Rock Fest"]);
    assert_eq!(names(&t.get("/events?location=tokyo", None).await), ["Rust Meetup", "Jazz Night"]);
    assert_eq!(names(&t.get("/events?q=JAZZ", None).await), ["Jazz Night"]);
    assert_eq!(names(&t.get("/events?q=about%20rust", None).await), ["Rust Meetup"]);
    assert_eq!(
        names(&t.get(&format!("/events?organizer_id={org}"), None).await),
        ["Jazz Night", "Rock Fest"]
    );
    assert_eq!(names(&t.get("/events?organizer=A%20ORGANIZER", None).await).len(), 3);
    assert_eq!(
        names(&t.get("/events?start_from=2026-04-15T00:00:00Z&start_to=2026-05-31T00:00:00Z", None).await),
        ["Jazz Night"]
    );
    assert_eq!(names(&t.get("/events?price_min=1000&price_max=5000", None).await), ["Jazz Night"]);
    assert_eq!(names(&t.get("/events?price_max=0", None).await), ["Rust Meetup"]);
    assert_eq!(names(&t.get("/events?sort=-price", None).await), ["Rock Fest", "Jazz Night", "Rust Meetup"]);
    assert_eq!(
        names(&t.get("/events?sort=-start_time", None).await),
        ["Rock Fest", "Jazz Night", "Rust Meetup"]
    );
    assert_eq!(
        names(&t.get("/events?sort=created_at", None).await),
        ["Jazz Night", "Rock Fest", "Rust Meetup"]
    );
    assert_eq!(names(&t.get("/events?q=100%25", None).await).len(), 0, "LIKE wildcards are literal");

    // Pages of one, in every sort order, visit every event exactly once.
    for sort in ["start_time", "-start_time", "price", "-price", "created_at"] {
        let mut seen = Vec::new();
        let mut url = format!("/events?limit=1&sort={sort}");
        loop {
            let r = t.get(&url, None).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            seen.extend(names(&r));
            match r.body["next_cursor"].as_str() {
                Some(c) => url = format!("/events?limit=1&sort={sort}&cursor={c}"),
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
    let (_, org_t) = t.user("organizer").await;
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
    let (_, org_t) = t.user("organizer").await;
    let (_, other_t) = t.user("organizer").await;
    let (_, admin_t) = t.user("admin").await;
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
    let (_, org_t) = t.user("organizer").await;
    let (_, other_t) = t.user("organizer").await;
    let (_, att_t) = t.user("attendee").await;
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
    let (_, org_t) = t.user("organizer").await;
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
