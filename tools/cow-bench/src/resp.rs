//! A small blocking RESP2 client over `std::net::TcpStream`: commands are queued into a write
//! buffer (so a caller can pipeline), flushed, and replies read back one by one.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The reply as text (status, bulk, integer), for messages and INFO.
    pub fn text(&self) -> String {
        match self {
            Reply::Status(s) | Reply::Error(s) => s.clone(),
            Reply::Int(n) => n.to_string(),
            Reply::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            Reply::Bulk(None) | Reply::Array(None) => "(nil)".into(),
            Reply::Array(Some(items)) => {
                items.iter().map(|r| r.text()).collect::<Vec<_>>().join(" ")
            }
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

/// One connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    wbuf: Vec<u8>,
    queued: usize,
}

impl Conn {
    pub fn connect(host: &str, port: u16, timeout: Duration) -> io::Result<Conn> {
        let stream = TcpStream::connect((host, port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Conn {
            reader: BufReader::with_capacity(64 * 1024, stream.try_clone()?),
            writer: stream,
            wbuf: Vec::with_capacity(64 * 1024),
            queued: 0,
        })
    }

    /// Queues a command (nothing is sent until `flush`).
    pub fn queue<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        encode(&mut self.wbuf, args);
        self.queued += 1;
    }

    /// Sends everything queued.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.wbuf.is_empty() {
            self.writer.write_all(&self.wbuf)?;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Flushes and reads one reply for each queued command.
    pub fn drain(&mut self) -> io::Result<Vec<Reply>> {
        self.flush()?;
        let n = std::mem::take(&mut self.queued);
        (0..n).map(|_| self.read_reply()).collect()
    }

    /// Flushes and reads the replies of every queued command, keeping only the number of
    /// errors and the first one (the write driver's hot path).
    pub fn drain_count_errors(&mut self) -> io::Result<(u64, Option<String>)> {
        self.flush()?;
        let n = std::mem::take(&mut self.queued);
        let mut errors = 0;
        let mut first = None;
        for _ in 0..n {
            if let Reply::Error(e) = self.read_reply()? {
                errors += 1;
                first.get_or_insert(e);
            }
        }
        Ok((errors, first))
    }

    /// Sends one command and reads its reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Reply> {
        self.queue(args);
        let mut r = self.drain()?;
        Ok(r.pop().expect("one reply"))
    }

    /// INFO `section` as name -> value.
    pub fn info(&mut self, section: &str) -> io::Result<HashMap<String, String>> {
        let r = self.cmd(&["INFO", section])?;
        if let Reply::Error(e) = r {
            return Err(io::Error::other(format!("INFO {}: {}", section, e)));
        }
        Ok(parse_info(&r.text()))
    }

    /// Reads one reply.
    pub fn read_reply(&mut self) -> io::Result<Reply> {
        let line = self.line()?;
        let (t, rest) = line.split_at(1);
        let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("bad reply {:?}", line));
        match t {
            "+" => Ok(Reply::Status(rest.to_string())),
            "-" => Ok(Reply::Error(rest.to_string())),
            ":" => rest.parse().map(Reply::Int).map_err(|_| bad()),
            "$" => {
                let n: i64 = rest.parse().map_err(|_| bad())?;
                if n < 0 {
                    return Ok(Reply::Bulk(None));
                }
                let mut b = vec![0u8; n as usize + 2];
                io::Read::read_exact(&mut self.reader, &mut b)?;
                b.truncate(n as usize);
                Ok(Reply::Bulk(Some(b)))
            }
            "*" => {
                let n: i64 = rest.parse().map_err(|_| bad())?;
                if n < 0 {
                    return Ok(Reply::Array(None));
                }
                let items = (0..n).map(|_| self.read_reply()).collect::<io::Result<Vec<_>>>()?;
                Ok(Reply::Array(Some(items)))
            }
            _ => Err(bad()),
        }
    }

    fn line(&mut self) -> io::Result<String> {
        let mut buf = Vec::new();
        self.reader.read_until(b'\n', &mut buf)?;
        if buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed by the server",
            ));
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        if buf.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "empty reply line"));
        }
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}

/// Appends `args` as a RESP multibulk.
pub fn encode<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(a.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// INFO text as name -> value.
pub fn parse_info(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// A numeric INFO field.
pub fn info_u64(info: &HashMap<String, String>, name: &str) -> Option<u64> {
    info.get(name).and_then(|v| v.parse().ok())
}

pub fn info_i64(info: &HashMap<String, String>, name: &str) -> Option<i64> {
    info.get(name).and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_multibulk() {
        let mut out = Vec::new();
        encode(&mut out, &["SET", "k", ""]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }

    #[test]
    fn parses_info() {
        let i = parse_info("# Persistence\r\nrdb_last_cow_size:4096\r\nx:y:z\r\n");
        assert_eq!(info_u64(&i, "rdb_last_cow_size"), Some(4096));
        assert_eq!(i.get("x").map(String::as_str), Some("y:z"));
    }
}
