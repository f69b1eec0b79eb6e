//! The event chat on the event page: its latest messages, a form to send, and live updates.
//! Updates come by long polling: the page asks for the changes after the last one it has
//! (`GET /e/{id}/chat?after=N`, answered when there is one or after 25 s) and htmx puts new
//! messages at the end and edited or removed ones in place. Without scripts the form still
//! sends and the page shows the chat as of its loading.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use tessera_app::chats::{MAX_WAIT_SECS, MessageQuery, SendInput};
use tessera_app::domain::clock::format_ts;
use tessera_app::domain::id::{ChatId, EventId, UserId};
use tessera_app::domain::records::{Message, MessageChange};
use tessera_app::{AppError, Principal};

use super::public::parse_id;
use super::{FormData, Page, error_page, forged, render, when};
use crate::AppState;
use crate::error::ApiError;

/// Messages the event page shows when it loads (older ones are in the API's history).
const SHOWN: i64 = 30;

/// One message as the page shows it.
pub struct Line {
    pub event_id: EventId,
    pub id: String,
    pub who: String,
    pub mine: bool,
    pub body: String,
    pub when: String,
    pub when_iso: String,
    pub edited: bool,
    pub deleted: bool,
    pub file: Option<String>,
    /// Sent to replace the message already on the page (an edit or removal).
    pub in_place: bool,
    /// The viewer may remove it: their own, or any as the chat's moderator.
    pub removable: bool,
}

/// Who is looking, for what they may do with each message.
#[derive(Clone, Copy)]
struct Reader {
    event_id: EventId,
    user_id: UserId,
    moderator: bool,
}

impl Line {
    fn of(m: Message, r: Reader, names: &HashMap<UserId, String>, in_place: bool) -> Line {
        let me = r.user_id;
        Line {
            event_id: r.event_id,
            removable: m.deleted_at.is_none() && (m.sender_id == me || r.moderator),
            id: m.message_id.to_string(),
            who: names.get(&m.sender_id).cloned().unwrap_or_default(),
            mine: m.sender_id == me,
            edited: m.change() == MessageChange::Edited,
            deleted: m.deleted_at.is_some(),
            file: m.file_id.filter(|_| m.deleted_at.is_none()).map(|f| f.to_string()),
            when: when(m.created_at),
            when_iso: format_ts(m.created_at),
            body: m.body,
            in_place,
        }
    }
}

/// The send form's state.
pub struct ChatForm {
    pub event_id: EventId,
    /// The id this send carries: a retried or double-clicked send is sent once.
    pub client_id: String,
    pub body: String,
    pub error: Option<String>,
    pub focus: bool,
}

impl ChatForm {
    fn fresh(event_id: EventId) -> ChatForm {
        ChatForm {
            event_id,
            client_id: tessera_app::auth::random_token(),
            body: String::new(),
            error: None,
            focus: false,
        }
    }
}

/// What the event page shows of the chat.
pub enum Panel {
    /// Not signed in: a link to sign in.
    SignedOut,
    /// Signed in without a ticket (or role) that admits to the chat.
    Outsider,
    Member {
        lines: Vec<Line>,
        after: i64,
        form: ChatForm,
    },
}

/// The chat as `p`'s viewer may see it on the event's page.
pub async fn panel(s: &AppState, p: &Page, event_id: EventId) -> Result<Panel, AppError> {
    let Some(who) = p.principal() else { return Ok(Panel::SignedOut) };
    let chat_id = ChatId::of_event(event_id);
    let detail = match s.app.chat(who, chat_id).await {
        Ok(d) => d,
        Err(AppError::NotFound(_)) => return Ok(Panel::Outsider),
        Err(e) => return Err(e),
    };
    let page =
        s.app.messages(who, chat_id, MessageQuery { limit: Some(SHOWN), ..Default::default() }).await?;
    let mut messages = page.items;
    messages.reverse();
    // What was read last: a message sent between the two reads is shown, and not sent again.
    let after = messages.iter().map(|m| m.change_seq).fold(detail.chat.last_seq, i64::max);
    let names = s.app.sender_names(who, chat_id, &messages).await?;
    let r = Reader { event_id, user_id: who.user_id, moderator: detail.moderator };
    let lines = messages.into_iter().map(|m| Line::of(m, r, &names, false)).collect();
    Ok(Panel::Member { lines, after, form: ChatForm::fresh(event_id) })
}

#[derive(Deserialize)]
pub struct ChangesQuery {
    after: Option<String>,
}

#[derive(Template)]
#[template(path = "chat_changes.html")]
struct Changes<'a> {
    p: &'a Page,
    event_id: EventId,
    added: Vec<Line>,
    changed: Vec<Line>,
    after: i64,
}

