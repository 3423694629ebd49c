//! kimi-native: the domain lives in plain modules (unit-tested with `cargo test`, no Node);
//! `binding` is the only place that knows about napi.

pub mod api_error;
pub mod auth;
pub mod browser;
pub mod cancel;
pub mod claude_code;
pub mod config;
pub mod constants;
pub mod error;
pub mod fetch;
pub mod http;
pub mod identity;
pub mod import;
pub mod lock;
pub mod models;
pub mod oauth;
pub mod platform;
pub mod pool;
pub mod qr;
pub mod shaping;
pub mod store;
pub mod task;
pub mod token;
pub mod usage;

// The napi layer only exists in the addon; unit tests exercise the plain modules.
#[cfg(not(test))]
mod binding;
