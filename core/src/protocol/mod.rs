//! The wire protocol: parsing requests (RESP multibulk and inline) and encoding replies in
//! RESP2 or RESP3. It owns bytes only; it knows nothing of clients' sockets or the keyspace.

pub mod reply;
pub mod request;

/// The protocol versions HELLO can select.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Resp {
    V2 = 2,
    V3 = 3,
}
