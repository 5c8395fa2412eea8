//! Session state that belongs to a client but not to its connection: for now, the MULTI state
//! (the queued commands of a transaction). It lives in engine, not in `commands` where MULTI
//! and EXEC are handled, so that the client (`net::client::Client`) can hold it without the
//! transport layer importing the command layer; the rest of the session (db, protocol, auth,
//! watched keys, subscriptions, what a client is blocked on) is still on `Client` itself.

/// The queued commands of a client inside MULTI.
#[derive(Default)]
pub struct MultiState {
    pub commands: Vec<Vec<Vec<u8>>>,
    /// A queued command was rejected: EXEC must abort.
    pub errored: bool,
}