/// `GET /e/{event_id}/chat?after=N`: the changes after N as pieces of the page, waiting for one.
pub async fn changes(
    State(s): State<AppState>,
    p: Page,
    Path(raw): Path<String>,
    Query(q): Query<ChangesQuery>,
) -> Response {
    let Some(who) = p.principal().cloned() else {
        return error_page(&p, AppError::Unauthorized("sign in to read the chat"));
    };
    let Some(event_id) = parse_id::<EventId>(&raw) else { return error_page(&p, AppError::NotFound("chat")) };
    let Some(after) = q.after.as_deref().map_or(Some(0), |a| a.parse::<i64>().ok()) else {
        return error_page(&p, AppError::invalid("after", "must be a change number (0 or more)"));
    };
    let chat_id = ChatId::of_event(event_id);
    let query =
        MessageQuery { after: Some(after), wait: Some(MAX_WAIT_SECS), limit: Some(100), cursor: None };
    let found = match s.app.messages(&who, chat_id, query).await {
        Ok(page) => page.items,
        Err(e) => return error_page(&p, e),
    };
    let names = match s.app.sender_names(&who, chat_id, &found).await {
        Ok(n) => n,
        Err(e) => return error_page(&p, e),
    };
    let moderator = match s.app.chat(&who, chat_id).await {
        Ok(d) => d.moderator,
        Err(e) => return error_page(&p, e),
    };
    let r = Reader { event_id, user_id: who.user_id, moderator };
    let next = found.iter().map(|m| m.change_seq).fold(after, i64::max);
    let (mut added, mut changed) = (Vec::new(), Vec::new());
    for m in found {
        if m.seq > after {
            added.push(Line::of(m, r, &names, false));
        } else {
            changed.push(Line::of(m, r, &names, true));
        }
    }
    render(&p, StatusCode::OK, &Changes { p: &p, event_id, added, changed, after: next })
}

#[derive(Template)]
#[template(path = "chat_form.html")]
struct FormFragment<'a> {
    p: &'a Page,
    form: ChatForm,
}

/// `POST /e/{event_id}/chat`: sends a message. From htmx the answer is the form again (empty
/// after a send; with the text and the reason after a refusal), the message itself arriving by
/// the page's long poll; without scripts, back to the event page.
pub async fn send(
    State(s): State<AppState>,
    p: Page,
    headers: HeaderMap,
    Path(raw): Path<String>,
    body: Bytes,
) -> Response {
    let f = FormData::parse(&body);
    if !p.form_ok(&s, f.token()) {
        return forged(&p);
    }
    let Some(event_id) = parse_id::<EventId>(&raw) else { return error_page(&p, AppError::NotFound("chat")) };
    let Some(who) = p.principal().cloned() else {
        return p.see_other(&format!("/signin?next=%2Fe%2F{event_id}"));
    };
    let input = SendInput {
        body: f.get("body").map(str::to_string),
        client_id: f.get("client_id").filter(|c| !c.is_empty()).map(str::to_string),
        file_id: None,
    };
    let from_htmx = headers.contains_key("hx-request");
    match send_one(&s, &who, event_id, input.clone()).await {
        Ok(()) if from_htmx => {
            let mut form = ChatForm::fresh(event_id);
            form.focus = true;
            render(&p, StatusCode::OK, &FormFragment { p: &p, form })
        }
        Ok(()) => p.see_other(&format!("/e/{event_id}#chat")),
        Err(e) if from_htmx => {
            let error = match &e {
                AppError::Forbidden(_) => p.t.chat_muted.to_string(),
                _ => ApiError::from(e).detail,
            };
            let form = ChatForm {
                event_id,
                // The same id again: sending the same text once more is still one message.
                client_id: input.client_id.unwrap_or_else(tessera_app::auth::random_token),
                body: input.body.unwrap_or_default(),
                error: Some(error),
                focus: true,
            };
            render(&p, StatusCode::OK, &FormFragment { p: &p, form })
        }
        Err(e) => error_page(&p, e),
    }
}

async fn send_one(
    s: &AppState,
    who: &Principal,
    event_id: EventId,
    input: SendInput,
) -> Result<(), AppError> {
    s.app.send_message(who, ChatId::of_event(event_id), input).await.map(|_| ())
}

/// `POST /e/{event_id}/chat/{message_id}/delete`: removes a message (one's own, or any as the
/// event's organizer or an admin). From htmx the answer is empty: the long poll brings the
/// removal to every page, this one included; without scripts, back to the chat.
pub async fn remove(
    State(s): State<AppState>,
    p: Page,
    headers: HeaderMap,
    Path((raw_event, raw_message)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let f = FormData::parse(&body);
    if !p.form_ok(&s, f.token()) {
        return forged(&p);
    }
    let Some(who) = p.principal().cloned() else { return p.see_other("/signin") };
    let (Some(event_id), Some(message_id)) =
        (parse_id::<EventId>(&raw_event), parse_id::<tessera_app::domain::id::MessageId>(&raw_message))
    else {
        return error_page(&p, AppError::NotFound("message"));
    };
    match s.app.delete_message(&who, ChatId::of_event(event_id), message_id).await {
        Ok(()) if headers.contains_key("hx-request") => p.html(StatusCode::OK, String::new()),
        Ok(()) => p.see_other(&format!("/e/{event_id}#chat")),
        Err(e) => error_page(&p, e),
    }
}
