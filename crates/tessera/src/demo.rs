//! `tessera seed --demo`: a realistic, idempotent demo catalogue — 1,000 attendees, 20
//! organizers, one admin, 240 events over 10 categories and about 6,000 purchases, from half a
//! year ago to a year ahead of the day it runs — and the showcase to try by hand (`showcase`).
//!
//! The catalogue comes from a fixed-seed generator; a database that has the demo admin already
//! gets nothing new.

use std::fmt;
use tessera_domain::Role;
use tessera_domain::booking::Seating;
use tessera_domain::event::EventStatus;
use tessera_domain::id::UserId;
use tessera_domain::records::PurchaseStatus;
use tessera_domain::records::{Event, Purchase, User};

use time::OffsetDateTime;
use uuid::Uuid;

use tessera_app::App;
use tessera_app::auth::hash_password;

pub const DEMO_PASSWORD: &str = "tessera-demo";
pub const DEMO_ADMIN: &str = "admin@demo.tessera.test";

const ATTENDEES: usize = 1000;
const ORGANIZERS: usize = 20;
const EVENTS: usize = 240;
const PURCHASES: usize = 6000;
const CATEGORIES: [&str; 10] =
    ["music", "sports", "tech", "art", "food", "theatre", "comedy", "film", "business", "education"];
const CITIES: [&str; 8] = ["Tokyo", "Osaka", "Kyoto", "Fukuoka", "Sapporo", "Seoul", "Busan", "Singapore"];
const VENUES: [&str; 6] = ["Hall", "Arena", "Dome", "Center", "Theater", "Park"];
const ADJECTIVES: [&str; 12] = [
    "Summer",
    "Winter",
    "Grand",
    "Late-Night",
    "Open-Air",
    "Spring",
    "Autumn",
    "Midnight",
    "Sunday",
    "City",
    "Harbor",
    "Neon",
];
const NOUNS: [(&str, [&str; 3]); 10] = [
    ("music", ["Jazz Night", "Rock Festival", "Piano Recital"]),
    ("sports", ["Marathon", "Derby", "Cup Final"]),
    ("tech", ["Rust Meetup", "Cloud Summit", "Hackathon"]),
    ("art", ["Gallery Walk", "Print Fair", "Sculpture Show"]),
    ("food", ["Ramen Fair", "Wine Tasting", "Street Food Market"]),
    ("theatre", ["Noh Evening", "Musical", "Improv Night"]),
    ("comedy", ["Stand-up Show", "Manzai Live", "Sketch Night"]),
    ("film", ["Film Festival", "Anime Screening", "Documentary Night"]),
    ("business", ["Startup Pitch", "Founders Forum", "Sales Summit"]),
    ("education", ["Science Lecture", "Coding Workshop", "Open Campus"]),
];

/// What a run added.
#[derive(Debug, Clone, Default)]
pub struct DemoReport {
    pub users_added: u64,
    pub events_added: u64,
    pub purchases_added: u64,
    pub showcase: crate::showcase::ShowcaseReport,
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "demo data: {} users, {} events, {} purchases added, and {} showcase events (admin {DEMO_ADMIN}, \
             every demo password {DEMO_PASSWORD:?}; see the README for the showcase accounts)",
            self.users_added, self.events_added, self.purchases_added, self.showcase.events
        )
    }
}

/// splitmix64: tiny, fast and the same on every platform and crate version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n as u64)).unwrap_or(0)
    }

    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + i64::try_from(self.next() % u64::try_from(hi - lo + 1).unwrap_or(1)).unwrap_or(0)
    }

    /// A UUIDv7 at `t` with deterministic "random" bits.
    fn uuid_at<I: From<Uuid>>(&mut self, t: OffsetDateTime) -> I {
        let mut bytes = [0u8; 10];
        bytes[..8].copy_from_slice(&self.next().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next().to_le_bytes()[..2]);
        let ms = u64::try_from(t.unix_timestamp()).unwrap_or(0) * 1000;
        uuid::Builder::from_unix_timestamp_millis(ms, &bytes).into_uuid().into()
    }
}

