//! `tessera import`: loads seed-000 CSV files (users, events, purchases). Every row is validated
//! with the same rules as the API; bad rows are reported with their line number and skipped, good
//! rows are kept, and a summary is printed at the end. Rows whose id exists are skipped, so an
//! import can be re-run.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use tessera_domain::event::EventStatus;
use tessera_domain::id::{EventId, PurchaseId, UserId};
use tessera_domain::records::PurchaseStatus;
use tessera_domain::records::{Event, Purchase, User};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use uuid::Uuid;

use tessera_app::App;
use tessera_app::catalogue::fields_to_row;
use tessera_domain::event::{EventFields, EventInput};
use tessera_domain::user::{parse_email, parse_phone};
use tessera_domain::validation::required_text;
use tessera_domain::{Money, Role, parse_ts};

/// What happened to one file.
#[derive(Debug, Default, Clone)]
pub struct FileReport {
    pub name: String,
    pub rows: usize,
    pub imported: u64,
    pub skipped_existing: u64,
    /// (line, message)
    pub rejected: Vec<(u64, String)>,
}

#[derive(Debug, Default, Clone)]
pub struct ImportReport {
    pub files: Vec<FileReport>,
}

impl ImportReport {
    pub fn rejected(&self) -> usize {
        self.files.iter().map(|f| f.rejected.len()).sum()
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for file in &self.files {
            for (line, msg) in &file.rejected {
                writeln!(f, "{}:{line}: {msg}", file.name)?;
            }
        }
        for file in &self.files {
            writeln!(
                f,
                "{}: {} rows, {} imported, {} already present, {} rejected",
                file.name,
                file.rows,
                file.imported,
                file.skipped_existing,
                file.rejected.len()
            )?;
        }
        Ok(())
    }
}

/// A CSV file as header-indexed records with their line numbers.
struct Csv {
    headers: HashMap<String, usize>,
    rows: Vec<(u64, csv::StringRecord)>,
}

impl Csv {
    fn read(path: &Path) -> anyhow::Result<Csv> {
        let mut r = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(true)
            .from_path(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let headers = r
            .headers()
            .with_context(|| format!("reading the header of {}", path.display()))?
            .iter()
            .enumerate()
            .map(|(i, h)| (h.trim_start_matches('\u{feff}').to_ascii_lowercase(), i))
            .collect();
        let mut rows = Vec::new();
        for rec in r.records() {
            let rec = rec.with_context(|| format!("reading {}", path.display()))?;
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            rows.push((line, rec));
        }
        Ok(Csv { headers, rows })
    }

    fn get<'a>(&self, rec: &'a csv::StringRecord, col: &str) -> Option<&'a str> {
        self.headers.get(col).and_then(|&i| rec.get(i)).filter(|v| !v.is_empty())
    }
}

fn bar(len: usize, what: &str) -> ProgressBar {
    // indicatif draws to stderr and hides itself when that is not a terminal.
    let pb = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{msg:10} [{bar:40}] {pos}/{len} ({per_sec})") {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_string());
    pb
}

fn opt_uuid<I: From<Uuid>>(v: Option<&str>, field: &str) -> Result<Option<I>, String> {
    v.map(|s| Uuid::parse_str(s).map(I::from).map_err(|_| format!("{field}: must be a UUID"))).transpose()
}

/// Runs the import: users, then events, then purchases (which refer to both).
pub async fn run(
    app: &App,
    users: Option<&Path>,
    events: Option<&Path>,
    purchases: Option<&Path>,
) -> anyhow::Result<ImportReport> {
    let mut report = ImportReport::default();
    if let Some(p) = users {
        report.files.push(import_users(app, p).await?);
    }
    if let Some(p) = events {
        report.files.push(import_events(app, p).await?);
    }
    if let Some(p) = purchases {
        report.files.push(import_purchases(app, p).await?);
    }
    Ok(report)
}

