//! Transport: listening sockets (`listen`), a client's connection with its socket and buffers
//! (`connection`), and the busy-poll window (`busy_poll`). The session state commands work on
//! is `crate::engine::session`; the event loop that drives them is `crate::app::event_loop`.

pub(crate) mod busy_poll;
pub(crate) mod connection;
pub(crate) mod listen;
