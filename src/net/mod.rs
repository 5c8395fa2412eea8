//! Transport: listening sockets (`listen`), a client's connection with its buffers and
//! session state (`client`), and the busy-poll window (`busy_poll`). The event loop that
//! drives them is `crate::app::event_loop`.

pub mod busy_poll;
pub mod client;
pub mod listen;
