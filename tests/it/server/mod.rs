//! `planet serve` end to end: every route, filter and error through the real server.

pub mod app;
mod browser;
mod budget;
mod cache_abuse;
mod clients;
mod compression;
mod connections;
mod damage;
mod disk_full;
mod feeds;
mod lifecycle;
mod moderation;
mod nginx_cache;
mod pages;
mod posts_api;
pub mod push;
mod push_river;
pub mod readers;
mod river;
mod same_article;
mod settle;
mod websub;
