//! Persistence: the fork machinery (`child`) and, later, the RDB and AOF formats.

pub mod child;