/// Inserts the demo data; running it again adds nothing.
pub async fn seed(app: &App) -> anyhow::Result<DemoReport> {
    if app.user_by_email(DEMO_ADMIN).await?.is_some() {
        return Ok(DemoReport::default());
    }
    let mut rng = Rng(0x7E55_E7A0_2026);
    let today = app.now().replace_time(time::macros::time!(10:00));
    let base = today - time::Duration::days(180);
    // One hash for every demo account: argon2 is slow on purpose and this is demo data.
    let hash = hash_password(DEMO_PASSWORD.into()).await.map_err(|e| anyhow::anyhow!("{e}"))?;

    let mut users = Vec::with_capacity(ATTENDEES + ORGANIZERS + 1);
    let mut push_user = |rng: &mut Rng, name: String, email: String, role: Role, i: i64| {
        let t = base - time::Duration::days(200) + time::Duration::minutes(i * 7);
        users.push(User {
            user_id: rng.uuid_at(t),
            name,
            email,
            password_hash: hash.clone(),
            role,
            phone_number: (i % 3 == 0).then(|| format!("090-{:04}-{:04}", i % 10_000, (i * 37) % 10_000)),
            created_at: t,
            updated_at: t,
            disabled_at: None,
        });
    };
    push_user(&mut rng, "Demo Admin".into(), DEMO_ADMIN.into(), Role::Admin, 0);
    for i in 0..ORGANIZERS {
        let n = i64::try_from(i).unwrap_or(0) + 1;
        push_user(
            &mut rng,
            format!("Organizer {:02}", i + 1),
            format!("organizer{:02}@demo.tessera.test", i + 1),
            Role::Organizer,
            n,
        );
    }
    for i in 0..ATTENDEES {
        let n = i64::try_from(i).unwrap_or(0) + 100;
        push_user(
            &mut rng,
            format!("Attendee {:04}", i + 1),
            format!("user{:04}@demo.tessera.test", i + 1),
            Role::Attendee,
            n,
        );
    }
    let organizers: Vec<(UserId, String)> =
        users[1..=ORGANIZERS].iter().map(|u| (u.user_id, u.name.clone())).collect();
    let attendees: Vec<UserId> = users[ORGANIZERS + 1..].iter().map(|u| u.user_id).collect();

    let mut events = Vec::with_capacity(EVENTS);
    for i in 0..EVENTS {
        let (category, nouns) = NOUNS[i % CATEGORIES.len()];
        let start =
            base + time::Duration::days(rng.between(0, 540)) + time::Duration::hours(rng.between(0, 10));
        let created = start - time::Duration::days(rng.between(30, 120));
        let (org_id, org_name) = organizers[rng.below(organizers.len())].clone();
        let city = CITIES[rng.below(CITIES.len())];
        let name = format!("{} {} {}", ADJECTIVES[rng.below(ADJECTIVES.len())], nouns[rng.below(3)], city);
        let price = if rng.below(100) < 15 { None } else { Some(rng.between(2, 40) * 50_000) };
        events.push(Event {
            event_id: rng.uuid_at(created),
            description: Some(format!("{name}: a {category} event in {city}. Demo data.")),
            location: Some(format!("{city} {}", VENUES[rng.below(VENUES.len())])),
            start_time: start,
            end_time: Some(start + time::Duration::hours(rng.between(1, 6))),
            organizer: org_name,
            organizer_id: Some(org_id),
            category: Some(category.into()),
            price,
            currency: "JPY".into(),
            max_attendees: Some(i32::try_from(rng.between(1, 40) * 50).unwrap_or(100)),
            url: Some(format!("https://events.example.com/demo/{i}")),
            status: if i % 40 == 39 { EventStatus::Cancelled } else { EventStatus::Published },
            seating: Seating::General,
            hold_secs: 300,
            max_per_person: 10,
            created_at: created,
            updated_at: created,
            name,
        });
    }

    let mut sold = vec![0i64; events.len()];
    let mut purchases = Vec::with_capacity(PURCHASES);
    while purchases.len() < PURCHASES {
        let e = rng.below(events.len());
        let qty = rng.between(1, 4);
        let ev = &events[e];
        if sold[e] + qty > i64::from(ev.max_attendees.unwrap_or(i32::MAX)) {
            continue;
        }
        sold[e] += qty;
        let t = ev.start_time - time::Duration::hours(rng.between(1, 24 * 60));
        purchases.push(Purchase {
            purchase_id: rng.uuid_at(t),
            user_id: attendees[rng.below(attendees.len())],
            event_id: ev.event_id,
            purchase_time: t,
            ticket_quantity: i32::try_from(qty).unwrap_or(1),
            total_price: ev.price.unwrap_or(0) * qty,
            status: PurchaseStatus::Completed,
        });
    }

    let mut r = DemoReport::default();
    for chunk in users.chunks(500) {
        r.users_added += app.load_users(chunk).await?;
    }
    for chunk in events.chunks(500) {
        r.events_added += app.load_events(chunk).await?;
    }
    for chunk in purchases.chunks(1000) {
        r.purchases_added += app.load_purchases(chunk).await?;
    }
    r.showcase = crate::showcase::seed(app).await?;
    Ok(r)
}
