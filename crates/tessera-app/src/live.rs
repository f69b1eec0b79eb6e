//! Live delivery: the chats each connection follows, fed from the chat signals of every
//! instance (the store's bus). A signal carries ids only; for each chat with followers here,
//! the hub reads what changed once and hands it to every follower. Each follower keeps the last
//! change number it delivered: a handout that starts past it (a follower that joined late, or a
//! signal lost) makes it read the gap from the database itself, so a client sees every change
//! of a chat once, in commit order. A connection whose queue of deliveries fills up is too slow
//! and is closed rather than buffered without bound; its client reconnects with its last seen
//! change numbers and gets what it missed.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tessera_domain::id::CallId;
use tessera_domain::id::{ChatId, UserId};
use tessera_domain::records::{Call, CallSignal, ChatSignal, Message};
use tessera_store::Store;
use tokio::sync::{Notify, broadcast, mpsc};

use crate::auth::Principal;
use crate::{App, AppError, Result};

/// The longest a new connection waits for the instance to start hearing other instances.
const LISTEN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Rows read per query while catching up.
const BATCH: i64 = 500;

/// What the hub hands a connection.
#[derive(Debug, Clone)]
enum Delivery {
    /// Every change of the chat in `(from, upto]`, as the rows are now.
    Changes {
        chat_id: ChatId,
        from: i64,
        upto: i64,
        messages: Arc<[Message]>,
    },
    Signal(ChatSignal),
}

/// What a live connection tells its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    /// A message sent, edited or deleted (`Message::change` says which), in commit order.
    Message(Message),
    Typing {
        chat_id: ChatId,
        user_id: UserId,
    },
    Read {
        chat_id: ChatId,
        user_id: UserId,
        seq: i64,
    },
    Presence {
        chat_id: ChatId,
        user_id: UserId,
        online: bool,
    },
    /// The user was added to a chat.
    Joined {
        chat_id: ChatId,
    },
    /// A call of the user's changed (it rings for them, was answered, declined, ended, missed).
    Call(Call),
    /// A WebRTC signal from the other party of a call.
    Signal(CallSignal),
}

/// Where deliveries for one connection (or one long poll) go.
#[derive(Debug, Clone)]
struct Outbox {
    tx: mpsc::Sender<Delivery>,
    slow: Arc<Slow>,
}

#[derive(Debug, Default)]
struct Slow {
    tripped: AtomicBool,
    notify: Notify,
}

impl Outbox {
    fn deliver(&self, d: Delivery) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(d) {
            self.slow.tripped.store(true, Ordering::Relaxed);
            self.slow.notify.notify_one();
        }
    }
}

/// One chat's followers on this instance.
#[derive(Debug)]
struct Feed {
    subs: HashMap<u64, Outbox>,
    /// The last change handed out (read under this lock, one reader at a time).
    fetched: Arc<tokio::sync::Mutex<i64>>,
}

#[derive(Debug, Default)]
struct Inner {
    feeds: HashMap<ChatId, Feed>,
    /// Each user's connections, for what concerns a user rather than a chat.
    users: HashMap<UserId, HashMap<u64, Outbox>>,
    /// Followers per chat and user, for presence: online at the first, offline after the last.
    presence: HashMap<(ChatId, UserId), usize>,
}

/// The instance's live connections and the chats they follow.
#[derive(Debug, Default)]
pub struct Hub {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    started: OnceLock<()>,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain maps behind: keep going with them.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts reading the store's chat signals (once).
    fn start(self: &Arc<Self>, store: &Store) {
        self.started.get_or_init(|| {
            let rx = store.chat_signals();
            tokio::spawn(run(Arc::downgrade(self), store.clone(), rx));
        });
    }

    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Adds a follower of a chat; the feed starts at the chat's current change when it is new.
    async fn follow(&self, store: &Store, chat_id: ChatId, id: u64, outbox: Outbox) -> Result<()> {
        let exists = self.lock().feeds.contains_key(&chat_id);
        let start = if exists { 0 } else { store.chat_seq(chat_id).await? };
        self.lock()
            .feeds
            .entry(chat_id)
            .or_insert_with(|| Feed {
                subs: HashMap::new(),
                fetched: Arc::new(tokio::sync::Mutex::new(start)),
            })
            .subs
            .insert(id, outbox);
        Ok(())
    }

    fn unfollow(&self, chat_id: ChatId, id: u64) {
        let mut inner = self.lock();
        if let Some(f) = inner.feeds.get_mut(&chat_id) {
            f.subs.remove(&id);
            if f.subs.is_empty() {
                inner.feeds.remove(&chat_id);
            }
        }
    }

