//! planet's integration tests: one binary, one module per concern. Everything runs offline
//! against servers on 127.0.0.1 started by the tests themselves.

mod cli;
mod corpus;
mod digest;
mod fetching;
mod helpers;
mod identity;
mod limits;
mod notify;
mod properties;
mod push_crash;
mod robots;
mod search;
mod server;
mod ssrf;
mod tidy;
