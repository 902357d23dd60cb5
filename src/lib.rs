//! # planet
//!
//! The Changsha .NET community's planet: members' blog feeds in, one combined community feed out.
//!
//! # Layout
//! Roughly from the ground floor up (ARCHITECTURE.md has the data flow and the invariants).
//! - `model`: `MemberId`, `Post`, `FeedState`, `Warning`, shared by everything below.
//! - `dates`, `identity`, `hashing`, `text`, `texts`: date parsing as feeds write dates,
//!   stable post ids and link keys, the one hash, plain-text helpers, interface texts.
//! - `config`: feeds.toml, read in two stages into a validated `Config`.
//! - `decode`: bytes to UTF-8 (BOM, HTTP charset, XML declaration, sniffing).
//! - `sanitize`: the only maker of `SafeHtml`; plain text of titles and names.
//! - `parse`: feed-rs plus repair and normalization into `Post`s; pure.
//! - `check`: the member-facing diagnosis behind `planet check`.
//! - `fetch`: HTTP GET of one feed with validators, caps, timeouts and redirects (reqwest).
//! - `store`: posts, indexes, feed states, subscribers and deliveries in sled; export, import.
//! - `search`: the full-text index beside the store (tantivy), CJK bigrams, query parsing,
//!   snippets; kept up to date from the store's outbox.
//! - `refresh`: one fetch pass over every member, with bounded concurrency and backoff.
//! - `digest`: ISO weeks and the pure composition of a week's digest; `digest::load` reads
//!   the store, `digest::send` mails it exactly once per recipient.
//! - `mail`: SMTP delivery (lettre), the only module that imports it.
//! - `notify`: group-robot and webhook messages, their signatures, rate limits and which
//!   queued posts a target gets; pure. `service` delivers them.
//! - `websub`: WebSub discovery and signatures, pure; `service` and `http` subscribe, ping
//!   and take content in.
//! - `render`: Atom, RSS, JSON Feed, OPML, HTML pages and the digest's forms; pure.
//! - `metrics`: counters for /metrics.
//! - `memory`: what planet asks of glibc's allocator (few arenas, a trim after each pass).
//! - `service`: the state the server, the loops and the commands share, and its single steps.
//! - `http`: the axum server: feeds, JSON API, site, digest, subscriptions, operations.
//! - `serve`: `planet serve`: runs the HTTP server and the scheduler, digest and reload loops.
//! - `cli`: the command line.

pub mod check;
pub mod cli;
pub mod config;
pub mod dates;
pub mod decode;
pub mod dedupe;
pub mod digest;
pub mod fetch;
pub mod hashing;
pub mod http;
pub mod identity;
pub mod mail;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod parse;
pub mod per_version;
pub mod refresh;
pub mod render;
pub mod river;
pub mod sanitize;
pub mod search;
pub mod serve;
pub mod service;
pub mod store;
pub mod text;
pub mod texts;
pub mod websub;
