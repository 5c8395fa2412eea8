//! Persistence: the fork machinery (`child`), the RDB format (`rdb`) and, later, the AOF.

pub mod child;
pub mod rdb;
