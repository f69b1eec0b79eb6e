//! Chats in the store: event chats made with their events, membership, change numbers in commit
//! order with no gaps, idempotent sends, tombstones, read markers, and signals across instances.

use std::time::Duration;

use tessera_domain::id::*;
use tessera_domain::records::*;
use tessera_store::chats::Created;
use tessera_store::testing::test_db;
use tessera_store::{Backend, Store};
use time::macros::datetime;

use super::{event, user};

crate::both!(
    an_event_has_a_chat_for_its_organizer_and_staff,
    a_pair_has_one_direct_chat,
    sends_take_the_next_change_in_order,
    racing_sends_take_every_number_once,
    edits_and_deletions_are_changes,
    read_markers_only_move_forward,
    the_list_shows_unread_and_the_last_message,
    signals_reach_the_other_instance,
);

fn chat(kind: ChatKind, by: UserId) -> Chat {
    let t = datetime!(2026-06-01 10:00 UTC);
    Chat {
        chat_id: ChatId::new(),
        kind,
        event_id: None,
        name: None,
        created_by: Some(by),
        last_seq: 0,
        last_message_id: None,
        created_at: t,
        updated_at: t,
    }
}

fn msg(chat_id: ChatId, sender_id: UserId, body: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage {
        message_id: MessageId::new(),
        chat_id,
        sender_id,
        body: body.into(),
        file_id: None,
        client_id: client_id.map(str::to_string),
        created_at: datetime!(2026-06-01 10:05 UTC),
    }
}

async fn sent(store: &Store, m: &NewMessage) -> Message {
    match store.send_message(m).await.unwrap() {
        Sent::New(m) => m,
        Sent::Replayed(m) => panic!("replayed {m:?}"),
    }
}

async fn two_users(store: &Store) -> (User, User) {
    let (a, b) = (user("a@example.com"), user("b@example.com"));
    store.insert_users(&[a.clone(), b.clone()]).await.unwrap();
    (a, b)
}

async fn an_event_has_a_chat_for_its_organizer_and_staff(b: Backend) {
    let db = test_db(b).await;
    let (org, staff) = two_users(&db.store).await;
    let outsider = user("c@example.com");
    db.store.insert_user(&outsider).await.unwrap();
    let mut e = event(datetime!(2026-07-01 18:00 UTC), None, "music");
    e.organizer_id = Some(org.user_id);
    e.name = "Summer Night".into();
    db.store.insert_event(&e).await.unwrap();
    db.store.add_staff(e.event_id, staff.user_id, e.created_at).await.unwrap();

    let chat_id = ChatId::of_event(e.event_id);
    let (c, m) = db.store.chat_for(chat_id, org.user_id).await.unwrap().unwrap();
    assert_eq!(
        (c.kind, c.event_id, c.name.as_deref(), m),
        (ChatKind::Event, Some(e.event_id), Some("Summer Night"), Membership::Member)
    );
    assert_eq!(db.store.chat_for(chat_id, staff.user_id).await.unwrap().unwrap().1, Membership::Member);
    assert_eq!(db.store.chat_for(chat_id, outsider.user_id).await.unwrap().unwrap().1, Membership::Outsider);
    assert!(db.store.chat_for(ChatId::new(), org.user_id).await.unwrap().is_none());
    // Staff leave with their assignment.
    db.store.remove_staff(e.event_id, staff.user_id).await.unwrap();
    assert_eq!(db.store.chat_for(chat_id, staff.user_id).await.unwrap().unwrap().1, Membership::Outsider);
    // Sharing an event: the organizer and the (former) staff no longer do.
    assert!(!db.store.share_an_event(org.user_id, staff.user_id).await.unwrap());
    db.store.add_staff(e.event_id, staff.user_id, e.created_at).await.unwrap();
    assert!(db.store.share_an_event(org.user_id, staff.user_id).await.unwrap());
    assert!(!db.store.share_an_event(org.user_id, outsider.user_id).await.unwrap());
}

