//! wabridge: a WhatsApp Web bridge daemon. One headless Chromium per
//! session runs WhatsApp Web; backends talk HTTP and receive webhooks.
//!
//! A tour, top to bottom (data flows one way; `tests/architecture.rs` fails
//! on an import cycle or a layer that reaches up):
//!
//! * [`api`]: the HTTP router and one folder per dialect (`native`,
//!   `openwa`, `cloud`, `twilio`): pure conversions of requests, responses,
//!   errors and webhook bodies, and handlers of a few lines over the core;
//!   beside them the operator routes (`/health`, `/ready`, `/metrics`,
//!   `/openapi.json`) and the dashboard and docs pages.
//! * [`core`]: what any dialect may ask: sessions, send (media, locations,
//!   cards, polls, scheduled events, statuses; idempotency; pacing), reactions, edits, stars,
//!   pins, receipts and deletes (for everyone or for this account), groups
//!   and requests to join, calls and call policies, business labels and
//!   customer notes,
//!   WhatsApp Channels (made, followed, muted, posted to),
//!   presence, the address book and privacy ids, history and chats (kept,
//!   cleared, deleted), WhatsApp Web's own search and the starred messages,
//!   deliveries, the live stream.
//!   Its `CoreError` has a stable code per case.
//! * [`session`]: the manager (registry), one driver task per session that
//!   supervises its browser, the typed [`session::Bridge`] into the page
//!   (`inject/bridge.js`), and `inbound`, which turns what the page reports
//!   into stored messages and catches up after a crash; `reaper` ends the
//!   browsers of a daemon that was killed.
//! * [`pipeline`]: store → fan-out → dispatcher: a change and its webhook
//!   deliveries in one transaction, one group flush, then the live stream.
//!   It owns webhook subscriptions.
//! * [`webhook`]: the dispatcher (retries, backoff, dead letters) and
//!   Standard Webhooks signatures; bodies come from the dialects.
//! * [`store`]: the only code that knows the database (redb).
//! * [`domain`]: types with meaning and no I/O: ids, statuses, messages,
//!   calls, events, webhooks, deliveries.
//!
//! Above the API, [`cluster`] (only with a peer list): each session lives on
//! one peer, and any peer forwards a request to the session's home.
//!
//! Beside them: [`sandbox`] (a WhatsApp Web stand-in for tests and demos),
//! [`config`] (CLI and environment), [`qr`], [`telemetry`] (metric names),
//! [`outbound`] (where URLs that callers give may lead),
//! and [`daemon`], which wires the layers together. See
//! docs/architecture.md.

pub mod api;
pub mod cluster;
pub mod config;
pub mod core;
pub mod daemon;
pub mod domain;
pub mod outbound;
pub mod pipeline;
pub mod qr;
pub mod sandbox;
pub mod session;
pub mod store;
pub mod telemetry;
pub mod webhook;

pub use daemon::{healthcheck, init_logging, run_sandbox, serve, shutdown_signal};