    /// Counts a user's follower of a chat; true when it is their first here (now online).
    fn present(&self, chat_id: ChatId, user_id: UserId) -> bool {
        let mut inner = self.lock();
        let n = inner.presence.entry((chat_id, user_id)).or_default();
        *n += 1;
        *n == 1
    }

    /// True when it was their last follower here (now offline).
    fn absent(&self, chat_id: ChatId, user_id: UserId) -> bool {
        let mut inner = self.lock();
        match inner.presence.get_mut(&(chat_id, user_id)) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                inner.presence.remove(&(chat_id, user_id));
                true
            }
            None => false,
        }
    }

    fn chat_outboxes(&self, chat_id: ChatId) -> Vec<Outbox> {
        self.lock().feeds.get(&chat_id).map(|f| f.subs.values().cloned().collect()).unwrap_or_default()
    }

    /// Hands out one signal.
    fn dispatch(self: &Arc<Self>, store: &Store, s: ChatSignal) {
        match s {
            ChatSignal::Changed { chat_id, seq } => {
                let fetched = self.lock().feeds.get(&chat_id).map(|f| f.fetched.clone());
                if let Some(fetched) = fetched {
                    tokio::spawn(hand_out(Arc::downgrade(self), store.clone(), chat_id, seq, fetched));
                }
            }
            ChatSignal::Joined { user_id, .. }
            | ChatSignal::Call { user_id, .. }
            | ChatSignal::Relay { user_id, .. } => {
                let outboxes: Vec<Outbox> = self
                    .lock()
                    .users
                    .get(&user_id)
                    .map(|m| m.values().cloned().collect())
                    .unwrap_or_default();
                for o in outboxes {
                    o.deliver(Delivery::Signal(s));
                }
            }
            ChatSignal::Resync => {
                let inner = self.lock();
                let mut seen = HashSet::new();
                let all = inner
                    .users
                    .values()
                    .flat_map(|m| m.iter())
                    .chain(inner.feeds.values().flat_map(|f| f.subs.iter()));
                for (id, o) in all {
                    if seen.insert(*id) {
                        o.deliver(Delivery::Signal(s));
                    }
                }
            }
            ChatSignal::Typing { chat_id, .. }
            | ChatSignal::Read { chat_id, .. }
            | ChatSignal::Presence { chat_id, .. } => {
                for o in self.chat_outboxes(chat_id) {
                    o.deliver(Delivery::Signal(s));
                }
            }
        }
    }
}

