//! The list type: a quicklist of listpack nodes (Redis 7.0's only list encoding, reported as
//! "quicklist"). List commands live in `command/list.rs`.

pub use super::quicklist::QuickList as List;
