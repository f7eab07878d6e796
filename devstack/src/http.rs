//! A deliberately small HTTP/1.1 client for end-to-end tests.
//!
//! Real client libraries hide exactly what these tests must see: when the first body byte
//! arrived, and whether a body ended properly (final chunk, full Content-Length) or was cut.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

/// A response as it came off the wire.
#[derive(Debug, Clone, Default)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body, decoded from chunked framing; at most `keep` bytes of it (see [`Request`]).
    pub body: Vec<u8>,
    /// The full body length received.
    pub body_len: u64,
    /// True when the body ended as its framing says it should.
    pub complete: bool,
    /// Why the body is incomplete, when it is.
    pub failure: Option<String>,
    /// From sending the request to receiving the first body byte.
    pub first_body_byte: Option<Duration>,
    /// From sending the request to the end of the body.
    pub elapsed: Duration,
}

impl HttpResponse {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(key, _)| *key == name).map(|(_, value)| value.as_str())
    }

    /// The kept body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    keep: usize,
    timeout: Duration,
    local_ip: Option<IpAddr>,
}

/// `GET url`.
pub fn get(url: &str) -> Request {
    Request::new("GET", url)
}

impl Request {
    /// A request with `method` to `url` (`http://host:port/path`).
    pub fn new(method: &str, url: &str) -> Self {
        Self {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            keep: usize::MAX,
            timeout: Duration::from_secs(120),
            local_ip: None,
        }
    }

    /// Connects from this local address, e.g. `127.0.0.2`: Viceroy geolocates the client by
    /// its TCP address, so this is how a test comes from another place (fastly.toml's
    /// `[local_server.geolocation]`).
    pub fn from_ip(mut self, ip: IpAddr) -> Self {
        self.local_ip = Some(ip);
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Keeps only the first `bytes` of the body (the length is still counted): for huge pages.
    pub fn keep(mut self, bytes: usize) -> Self {
        self.keep = bytes;
        self
    }

    /// Gives up when the server is silent this long.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends the request and reads the whole response. `Err` only when no status line came.
    pub fn send(self) -> io::Result<HttpResponse> {
        let rest = self
            .url
            .strip_prefix("http://")
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "only http:// URLs"))?;
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, "/"),
        };
        let started = Instant::now();
        let mut stream = connect(authority, self.local_ip)?;
        stream.set_read_timeout(Some(self.timeout))?;
        let mut head = format!("{} {path} HTTP/1.1\r\nConnection: close\r\n", self.method);
        if !self.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
            head.push_str(&format!("Host: {authority}\r\n"));
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;

        let mut reader = BufReader::new(stream);
        let mut response = HttpResponse::default();
        let mut status_line = String::new();
        reader.read_line(&mut status_line)?;
        response.status =
            status_line.split_whitespace().nth(1).and_then(|code| code.parse().ok()).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, format!("bad status line {status_line:?}"))
            })?;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                response.headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }

        let mut body = BodyReader { response: &mut response, keep: self.keep, started };
        let has_no_body = self.method == "HEAD" || matches!(body.response.status, 204 | 304);
        let outcome = if has_no_body {
            Ok(())
        } else if body.response.header("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
            body.read_chunked(&mut reader)
        } else if let Some(length) = body.response.header("content-length") {
            let length: u64 =
                length.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
            body.read_exact_len(&mut reader, length)
        } else {
            body.read_to_close(&mut reader)
        };
        response.elapsed = started.elapsed();
        match outcome {
            Ok(()) => response.complete = true,
            Err(err) => response.failure = Some(err.to_string()),
        }
        Ok(response)
    }
}

/// A connection to `authority`, from `local_ip` (any port) if given.
fn connect(authority: &str, local_ip: Option<IpAddr>) -> io::Result<TcpStream> {
    let Some(local_ip) = local_ip else { return TcpStream::connect(authority) };
    let remote = authority
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{authority}: no address")))?;
    let socket = Socket::new(Domain::for_address(remote), Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(local_ip, 0).into())?;
    socket.connect(&remote.into())?;
    Ok(socket.into())
}

struct BodyReader<'a> {
    response: &'a mut HttpResponse,
    keep: usize,
    started: Instant,
}

impl BodyReader<'_> {
    fn take(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.response.first_body_byte.is_none() {
            self.response.first_body_byte = Some(self.started.elapsed());
        }
        let room = self.keep.saturating_sub(self.response.body.len());
        self.response.body.extend_from_slice(&bytes[..room.min(bytes.len())]);
        self.response.body_len += bytes.len() as u64;
    }

    fn read_chunked(&mut self, reader: &mut impl BufRead) -> io::Result<()> {
        let mut buffer = vec![0; 64 << 10];
        loop {
            let mut size_line = String::new();
            if reader.read_line(&mut size_line)? == 0 {
                return Err(cut("connection closed before the final chunk"));
            }
            let size_text = size_line.trim().split(';').next().unwrap_or("");
            let mut size = u64::from_str_radix(size_text, 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad chunk size {size_line:?}")))?;
            if size == 0 {
                // Trailers, then the blank line that ends the message.
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        return Ok(());
                    }
                }
            }
            while size > 0 {
                let want = (size as usize).min(buffer.len());
                let read = reader.read(&mut buffer[..want])?;
                if read == 0 {
                    return Err(cut("connection closed inside a chunk"));
                }
                self.take(&buffer[..read]);
                size -= read as u64;
            }
            let mut crlf = String::new();
            reader.read_line(&mut crlf)?;
        }
    }

    fn read_exact_len(&mut self, reader: &mut impl Read, length: u64) -> io::Result<()> {
        let mut buffer = vec![0; 64 << 10];
        let mut remaining = length;
        while remaining > 0 {
            let want = (remaining as usize).min(buffer.len());
            let read = reader.read(&mut buffer[..want])?;
            if read == 0 {
                return Err(cut(&format!("connection closed {remaining} bytes short of Content-Length")));
            }
            self.take(&buffer[..read]);
            remaining -= read as u64;
        }
        Ok(())
    }

    fn read_to_close(&mut self, reader: &mut impl Read) -> io::Result<()> {
        let mut buffer = vec![0; 64 << 10];
        loop {
            let read = reader.read(&mut buffer)?;
            if read == 0 {
                return Ok(());
            }
            self.take(&buffer[..read]);
        }
    }
}

fn cut(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, why.to_owned())
}
