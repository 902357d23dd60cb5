//! # planet
//!
//! The Changsha .NET community's planet: members' blog feeds in, one combined community feed out.
//!
//! # Layout
//! - `config`: feeds.toml, read in two stages into a validated `Config`.
//! - `model`: `Post`, `FeedState`, `Warning`, shared by everything below.
//! - `decode`: bytes to UTF-8 (BOM, HTTP charset, XML declaration, sniffing).
//! - `parse`: feed-rs plus repair and normalization into `Post`s; pure.
//! - `sanitize`: the only maker of `SafeHtml`; plain text of titles and names.
//! - `text`: plain-text helpers (XML-forbidden characters, excerpts).
//! - `fetch`: HTTP GET of one feed with validators, caps, timeouts and redirects (reqwest).
//! - `store`: posts, indexes and feed states in sled; export and import.
//! - `refresh`: one fetch pass over every member, with bounded concurrency and backoff.
//! - `render`: Atom, RSS, JSON Feed, OPML and HTML pages from posts; pure.
//! - `http`: the axum server: feeds, JSON API, site, operations.
//! - `serve`: `planet serve`: the shared service, the scheduler and reload loops.
//! - `metrics`: counters for /metrics.
//! - `check`: the member-facing diagnosis behind `planet check`.
//! - `cli`: the command line.

pub mod check;
pub mod cli;
pub mod config;
pub mod dates;
pub mod decode;
pub mod digest;
pub mod fetch;
pub mod hashing;
pub mod http;
pub mod identity;
pub mod mail;
pub mod metrics;
pub mod model;
pub mod parse;
pub mod refresh;
pub mod render;
pub mod sanitize;
pub mod serve;
pub mod service;
pub mod store;
pub mod text;
pub mod texts;
