//! Listening sockets: every `bind` address on `port` (TCP, IPv4 and IPv6), and `unixsocket`.
//!
//! Addresses follow Redis's rules: `*` is every IPv4 address, `::*` every IPv6 one, and a
//! leading `-` marks an address that may be missing on this host (skipped with a warning
//! instead of failing startup). IPv6 sockets are IPV6_V6ONLY so `0.0.0.0` and `::` can share
//! the port. `port 0` means no TCP listener.
//!
//! What to bind comes in as a [`ListenSpec`] of plain values (the top layer fills it from the
//! configuration), so transport knows nothing of the directive table.

use std::io;
use std::net::{IpAddr, SocketAddr};

use mio::net::{TcpListener, UnixListener};
use mio::{Interest, Registry, Token};
use socket2::{Domain, Socket, Type};

use tine_core::log;
use tine_core::log::Level;

pub(crate) enum Listener {
    Tcp(TcpListener),
    /// The listener and its path.
    Unix(UnixListener, String),
}

/// What to listen on: the `bind`, `port`, `tcp-backlog`, `unixsocket` and `unixsocketperm`
/// directives' values.
pub(crate) struct ListenSpec {
    /// The `bind` addresses, as written (`*`, `::*`, a leading `-` for optional ones).
    pub(crate) bind: Vec<String>,
    /// The TCP port; 0 for no TCP listener.
    pub(crate) port: i64,
    pub(crate) tcp_backlog: i64,
    /// The unix socket's path; empty for none.
    pub(crate) unixsocket: String,
    /// Its permissions; 0 leaves them as created.
    pub(crate) unixsocketperm: i64,
}

/// The bound listeners; listener `i` is registered with `Token(i)`.
pub(crate) struct Listeners {
    list: Vec<Listener>,
    /// The TCP port bound (0 when none).
    pub(crate) port: u16,
}

impl Listeners {
    pub(crate) fn bind(config: &ListenSpec, registry: &Registry) -> io::Result<Listeners> {
        let mut list = Vec::new();
        let mut port = 0u16;
        if config.port != 0 {
            for addr in &config.bind {
                let (optional, host) = match addr.strip_prefix('-') {
                    Some(h) => (true, h.to_string()),
                    None => (false, addr.clone()),
                };
                let ip: IpAddr = match host.as_str() {
                    "*" => "0.0.0.0".parse().unwrap(),
                    "::*" => "::".parse().unwrap(),
                    h => match h.parse() {
                        Ok(ip) => ip,
                        Err(_) => {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidInput,
                                format!(
                                    "Could not create server TCP listening socket {}:{}: Name or service not known",
                                    h, config.port
                                ),
                            ));
                        }
                    },
                };
                match bind_tcp(SocketAddr::new(ip, config.port as u16), config.tcp_backlog as i32) {
                    Ok(l) => {
                        port = l.local_addr()?.port();
                        list.push(Listener::Tcp(l));
                    }
                    Err(e)
                        if optional
                            && matches!(
                                e.raw_os_error(),
                                Some(libc::EADDRNOTAVAIL)
                                    | Some(libc::EAFNOSUPPORT)
                                    | Some(libc::EPROTONOSUPPORT)
                            ) =>
                    {
                        log!(Level::Notice, "Skipping optional bind address {}: {}", host, e);
                    }
                    Err(e) => {
                        return Err(io::Error::new(
                            e.kind(),
                            format!(
                                "Could not create server TCP listening socket {}:{}: {}",
                                host, config.port, e
                            ),
                        ));
                    }
                }
            }
        }
        if !config.unixsocket.is_empty() {
            let path = config.unixsocket.clone();
            let _ = std::fs::remove_file(&path);
            let l = UnixListener::bind(&path).map_err(|e| {
                io::Error::new(e.kind(), format!("Failed opening Unix socket: {}", e))
            })?;
            if config.unixsocketperm != 0 {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(
                    &path,
                    std::fs::Permissions::from_mode(config.unixsocketperm as u32),
                )?;
            }
            list.push(Listener::Unix(l, path));
        }
        for (i, l) in list.iter_mut().enumerate() {
            match l {
                Listener::Tcp(t) => registry.register(t, Token(i), Interest::READABLE)?,
                Listener::Unix(u, _) => registry.register(u, Token(i), Interest::READABLE)?,
            }
        }
        Ok(Listeners { list, port })
    }

    pub(crate) fn get_mut(&mut self, token: Token) -> Option<&mut Listener> {
        self.list.get_mut(token.0)
    }

    pub(crate) fn deregister(&mut self, registry: &Registry) {
        for l in self.list.iter_mut() {
            let _ = match l {
                Listener::Tcp(t) => registry.deregister(t),
                Listener::Unix(u, _) => registry.deregister(u),
            };
        }
    }

    /// Raw descriptors, which a fork child closes first thing.
    pub(crate) fn raw_fds(&self) -> Vec<i32> {
        use std::os::fd::AsRawFd;
        self.list
            .iter()
            .map(|l| match l {
                Listener::Tcp(t) => t.as_raw_fd(),
                Listener::Unix(u, _) => u.as_raw_fd(),
            })
            .collect()
    }
}

fn bind_tcp(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let domain = if addr.is_ipv6() { Domain::IPV6 } else { Domain::IPV4 };
    let sock = Socket::new(domain, Type::STREAM, None)?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(backlog)?;
    let std_listener: std::net::TcpListener = sock.into();
    Ok(TcpListener::from_std(std_listener))
}
