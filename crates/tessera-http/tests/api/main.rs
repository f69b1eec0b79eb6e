//! HTTP API tests: every route's success, bad input, missing resources and authorization, on
//! SQLite and (with TESSERA_TEST_DATABASE_URL) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

// `use crate::both;` in each module: one definition, in tessera_store::testing.
pub(crate) use tessera_store::both;

mod accounts;
mod api_keys;
mod applications;
mod authz;
mod booking;
mod browser;
mod calls;
mod cancellation;
mod catalogue_cache;
mod chats;
mod checkin;
mod dashboard;
mod edges;
mod errors;
mod event_chat;
mod events;
mod files;
mod live;
mod mail;
mod oidc;
mod ops;
mod pages;
mod problems;
mod purchases;
mod queue;
mod sessions;
mod tickets;
mod users;
mod wallet;
mod web_flow;
