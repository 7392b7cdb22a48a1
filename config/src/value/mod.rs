//! Value types shared by all config sections: secrets, URLs, durations, templates.
//!
//! Invariant: every type here that can hold a secret redacts it in `Debug`,
//! `Display` and `Serialize`.

pub mod conn_url;
pub mod duration;
pub mod secret;
pub mod template;