async fn import_users(app: &App, path: &Path) -> anyhow::Result<FileReport> {
    let csv = Csv::read(path)?;
    let mut rep = FileReport { name: path.display().to_string(), rows: csv.rows.len(), ..Default::default() };
    let now = app.now();
    let mut good = Vec::new();
    for (line, rec) in &csv.rows {
        let row = (|| -> Result<User, String> {
            let name = required_text(csv.get(rec, "name"), 255).map_err(|m| format!("name: {m}"))?;
            let email = parse_email(csv.get(rec, "email")).map_err(|m| format!("email: {m}"))?;
            let password_hash = csv
                .get(rec, "password_hash")
                .filter(|h| h.starts_with('$'))
                .ok_or("password_hash: must be a PHC-format hash such as $argon2id$…")?
                .to_string();
            let phone_number =
                parse_phone(csv.get(rec, "phone_number")).map_err(|m| format!("phone_number: {m}"))?;
            let role = match csv.get(rec, "role") {
                Some(r) => r.parse::<Role>().map_err(|m| format!("role: {m}"))?,
                None => Role::Attendee,
            };
            let created_at = csv
                .get(rec, "created_at")
                .map(parse_ts)
                .transpose()
                .map_err(|m| format!("created_at: {m}"))?;
            let updated_at = csv
                .get(rec, "updated_at")
                .map(parse_ts)
                .transpose()
                .map_err(|m| format!("updated_at: {m}"))?;
            Ok(User {
                user_id: opt_uuid(csv.get(rec, "user_id"), "user_id")?.unwrap_or_else(UserId::new),
                name,
                email,
                password_hash,
                role,
                phone_number,
                created_at: created_at.unwrap_or(now),
                updated_at: updated_at.or(created_at).unwrap_or(now),
                disabled_at: None,
            })
        })();
        match row {
            Ok(r) => good.push(r),
            Err(m) => rep.rejected.push((*line, m)),
        }
    }
    let pb = bar(good.len(), "users");
    for chunk in good.chunks(500) {
        let n = app.load_users(chunk).await?;
        rep.imported += n;
        rep.skipped_existing += chunk.len() as u64 - n;
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    Ok(rep)
}

async fn import_events(app: &App, path: &Path) -> anyhow::Result<FileReport> {
    let csv = Csv::read(path)?;
    let mut rep = FileReport { name: path.display().to_string(), rows: csv.rows.len(), ..Default::default() };
    let now = app.now();
    let mut good: Vec<Event> = Vec::new();
    for (line, rec) in &csv.rows {
        let g = |c: &str| csv.get(rec, c).map(str::to_string);
        let row = (|| -> Result<Event, String> {
            let max_attendees = g("max_attendees")
                .map(|v| v.parse::<i64>().map_err(|_| "max_attendees: must be an integer".to_string()))
                .transpose()?;
            let input = EventInput {
                name: g("name"),
                description: g("description"),
                location: g("location"),
                start_time: g("start_time"),
                end_time: g("end_time"),
                organizer: g("organizer"),
                category: g("category"),
                price: g("price"),
                currency: g("currency"),
                max_attendees,
                url: g("url"),
                ..Default::default()
            };
            if input.organizer.is_none() {
                return Err("organizer: is required".into());
            }
            let f = EventFields::parse(&input, "").map_err(|e| e.to_string())?;
            let id = opt_uuid(csv.get(rec, "event_id"), "event_id")?.unwrap_or_else(EventId::new);
            let created = csv
                .get(rec, "created_at")
                .map(parse_ts)
                .transpose()
                .map_err(|m| format!("created_at: {m}"))?;
            let updated = csv
                .get(rec, "updated_at")
                .map(parse_ts)
                .transpose()
                .map_err(|m| format!("updated_at: {m}"))?;
            let status: EventStatus = csv
                .get(rec, "status")
                .unwrap_or("published")
                .parse()
                .map_err(|_| "status: must be published or cancelled".to_string())?;
            let c = created.unwrap_or(now);
            Ok(fields_to_row(id, None, &f, status, c, updated.unwrap_or(c)))
        })();
        match row {
            Ok(r) => good.push(r),
            Err(m) => rep.rejected.push((*line, m)),
        }
    }
    let pb = bar(good.len(), "events");
    for chunk in good.chunks(500) {
        let n = app.load_events(chunk).await?;
        rep.imported += n;
        rep.skipped_existing += chunk.len() as u64 - n;
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    Ok(rep)
}

async fn import_purchases(app: &App, path: &Path) -> anyhow::Result<FileReport> {
    let csv = Csv::read(path)?;
    let mut rep = FileReport { name: path.display().to_string(), rows: csv.rows.len(), ..Default::default() };
    let users: HashMap<UserId, ()> = app.user_ids().await?.into_iter().map(|id| (id, ())).collect();
    let prices: HashMap<EventId, Option<i64>> = app.event_prices().await?.into_iter().collect();
    let mut good = Vec::new();
    for (line, rec) in &csv.rows {
        let row = (|| -> Result<Purchase, String> {
            let user_id: UserId =
                opt_uuid(csv.get(rec, "user_id"), "user_id")?.ok_or("user_id: is required")?;
            let event_id: EventId =
                opt_uuid(csv.get(rec, "event_id"), "event_id")?.ok_or("event_id: is required")?;
            if !users.contains_key(&user_id) {
                return Err(format!("user_id: no user {user_id}"));
            }
            let price = prices.get(&event_id).ok_or(format!("event_id: no event {event_id}"))?;
            let qty: i32 = csv
                .get(rec, "ticket_quantity")
                .ok_or("ticket_quantity: is required")?
                .parse()
                .ok()
                .filter(|q| (1..=10_000).contains(q))
                .ok_or("ticket_quantity: must be an integer from 1 to 10000")?;
            let total = match csv.get(rec, "total_price") {
                Some(t) => Money::parse(t).map_err(|m| format!("total_price: {m}"))?.minor(),
                None => price.unwrap_or(0) * i64::from(qty),
            };
            let t = parse_ts(csv.get(rec, "purchase_time").ok_or("purchase_time: is required")?)
                .map_err(|m| format!("purchase_time: {m}"))?;
            Ok(Purchase {
                purchase_id: opt_uuid(csv.get(rec, "purchase_id"), "purchase_id")?
                    .unwrap_or_else(PurchaseId::new),
                user_id,
                event_id,
                purchase_time: t,
                ticket_quantity: qty,
                total_price: total,
                status: PurchaseStatus::Completed,
            })
        })();
        match row {
            Ok(r) => good.push(r),
            Err(m) => rep.rejected.push((*line, m)),
        }
    }
    let pb = bar(good.len(), "purchases");
    for chunk in good.chunks(1000) {
        let n = app.load_purchases(chunk).await?;
        rep.imported += n;
        rep.skipped_existing += chunk.len() as u64 - n;
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    Ok(rep)
}