/// Reads the signals until the store goes away.
async fn run(hub: std::sync::Weak<Hub>, store: Store, mut rx: broadcast::Receiver<ChatSignal>) {
    loop {
        let s = match rx.recv().await {
            Ok(s) => s,
            // This reader fell behind: some signals are lost, so everyone re-reads.
            Err(broadcast::error::RecvError::Lagged(_)) => ChatSignal::Resync,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let Some(hub) = hub.upgrade() else { return };
        hub.dispatch(&store, s);
    }
}

/// Reads a chat's changes after the last handed out (once per instance) and hands them to its
/// followers.
async fn hand_out(
    hub: std::sync::Weak<Hub>,
    store: Store,
    chat_id: ChatId,
    seq: i64,
    fetched: Arc<tokio::sync::Mutex<i64>>,
) {
    let mut last = fetched.lock().await;
    if seq <= *last {
        return;
    }
    let from = *last;
    let (messages, upto) = match read_changes(&store, chat_id, from).await {
        Ok((m, upto)) => (m, upto.max(seq)),
        Err(e) => {
            tracing::warn!(cause = %e, %chat_id, "chat changes not read; followers will read them");
            (Vec::new(), from)
        }
    };
    let Some(hub) = hub.upgrade() else { return };
    let outboxes = hub.chat_outboxes(chat_id);
    if upto == from {
        // Nothing could be read: followers re-read for themselves.
        for o in outboxes {
            o.deliver(Delivery::Signal(ChatSignal::Resync));
        }
        return;
    }
    let messages: Arc<[Message]> = messages.into();
    for o in outboxes {
        o.deliver(Delivery::Changes { chat_id, from, upto, messages: messages.clone() });
    }
    *last = upto;
}

/// Every change after `after`, and the last change number read (`after` when none).
async fn read_changes(store: &Store, chat_id: ChatId, after: i64) -> Result<(Vec<Message>, i64)> {
    let mut out = Vec::new();
    let mut last = after;
    loop {
        let batch = store.changes_after(chat_id, last, BATCH).await?;
        let n = batch.len();
        if let Some(m) = batch.last() {
            last = m.change_seq;
        }
        out.extend(batch);
        if i64::try_from(n).unwrap_or(0) < BATCH {
            return Ok((out, last));
        }
    }
}

/// One live connection: the chats it follows and what it has delivered of each.
#[derive(Debug)]
pub struct Live {
    hub: Arc<Hub>,
    app: App,
    who: Principal,
    id: u64,
    rx: mpsc::Receiver<Delivery>,
    outbox: Outbox,
    /// Per followed chat, the last change delivered.
    follows: HashMap<ChatId, i64>,
    pending: VecDeque<LiveEvent>,
    /// The delivery being turned into events: kept until done, so `next` is cancel-safe (a
    /// cancelled read is read again, never lost).
    current: Option<Delivery>,
}

impl App {
    /// Opens a live connection for the caller (429 past the per-person limit on this instance).
    pub async fn live(&self, who: &Principal) -> Result<Live> {
        self.hub.start(&self.store);
        // The first connection after start-up waits (briefly) for the PostgreSQL listener, so
        // what others do from now on reaches it.
        self.store.chat_signals_heard(LISTEN_WAIT).await;
        let id = self.hub.id();
        let (tx, rx) = mpsc::channel(self.config.chat.outbox_capacity.max(1));
        let outbox = Outbox { tx, slow: Arc::default() };
        {
            let mut inner = self.hub.lock();
            let mine = inner.users.entry(who.user_id).or_default();
            if mine.len() >= self.config.chat.connections_per_user {
                return Err(AppError::RateLimited { retry_after_secs: 5 });
            }
            mine.insert(id, outbox.clone());
        }
        Ok(Live {
            hub: self.hub.clone(),
            app: self.clone(),
            who: who.clone(),
            id,
            rx,
            outbox,
            follows: HashMap::new(),
            pending: VecDeque::new(),
            current: None,
        })
    }

    /// Waits for the next change of a chat (for a long poll); `watch.changed()` resolves on it.
    pub(crate) async fn watch_chat(&self, chat_id: ChatId) -> Result<Watch> {
        self.hub.start(&self.store);
        self.store.chat_signals_heard(LISTEN_WAIT).await;
        let id = self.hub.id();
        let (tx, rx) = mpsc::channel(16);
        self.hub.follow(&self.store, chat_id, id, Outbox { tx, slow: Arc::default() }).await?;
        Ok(Watch { hub: self.hub.clone(), chat_id, id, rx })
    }
}

/// A long poll's wait for a chat's next change.
#[derive(Debug)]
pub(crate) struct Watch {
    hub: Arc<Hub>,
    chat_id: ChatId,
    id: u64,
    rx: mpsc::Receiver<Delivery>,
}

impl Watch {
    /// Resolves on a change of the chat (or a resync); never if the hub has gone.
    pub(crate) async fn changed(&mut self) {
        while let Some(d) = self.rx.recv().await {
            if matches!(d, Delivery::Changes { .. } | Delivery::Signal(ChatSignal::Resync)) {
                return;
            }
        }
        std::future::pending::<()>().await;
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.hub.unfollow(self.chat_id, self.id);
    }
}

impl Live {
    pub fn user_id(&self) -> UserId {
        self.who.user_id
    }

    /// Follows a chat the caller is in. With `after` (the last change the client saw), what it
    /// missed comes first; without, only what happens from now. Answers the chat's current
    /// change number.
    pub async fn follow(&mut self, chat_id: ChatId, after: Option<i64>) -> Result<i64> {
        self.app.chat_of_member(&self.who, chat_id).await?;
        if after.is_some_and(|a| a < 0) {
            return Err(AppError::invalid("after", "must be a change number (0 or more)"));
        }
        let fresh = !self.follows.contains_key(&chat_id);
        // Registered before reading, so nothing committed in between is missed.
        self.hub.follow(&self.app.store, chat_id, self.id, self.outbox.clone()).await?;
        let now = self.app.store.chat_seq(chat_id).await?;
        let last = match after {
            Some(a) => {
                let (missed, upto) = read_changes(&self.app.store, chat_id, a).await?;
                self.pending.extend(missed.into_iter().map(LiveEvent::Message));
                upto.max(a)
            }
            None => now,
        };
        self.follows.insert(chat_id, last);
        if fresh && self.hub.present(chat_id, self.who.user_id) {
            self.app.signal(ChatSignal::Presence { chat_id, user_id: self.who.user_id, online: true }).await;
        }
        Ok(now)
    }

    /// Stops following a chat.
    pub async fn unfollow(&mut self, chat_id: ChatId) {
        if self.follows.remove(&chat_id).is_some() {
            self.hub.unfollow(chat_id, self.id);
            if self.hub.absent(chat_id, self.who.user_id) {
                self.app
                    .signal(ChatSignal::Presence { chat_id, user_id: self.who.user_id, online: false })
                    .await;
            }
        }
    }

    pub async fn typing(&self, chat_id: ChatId) -> Result<()> {
        self.app.typing(&self.who, chat_id).await
    }

    pub async fn mark_read(&self, chat_id: ChatId, seq: Option<i64>) -> Result<i64> {
        self.app.mark_read(&self.who, chat_id, seq).await
    }

    /// Relays a WebRTC signal to the other party of a live call.
    pub async fn relay(&self, call_id: CallId, kind: &str, data: String) -> Result<()> {
        self.app.relay_signal(&self.who, call_id, kind, data).await
    }

    /// What resolves when the connection fell too far behind and must be closed.
    pub fn too_slow(&self) -> TooSlow {
        TooSlow(self.outbox.slow.clone())
    }

    /// The next event for the client; `None` when the hub has gone. Cancel-safe: it can be
    /// raced against the client's own messages without losing anything.
    pub async fn next(&mut self) -> Option<Result<LiveEvent>> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(Ok(e));
            }
            let d = match self.current.take() {
                Some(d) => d,
                None => self.rx.recv().await?,
            };
            self.current = Some(d.clone());
            let taken = self.take(d).await;
            self.current = None;
            if let Err(e) = taken {
                return Some(Err(e));
            }
        }
    }

    /// Turns a delivery into events for this client (reading gaps from the database).
    async fn take(&mut self, d: Delivery) -> Result<()> {
        match d {
            Delivery::Changes { chat_id, from, upto, messages } => {
                let Some(&last) = self.follows.get(&chat_id) else { return Ok(()) };
                if upto <= last {
                    return Ok(());
                }
                if from <= last {
                    let new = messages.iter().filter(|m| m.change_seq > last).cloned();
                    self.pending.extend(new.map(LiveEvent::Message));
                    self.follows.insert(chat_id, upto);
                } else {
                    self.catch_up(chat_id, last, upto).await?;
                }
            }
            Delivery::Signal(ChatSignal::Resync) => {
                let chats: Vec<(ChatId, i64)> = self.follows.iter().map(|(&c, &l)| (c, l)).collect();
                for (chat_id, last) in chats {
                    self.catch_up(chat_id, last, last).await?;
                }
            }
            Delivery::Signal(s) => {
                let event = match s {
                    ChatSignal::Typing { chat_id, user_id } if user_id != self.who.user_id => {
                        Some(LiveEvent::Typing { chat_id, user_id })
                    }
                    ChatSignal::Read { chat_id, user_id, seq } => {
                        Some(LiveEvent::Read { chat_id, user_id, seq })
                    }
                    ChatSignal::Presence { chat_id, user_id, online } if user_id != self.who.user_id => {
                        Some(LiveEvent::Presence { chat_id, user_id, online })
                    }
                    ChatSignal::Joined { chat_id, user_id } if user_id == self.who.user_id => {
                        Some(LiveEvent::Joined { chat_id })
                    }
                    // Read here, in the connection's order, so a call's signals arrive as sent.
                    ChatSignal::Call { call_id, user_id } if user_id == self.who.user_id => {
                        self.app.store.call(call_id).await?.map(LiveEvent::Call)
                    }
                    ChatSignal::Relay { signal_id, user_id } if user_id == self.who.user_id => {
                        self.app.store.call_signal(signal_id).await?.map(LiveEvent::Signal)
                    }
                    _ => None,
                };
                self.pending.extend(event);
            }
        }
        Ok(())
    }

    async fn catch_up(&mut self, chat_id: ChatId, last: i64, at_least: i64) -> Result<()> {
        let (missed, upto) = read_changes(&self.app.store, chat_id, last).await?;
        self.pending.extend(missed.into_iter().map(LiveEvent::Message));
        self.follows.insert(chat_id, upto.max(at_least));
        Ok(())
    }
}

/// A connection's alarm for falling too far behind.
#[derive(Debug, Clone)]
pub struct TooSlow(Arc<Slow>);

impl TooSlow {
    /// Resolves once the alarm has gone off.
    pub async fn wait(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.0.tripped.load(Ordering::Relaxed) {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let mut offline = Vec::new();
        {
            let mut inner = self.hub.lock();
            if let Some(mine) = inner.users.get_mut(&self.who.user_id) {
                mine.remove(&self.id);
                if mine.is_empty() {
                    inner.users.remove(&self.who.user_id);
                }
            }
        }
        for &chat_id in self.follows.keys() {
            self.hub.unfollow(chat_id, self.id);
            if self.hub.absent(chat_id, self.who.user_id) {
                offline.push(chat_id);
            }
        }
        if !offline.is_empty()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let (app, user_id) = (self.app.clone(), self.who.user_id);
            rt.spawn(async move {
                for chat_id in offline {
                    app.signal(ChatSignal::Presence { chat_id, user_id, online: false }).await;
                }
            });
        }
    }
}