async fn a_pair_has_one_direct_chat(b: Backend) {
    let db = test_db(b).await;
    let (a, bb) = two_users(&db.store).await;
    let key = tessera_domain::chat::direct_key(a.user_id, bb.user_id);
    let first = chat(ChatKind::Direct, a.user_id);
    let Created::New(c1) = db.store.create_chat(&first, Some(&key), &[a.user_id, bb.user_id]).await.unwrap()
    else {
        panic!("first direct chat not new")
    };
    let again = chat(ChatKind::Direct, bb.user_id);
    let Created::ExistingDirect(c2) =
        db.store.create_chat(&again, Some(&key), &[bb.user_id, a.user_id]).await.unwrap()
    else {
        panic!("second direct chat made")
    };
    assert_eq!(c1.chat_id, c2.chat_id);
    assert_eq!(db.store.chat_for(c1.chat_id, bb.user_id).await.unwrap().unwrap().1, Membership::Member);
    let names: Vec<UserId> =
        db.store.chat_members(c1.chat_id).await.unwrap().into_iter().map(|m| m.user_id).collect();
    assert_eq!(names.len(), 2);
}

async fn group_of(store: &Store) -> (User, User, ChatId) {
    let (a, b) = two_users(store).await;
    let c = chat(ChatKind::Group, a.user_id);
    store.create_chat(&c, None, &[a.user_id, b.user_id]).await.unwrap();
    (a, b, c.chat_id)
}

async fn sends_take_the_next_change_in_order(b: Backend) {
    let db = test_db(b).await;
    let (a, bb, chat_id) = group_of(&db.store).await;
    let m1 = sent(&db.store, &msg(chat_id, a.user_id, "one", Some("c-1"))).await;
    let m2 = sent(&db.store, &msg(chat_id, bb.user_id, "two", None)).await;
    assert_eq!((m1.seq, m1.change_seq, m2.seq), (1, 1, 2));
    // The same client id from the same sender is the first message again.
    match db.store.send_message(&msg(chat_id, a.user_id, "one again", Some("c-1"))).await.unwrap() {
        Sent::Replayed(m) => assert_eq!(m.message_id, m1.message_id),
        Sent::New(m) => panic!("sent twice: {m:?}"),
    }
    // Another sender may use the same client id.
    assert_eq!(sent(&db.store, &msg(chat_id, bb.user_id, "three", Some("c-1"))).await.seq, 3);
    assert_eq!(db.store.chat_seq(chat_id).await.unwrap(), 3);
    let newest: Vec<i64> =
        db.store.messages_before(chat_id, None, 2).await.unwrap().iter().map(|m| m.seq).collect();
    assert_eq!(newest, [3, 2]);
    let older: Vec<i64> =
        db.store.messages_before(chat_id, Some(2), 10).await.unwrap().iter().map(|m| m.seq).collect();
    assert_eq!(older, [1]);
    // A chat that does not exist takes no message.
    let err = db.store.send_message(&msg(ChatId::new(), a.user_id, "lost", None)).await.unwrap_err();
    assert!(matches!(err, tessera_store::StoreError::NotFound), "{err:?}");
}

async fn racing_sends_take_every_number_once(b: Backend) {
    let db = test_db(b).await;
    let (a, _, chat_id) = group_of(&db.store).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            // Ten are retries of others: 30 distinct messages.
            let client = format!("c-{}", i % 30);
            store.send_message(&msg(chat_id, a.user_id, "hi", Some(&client))).await.unwrap()
        }));
    }
    let mut new = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Sent::New(_)) {
            new += 1;
        }
    }
    let all = db.store.changes_after(chat_id, 0, 100).await.unwrap();
    let seqs: Vec<i64> = all.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=new).collect::<Vec<i64>>(), "every number once, in order, no gaps");
    assert_eq!(new, 30);
}

async fn edits_and_deletions_are_changes(b: Backend) {
    let db = test_db(b).await;
    let (a, bb, chat_id) = group_of(&db.store).await;
    let m1 = sent(&db.store, &msg(chat_id, a.user_id, "one", None)).await;
    let m2 = sent(&db.store, &msg(chat_id, a.user_id, "two", None)).await;
    let t = datetime!(2026-06-01 10:10 UTC);
    // Only the sender edits.
    assert!(db.store.edit_message(m1.message_id, bb.user_id, "hacked", t).await.unwrap().is_none());
    let e = db.store.edit_message(m1.message_id, a.user_id, "one!", t).await.unwrap().unwrap();
    assert_eq!((e.body.as_str(), e.change_seq, e.seq, e.change()), ("one!", 3, 1, MessageChange::Edited));
    let d = db.store.delete_message(m2.message_id, bb.user_id, t).await.unwrap().unwrap();
    assert_eq!(
        (d.body.as_str(), d.change_seq, d.deleted_by, d.change()),
        ("", 4, Some(bb.user_id), MessageChange::Deleted)
    );
    assert!(db.store.delete_message(m2.message_id, a.user_id, t).await.unwrap().is_none(), "deleted once");
    assert!(
        db.store.edit_message(m2.message_id, a.user_id, "back", t).await.unwrap().is_none(),
        "no edit after"
    );
    // A client that saw change 2 gets the edit and the deletion, once each, in order.
    let changes: Vec<(MessageId, i64)> = db
        .store
        .changes_after(chat_id, 2, 10)
        .await
        .unwrap()
        .iter()
        .map(|m| (m.message_id, m.change_seq))
        .collect();
    assert_eq!(changes, [(m1.message_id, 3), (m2.message_id, 4)]);
    assert_eq!(db.store.chat_seq(chat_id).await.unwrap(), 4);
}

