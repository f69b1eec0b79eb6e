//! The part of the demo a newcomer tries by hand, dated from today and made through the app's
//! own use cases (so every rule holds): a seated concert behind a waiting room, a two-day school
//! festival with student and teacher forms, an event happening now and one that is over, a door
//! staff account, applications, tickets, chat messages and an event image.
//!
//! Idempotent: a second run finds the festival organizer's account and adds nothing.

use tessera_app::App;
use tessera_app::Principal;
use tessera_app::applications::ApplyInput;
use tessera_app::auth::hash_password;
use tessera_app::chats::SendInput;
use tessera_app::checkout::BuyNow;
use tessera_app::domain::Role;
use tessera_app::domain::application::{Answer, FieldKind, FormField};
use tessera_app::domain::booking::{SeatMapInput, TicketTypeInput};
use tessera_app::domain::event::EventInput;
use tessera_app::domain::id::{ChatId, UserId};
use tessera_app::domain::records::User;
use tessera_app::queue::QueueSettingsInput;
use time::OffsetDateTime;

use crate::demo::DEMO_PASSWORD;

pub const ORGANIZER: &str = "festival@demo.tessera.test";
pub const DOOR: &str = "door@demo.tessera.test";
pub const STUDENT: &str = "student@demo.tessera.test";
pub const TEACHER: &str = "teacher@demo.tessera.test";
pub const FAN: &str = "fan@demo.tessera.test";

/// What a run made (all zero when the showcase was already there).
#[derive(Debug, Clone, Default)]
pub struct ShowcaseReport {
    pub events: u32,
    pub tickets: u32,
    pub applications: u32,
}

fn at(t: OffsetDateTime) -> Option<String> {
    t.format(&time::format_description::well_known::Rfc3339).ok()
}

/// Today at `hour`:00 UTC, `days` from now.
fn day(now: OffsetDateTime, days: i64, hour: u8) -> OffsetDateTime {
    let d = now + time::Duration::days(days);
    d.replace_time(time::Time::from_hms(hour, 0, 0).unwrap_or(time::Time::MIDNIGHT))
}

fn field(name: &str, label: &str, kind: FieldKind, required: bool) -> FormField {
    FormField {
        name: name.into(),
        label: label.into(),
        kind,
        required,
        options: Vec::new(),
        min: None,
        max: None,
        max_length: None,
    }
}

async fn person(app: &App, hash: &str, name: &str, email: &str, role: Role) -> anyhow::Result<Principal> {
    let now = app.now();
    let u = User {
        user_id: UserId::new(),
        name: name.into(),
        email: email.into(),
        password_hash: hash.into(),
        role,
        phone_number: None,
        created_at: now,
        updated_at: now,
        disabled_at: None,
    };
    app.load_users(std::slice::from_ref(&u)).await?;
    Ok(Principal { user_id: u.user_id, role })
}

fn event(name: &str, start: OffsetDateTime, hours: i64, category: &str, location: &str) -> EventInput {
    EventInput {
        name: Some(name.into()),
        description: Some(format!("{name} — demo data to try Tessera by hand.")),
        location: Some(location.into()),
        start_time: at(start),
        end_time: at(start + time::Duration::hours(hours)),
        category: Some(category.into()),
        currency: Some("JPY".into()),
        ..EventInput::default()
    }
}

fn general(name: &str, price: &str, quota: i64, per_person: i64) -> TicketTypeInput {
    TicketTypeInput {
        name: Some(name.into()),
        price: Some(price.into()),
        quota: Some(quota),
        per_person_limit: Some(per_person),
        ..TicketTypeInput::default()
    }
}