async fn read_markers_only_move_forward(b: Backend) {
    let db = test_db(b).await;
    let (a, _, chat_id) = group_of(&db.store).await;
    let t = datetime!(2026-06-01 10:10 UTC);
    assert_eq!(db.store.mark_read(chat_id, a.user_id, 5, t).await.unwrap(), 5);
    assert_eq!(db.store.mark_read(chat_id, a.user_id, 3, t).await.unwrap(), 5);
    assert_eq!(db.store.member_state(chat_id, a.user_id).await.unwrap().last_read_seq, 5);
    let until = datetime!(2026-06-01 11:00 UTC);
    db.store.set_mute(chat_id, a.user_id, Some(until), t).await.unwrap();
    let s = db.store.member_state(chat_id, a.user_id).await.unwrap();
    assert_eq!((s.last_read_seq, s.muted_until), (5, Some(until)));
    // Still a listed member after the state changes.
    assert_eq!(db.store.chat_for(chat_id, a.user_id).await.unwrap().unwrap().1, Membership::Member);
}

async fn the_list_shows_unread_and_the_last_message(b: Backend) {
    let db = test_db(b).await;
    let (a, bb, chat_id) = group_of(&db.store).await;
    for body in ["one", "two", "three"] {
        sent(&db.store, &msg(chat_id, a.user_id, body, None)).await;
    }
    let t = datetime!(2026-06-01 10:10 UTC);
    db.store.mark_read(chat_id, bb.user_id, 1, t).await.unwrap();
    let mine = db.store.chats_of(bb.user_id, None, 10).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].unread, mine[0].last_message.as_ref().map(|m| m.body.as_str())), (2, Some("three")));
    // The sender's own messages are never unread.
    assert_eq!(db.store.chats_of(a.user_id, None, 10).await.unwrap()[0].unread, 0);
    // Pages follow activity: an older chat comes after.
    let other = chat(ChatKind::Group, bb.user_id);
    db.store.create_chat(&other, None, &[bb.user_id]).await.unwrap();
    let page1 = db.store.chats_of(bb.user_id, None, 1).await.unwrap();
    assert_eq!(page1[0].chat.chat_id, chat_id, "the chat with the latest message first");
    let last = &page1[0].chat;
    let page2 = db.store.chats_of(bb.user_id, Some((last.updated_at, last.chat_id)), 10).await.unwrap();
    assert_eq!(page2.iter().map(|v| v.chat.chat_id).collect::<Vec<_>>(), [other.chat_id]);
}

async fn signals_reach_the_other_instance(b: Backend) {
    let db = test_db(b).await;
    let (a, _, chat_id) = group_of(&db.store).await;
    // On SQLite one process owns the file: signals go to this store's listeners; on PostgreSQL
    // a second instance hears them through NOTIFY.
    let listener = match b {
        Backend::Sqlite => db.store.clone(),
        Backend::Postgres => db.second_instance().await,
    };
    let mut rx = listener.chat_signals();
    if b == Backend::Postgres {
        // The listening connection says it is listening (and may have missed something) first.
        let first = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
        assert_eq!(first, ChatSignal::Resync);
    }
    for body in ["one", "two"] {
        sent(&db.store, &msg(chat_id, a.user_id, body, None)).await;
    }
    db.store.send_chat_signal(ChatSignal::Typing { chat_id, user_id: a.user_id }).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        let s = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
        if s != ChatSignal::Resync && !matches!(s, ChatSignal::Joined { .. }) {
            got.push(s);
        }
    }
    assert_eq!(
        got,
        [
            ChatSignal::Changed { chat_id, seq: 1 },
            ChatSignal::Changed { chat_id, seq: 2 },
            ChatSignal::Typing { chat_id, user_id: a.user_id }
        ]
    );
}