/// Adds the showcase unless it is there.
pub async fn seed(app: &App) -> anyhow::Result<ShowcaseReport> {
    let mut r = ShowcaseReport::default();
    if app.user_by_email(ORGANIZER).await?.is_some() {
        return Ok(r);
    }
    let e = |err: tessera_app::AppError| anyhow::anyhow!("{err}");
    let hash = hash_password(DEMO_PASSWORD.into()).await.map_err(e)?;
    let org = person(app, &hash, "Sakura Festival Office", ORGANIZER, Role::Organizer).await?;
    let door = person(app, &hash, "Door Staff", DOOR, Role::Staff).await?;
    let student = person(app, &hash, "Aiko Sato", STUDENT, Role::Attendee).await?;
    let teacher = person(app, &hash, "Kenji Tanaka", TEACHER, Role::Attendee).await?;
    let fan = person(app, &hash, "Mina Park", FAN, Role::Attendee).await?;
    let now = app.now();

    // A two-day school festival: student (two tickets, named guests) and teacher forms.
    let start = day(now, 10, 1);
    let fest = app
        .create_event(
            &org,
            &event("Sakura School Festival", start, 48, "education", "Sakura High School"),
            &SeatMapInput::default(),
        )
        .await
        .map_err(e)?;
    let student_type = TicketTypeInput { requires_approval: Some(true), ..general("student", "0", 600, 2) };
    let teacher_type = TicketTypeInput { requires_approval: Some(true), ..general("teacher", "0", 80, 1) };
    let st = app.create_ticket_type(&org, fest.event_id, &student_type).await.map_err(e)?.row;
    let tt = app.create_ticket_type(&org, fest.event_id, &teacher_type).await.map_err(e)?.row;
    let mut grade = field("grade", "Grade / 学年", FieldKind::Number, true);
    (grade.min, grade.max) = (Some(1.0), Some(3.0));
    let mut class = field("class", "Class / クラス", FieldKind::Choice, true);
    class.options = vec!["A".into(), "B".into(), "C".into()];
    let student_form =
        vec![field("student_name", "Student name / 生徒氏名", FieldKind::Text, true), grade, class];
    app.set_application_form(&org, fest.event_id, st.ticket_type_id, student_form).await.map_err(e)?;
    let teacher_form = vec![
        field("teacher_name", "Teacher name / 教員氏名", FieldKind::Text, true),
        field("school_email", "School e-mail / 学校メール", FieldKind::Email, true),
        field("subject", "Subject / 担当教科", FieldKind::Text, false),
    ];
    app.set_application_form(&org, fest.event_id, tt.ticket_type_id, teacher_form).await.map_err(e)?;
    // The student waits for approval; the teacher is approved (a ticket, e-mailed).
    let answers =
        |pairs: &[(&str, Answer)]| pairs.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect();
    let apply = ApplyInput {
        ticket_type_id: Some(st.ticket_type_id),
        answers: answers(&[
            ("student_name", Answer::Text("Aiko Sato".into())),
            ("grade", Answer::Number(2.0)),
            ("class", Answer::Text("B".into())),
        ]),
        guest_names: Some(vec!["佐藤 花子".into(), "佐藤 太郎".into()]),
    };
    app.apply(&student, fest.event_id, apply).await.map_err(e)?;
    let apply = ApplyInput {
        ticket_type_id: Some(tt.ticket_type_id),
        answers: answers(&[
            ("teacher_name", Answer::Text("Kenji Tanaka".into())),
            ("school_email", Answer::Text("tanaka@sakura.example.jp".into())),
        ]),
        guest_names: Some(vec!["田中 健二".into()]),
    };
    let a = app.apply(&teacher, fest.event_id, apply).await.map_err(e)?;
    app.approve_application(&org, a.application_id).await.map_err(e)?;
    r.applications += 2;
    r.tickets += 1;

    // A seated concert on sale behind its waiting room.
    let concert_in = EventInput {
        seating: Some("seated".into()),
        price: Some("5000".into()),
        max_per_person: Some(4),
        hold_seconds: Some(600),
        ..event("Neon Strings — Live", day(now, 21, 10), 3, "music", "Tokyo Dome City Hall")
    };
    let concert = app
        .create_event(&org, &concert_in, &SeatMapInput { seat_count: Some(120), sections: None })
        .await
        .map_err(e)?;
    let queue = QueueSettingsInput {
        enabled: Some(true),
        admission_rate_per_minute: Some(120),
        max_admitted: Some(50),
        admission_window_seconds: Some(600),
        opens_at: None,
    };
    app.set_queue(&org, concert.event_id, queue).await.map_err(e)?;

    // Something on tonight (buy and walk in), something happening now, something over.
    let tonight = app
        .create_event(
            &org,
            &event("Harbor Jazz Night", day(now, 1, 10), 4, "music", "Yokohama Red Brick Hall"),
            &SeatMapInput::default(),
        )
        .await
        .map_err(e)?;
    let ga = app
        .create_ticket_type(&org, tonight.event_id, &general("General admission", "3000", 200, 4))
        .await
        .map_err(e)?
        .row;
    app.charge(&fan, Some("20000")).await.map_err(e)?;
    let buy = BuyNow {
        ticket_type_id: Some(ga.ticket_type_id),
        quantity: Some(2),
        idempotency_key: None,
        queue_token: None,
    };
    app.buy_now(&fan, tonight.event_id, &buy).await.map_err(e)?;
    r.tickets += 2;
    let live = now - time::Duration::hours(1);
    app.create_event(
        &org,
        &event("Open Campus Day", live, 6, "education", "Sakura High School"),
        &SeatMapInput::default(),
    )
    .await
    .map_err(e)?;
    app.create_event(
        &org,
        &event("Autumn Art Fair", day(now, -30, 2), 8, "art", "Osaka Gallery Park"),
        &SeatMapInput::default(),
    )
    .await
    .map_err(e)?;
    r.events += 5;

    for id in [fest.event_id, concert.event_id, tonight.event_id] {
        app.add_event_staff(&org, id, door.user_id).await.map_err(e)?;
    }
    // The event chats have a first message each, and the festival a poster.
    for (id, text) in [
        (fest.event_id, "Welcome! Gates open at 9:00. 受付は9時からです。"),
        (tonight.event_id, "Doors at 18:30 — see you tonight!"),
    ] {
        let msg = SendInput { body: Some(text.into()), client_id: None, file_id: None };
        app.send_message(&org, ChatId::of_event(id), msg).await.map_err(e)?;
    }
    let reply = SendInput { body: Some("Is there a cloakroom?".into()), client_id: None, file_id: None };
    app.send_message(&fan, ChatId::of_event(tonight.event_id), reply).await.map_err(e)?;
    let poster = tessera_app::qr::png("https://example.com/sakura-festival", 8).map_err(e)?;
    let mut up = app.begin_upload(&org, None, Some(fest.event_id)).await.map_err(e)?;
    up.write(&poster).await.map_err(e)?;
    up.finish(Some("sakura-festival.png")).await.map_err(e)?;
    Ok(r)
}
