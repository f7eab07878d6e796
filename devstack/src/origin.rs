//! The fixture origin: a small HTTP/1.1 server that serves `fixtures/` and misbehaves on
//! request, so the service can be tested against slow, compressed, huge and broken origins.
//!
//! Any path is a file under the fixture directory (`/` is `index.html`); `/generate` is a
//! generated HTML page. Query parameters, or the same as `x-fixture-NAME` request headers,
//! change how the answer is sent:
//!
//! | parameter        | effect                                                              |
//! |------------------|---------------------------------------------------------------------|
//! | `file=F`         | serve the file F (under the fixture directory) whatever the path    |
//! | `status=N`       | answer with status N                                                |
//! | `wait_ms=D`      | wait D ms before answering at all (a slow backend)                  |
//! | `type=T`         | Content-Type T (default: from the file extension; `none`: no header)|
//! | `header=N:V`     | add a header (repeatable)                                           |
//! | `bytes=N`        | with `/generate`: an HTML page of exactly N bytes, made on the fly  |
//! | `shape=S`        | with `/generate`: `paragraphs` (default), `text` (one text node),   |
//! |                  | `attribute` (one attribute value), `nested` (`<div>`s never closed),|
//! |                  | `end-tags` (stray `</div>`s), `fragment` (a fragment for includes:   |
//! |                  | `<article>`s with non-ASCII attribute values in a `<section>`),      |
//! |                  | `sections` (`<section class="t">`s, each closed, with nested         |
//! |                  | elements and text)                                                   |
//! | `chunks=N`       | send the body in N chunked-encoding pieces ...                      |
//! | `delay_ms=D`     | ... waiting D ms before each piece after the first (a drip)         |
//! | `gzip=1`         | gzip the body (Content-Encoding: gzip)                              |
//! | `gzip=corrupt`   | gzip it, then garble the compressed bytes from `garble_from` on     |
//! |                  | (default 200)                                                       |
//! | `gzip=garbage`   | label the body gzip without compressing it                          |
//! | `gzip=trailing`  | gzip it, then append bytes that are not gzip (`trailing=TEXT`,      |
//! |                  | default four NUL bytes and `garbage`)                               |
//! | `content_encoding=C` | send `Content-Encoding: C` lines (repeatable, in order) instead |
//! |                  | of the one `gzip` adds                                              |
//! | `set_cookies=N`  | add N `Set-Cookie` lines                                            |
//! | `abort_after=N`  | close the connection after N body bytes, mid-body                   |
//! | `reset_after=N`  | the same, but reset the connection (TCP RST) instead of closing it  |
//! | `stall_after=N`  | after N body bytes, go silent for `stall_ms` (default 60000), then  |
//! |                  | close                                                               |
//! | `content_length=N` | declare Content-Length N whatever the body's real length          |
//! | `chunked=1`      | chunked transfer encoding instead of Content-Length                 |

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use flate2::Compression;
use flate2::read::GzEncoder;

/// A running fixture origin; it serves until the process exits.
pub struct FixtureOrigin {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

/// A request as the origin received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// `GET`, `HEAD` ...
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
}

impl Received {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

impl FixtureOrigin {
    /// Serves `dir` on a free loopback port.
    pub fn start(dir: impl Into<PathBuf>) -> io::Result<Self> {
        Self::start_on("127.0.0.1:0", dir, false)
    }

    /// Serves `dir` on `addr`; with `log_requests`, prints one line per request to stderr.
    pub fn start_on(addr: &str, dir: impl Into<PathBuf>, log_requests: bool) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let dir = Arc::new(dir.into());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let dir = Arc::clone(&dir);
                let log = Arc::clone(&log);
                thread::spawn(move || {
                    if let Err(err) = serve_connection(stream, &dir, &log, log_requests)
                        && log_requests
                    {
                        eprintln!("fixture origin: {err}");
                    }
                });
            }
        });
        Ok(Self { addr, received })
    }

    /// Every request received so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("origin log lock").clone()
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A parsed request line and its query.
struct Ask {
    method: String,
    path: String,
    query: Vec<(String, String)>,
}

impl Ask {
    fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    fn number(&self, name: &str) -> io::Result<Option<u64>> {
        self.param(name)
            .map(|value| value.parse().map_err(|_| bad_input(format!("{name}={value} is not a number"))))
            .transpose()
    }
}

fn serve_connection(
    stream: TcpStream,
    dir: &Path,
    received: &Mutex<Vec<Received>>,
    log_requests: bool,
) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut ask = parse_request_line(&line)?;
    let mut headers = Vec::new();
    // Headers `x-fixture-NAME: value` work like the query parameter NAME, so a test can
    // steer the origin while the request URL stays exactly what rules should see.
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
            if let Some(param) = name.strip_prefix("x-fixture-") {
                ask.query.push((param.to_owned(), value.clone()));
            }
            headers.push((name, value));
        }
    }
    let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    if log_requests {
        eprintln!("fixture origin: {} {target}", ask.method);
    }
    received.lock().expect("origin log lock").push(Received { method: ask.method.clone(), target, headers });
    respond(stream, dir, &ask)
}

fn parse_request_line(line: &str) -> io::Result<Ask> {
    let mut parts = line.split_whitespace();
    let method = parts.next().ok_or_else(|| bad_input("empty request".into()))?.to_owned();
    let target = parts.next().ok_or_else(|| bad_input("no request target".into()))?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = percent_encoding::percent_decode_str(path).decode_utf8_lossy().into_owned();
    Ok(Ask { method, path, query: form_urlencoded::parse(query.as_bytes()).into_owned().collect() })
}

/// The body to send and its length when known.
struct Payload {
    reader: Box<dyn Read + Send>,
    len: Option<u64>,
    content_type: String,
    status: u16,
}

fn payload_for(dir: &Path, ask: &Ask) -> io::Result<Payload> {
    let requested = ask.param("file").map(|file| format!("/{file}"));
    let path = requested.as_deref().unwrap_or(&ask.path);
    if path == "/generate" {
        let size = ask.number("bytes")?.unwrap_or(1024);
        let shape_name = ask.param("shape").unwrap_or("paragraphs");
        let shape = Shape::named(shape_name).ok_or_else(|| {
            bad_input(format!(
                "shape={shape_name}: use paragraphs, text, attribute, nested, end-tags, fragment or sections"
            ))
        })?;
        return Ok(Payload {
            reader: Box::new(GeneratedPage::new(size, shape)),
            len: Some(size),
            content_type: "text/html; charset=utf-8".into(),
            status: 200,
        });
    }
    let relative = path.trim_start_matches('/');
    let relative = if relative.is_empty() || relative.ends_with('/') {
        format!("{relative}index.html")
    } else {
        relative.to_owned()
    };
    if relative.split('/').any(|part| part == "..") {
        return Ok(not_found());
    }
    let path = dir.join(&relative);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Payload {
            len: Some(bytes.len() as u64),
            reader: Box::new(io::Cursor::new(bytes)),
            content_type: content_type_for(&path).into(),
            status: 200,
        }),
        Err(_) => Ok(not_found()),
    }
}

fn not_found() -> Payload {
    let body = b"<!doctype html><title>Not found</title><h1>Not found</h1>\n".to_vec();
    Payload {
        len: Some(body.len() as u64),
        reader: Box::new(io::Cursor::new(body)),
        content_type: "text/html; charset=utf-8".into(),
        status: 404,
    }
}

fn content_type_for(path: &Path) -> &'static str {
    match path.extension().and_then(|ext| ext.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "xhtml" => "application/xhtml+xml",
        "css" => "text/css",
        "js" => "text/javascript",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

fn respond(mut stream: TcpStream, dir: &Path, ask: &Ask) -> io::Result<()> {
    let mut payload = payload_for(dir, ask)?;
    if let Some(status) = ask.number("status")? {
        payload.status = status as u16;
    }
    if let Some(content_type) = ask.param("type") {
        payload.content_type = content_type.to_owned();
    }
    let gzip = ask.param("gzip");
    match gzip {
        None => {}
        Some("1") => payload.reader = Box::new(GzEncoder::new(payload.reader, Compression::fast())),
        Some("corrupt") => {
            let packed = GzEncoder::new(payload.reader, Compression::fast());
            let from = ask.number("garble_from")?.unwrap_or(200);
            payload.reader = Box::new(Garbled { inner: packed, position: 0, from });
        }
        Some("garbage") => {}
        Some("trailing") => {
            let trailing = ask.param("trailing").unwrap_or("\0\0\0\0garbage").as_bytes().to_vec();
            let packed = GzEncoder::new(payload.reader, Compression::fast());
            payload.reader = Box::new(packed.chain(io::Cursor::new(trailing)));
        }
        Some(other) => return Err(bad_input(format!("gzip={other}: use 1, corrupt, garbage or trailing"))),
    }
    if gzip.is_some() {
        payload.len = None;
    }
    let declared_length = ask.number("content_length")?;
    let pieces = ask.number("chunks")?;
    let delay = Duration::from_millis(ask.number("delay_ms")?.unwrap_or(0));
    let chunked =
        declared_length.is_none() && (pieces.is_some() || payload.len.is_none() || ask.param("chunked") == Some("1"));
    let reset_after = ask.number("reset_after")?;
    let abort_after = ask.number("abort_after")?.or(reset_after);
    let stall_after = ask.number("stall_after")?;
    let stall = Duration::from_millis(ask.number("stall_ms")?.unwrap_or(60_000));

    if let Some(wait) = ask.number("wait_ms")? {
        thread::sleep(Duration::from_millis(wait));
    }
    let mut head = format!("HTTP/1.1 {} {}\r\n", payload.status, reason(payload.status));
    if payload.content_type != "none" {
        head.push_str(&format!("Content-Type: {}\r\n", payload.content_type));
    }
    head.push_str("Connection: close\r\n");
    let encodings: Vec<&str> =
        ask.query.iter().filter(|(key, _)| key == "content_encoding").map(|(_, value)| value.as_str()).collect();
    if !encodings.is_empty() {
        encodings.iter().for_each(|coding| head.push_str(&format!("Content-Encoding: {coding}\r\n")));
    } else if gzip.is_some() {
        head.push_str("Content-Encoding: gzip\r\n");
    }
    for i in 0..ask.number("set_cookies")?.unwrap_or(0) {
        head.push_str(&format!("Set-Cookie: c{i}=v{i}; Path=/\r\n"));
    }
    for (key, value) in &ask.query {
        if key == "header"
            && let Some((name, value)) = value.split_once(':')
        {
            head.push_str(&format!("{}: {}\r\n", name.trim(), value.trim()));
        }
    }
    match (chunked, declared_length.or(payload.len)) {
        (false, Some(len)) => head.push_str(&format!("Content-Length: {len}\r\n")),
        _ => head.push_str("Transfer-Encoding: chunked\r\n"),
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if ask.method == "HEAD" {
        return Ok(());
    }

    // Piece size: the body split into `chunks` parts when asked, else 64 KiB reads.
    let piece_size = match (pieces, payload.len) {
        (Some(n), Some(len)) if n > 0 => len.div_ceil(n).max(1) as usize,
        _ => 64 << 10,
    };
    let mut sent: u64 = 0;
    let mut buffer = vec![0; piece_size];
    let mut first = true;
    loop {
        let read = read_full(&mut payload.reader, &mut buffer)?;
        if read == 0 {
            break;
        }
        if !first && pieces.is_some() {
            thread::sleep(delay);
        }
        first = false;
        let mut piece = &buffer[..read];
        let mut aborting = false;
        if let Some(limit) = abort_after
            && sent + piece.len() as u64 >= limit
        {
            piece = &piece[..(limit - sent) as usize];
            aborting = true;
        }
        let mut stalling = false;
        if let Some(limit) = stall_after
            && sent + piece.len() as u64 >= limit
        {
            piece = &piece[..(limit - sent) as usize];
            stalling = true;
        }
        if chunked {
            write!(stream, "{:x}\r\n", piece.len())?;
            stream.write_all(piece)?;
            stream.write_all(b"\r\n")?;
        } else {
            stream.write_all(piece)?;
        }
        stream.flush()?;
        sent += piece.len() as u64;
        if stalling {
            // Silent with the connection open, as a hung application server would be.
            thread::sleep(stall);
            stream.shutdown(std::net::Shutdown::Both)?;
            return Ok(());
        }
        if aborting {
            // Mid-body: no terminating chunk, fewer bytes than Content-Length.
            if reset_after.is_some() {
                // Lingering for zero seconds makes the close a TCP reset.
                socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
                return Ok(());
            }
            stream.shutdown(std::net::Shutdown::Both)?;
            return Ok(());
        }
    }
    if chunked {
        stream.write_all(b"0\r\n\r\n")?;
    }
    stream.flush()
}

/// A reader whose bytes from position `from` on are garbled (for corrupt gzip streams).
struct Garbled<R> {
    inner: R,
    position: u64,
    from: u64,
}

impl<R: Read> Read for Garbled<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        for (offset, byte) in buf[..read].iter_mut().enumerate() {
            if self.position + offset as u64 >= self.from {
                *byte ^= 0x5A;
            }
        }
        self.position += read as u64;
        Ok(read)
    }
}

/// Fills `buffer` unless the reader ends first (so drip pieces have the asked size).
fn read_full(reader: &mut dyn Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn bad_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// An HTML page of exactly `size` bytes, produced as it is read: a 1 GB page costs no
/// memory. A head, a unit repeated to fill the size, a tail.
pub struct GeneratedPage {
    size: u64,
    position: u64,
    shape: Shape,
}

/// The shapes `/generate?shape=...` produces.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    head: &'static [u8],
    unit: &'static [u8],
    tail: &'static [u8],
}

impl Shape {
    /// Paragraphs with a link each (the default).
    pub const PARAGRAPHS: Shape = Shape {
        head: b"<!doctype html><html><head><title>Generated page</title></head><body><h1>Generated</h1>\n",
        unit: b"<p class=\"filler\">The quick brown cat jumps over the lazy dog, <a href=\"http://example.com/\">again</a>.</p>\n",
        tail: b"</body></html>\n",
    };
    /// One paragraph holding a single text node of the whole size.
    pub const TEXT: Shape = Shape {
        head: b"<!doctype html><html><head><title>Generated text</title></head><body><h1>Generated</h1><p>",
        unit: b"The quick brown cat jumps over the lazy dog. ",
        tail: b"</p></body></html>\n",
    };

    /// One start tag whose attribute value is the whole size.
    pub const ATTRIBUTE: Shape = Shape {
        head:
            b"<!doctype html><html><head><title>Generated attribute</title></head><body><p>The cat</p><div data-big=\"",
        unit: b"0123456789",
        tail: b"\">The cat</div></body></html>\n",
    };
    /// `<div>` after `<div>`, never closed: the deepest nesting a page can ask for.
    pub const NESTED: Shape = Shape {
        head: b"<!doctype html><html><head><title>Generated nesting</title></head><body><p>The cat</p>",
        unit: b"<div>",
        tail: b"The cat</body></html>\n",
    };
    /// Sections one after the other, each with nested elements and text and always closed:
    /// a rule on `section.t` has its element open most of the time.
    pub const SECTIONS: Shape = Shape {
        head: b"<!doctype html><html><head><title>Generated sections</title></head><body><h1>Generated</h1>\n",
        unit: b"<section class=\"t\"><h2>Part</h2><p>The quick brown cat jumps over the lazy dog, <a href=\"http://example.com/\">again</a>.</p><div><p>More about cats and dogs, <b>bold</b> and <i>slanted</i>.</p></div></section>\n",
        tail: b"<footer>The end</footer></body></html>\n",
    };
    /// End tags with no element to close.
    pub const END_TAGS: Shape = Shape {
        head: b"<!doctype html><html><head><title>Generated end tags</title></head><body><p>The cat</p>",
        unit: b"</div>",
        tail: b"<p>The cat</p></body></html>\n",
    };

    /// Not a page but a fragment to include: deals with non-ASCII text in attribute values
    /// and text, in a `<section>`.
    pub const FRAGMENT: Shape = Shape {
        head: b"<section class=\"deals\">\n",
        unit: "<article class=\"deal\"><a href=\"/deal\" title=\"Käse für Grüße ✓\">Käse – 20 %</a></article>\n"
            .as_bytes(),
        tail: b"</section>\n",
    };

    /// The unit repeated to fill the page.
    pub fn unit(&self) -> &'static [u8] {
        self.unit
    }

    /// The shape called `name` in a query.
    pub fn named(name: &str) -> Option<Shape> {
        match name {
            "paragraphs" => Some(Shape::PARAGRAPHS),
            "text" => Some(Shape::TEXT),
            "attribute" => Some(Shape::ATTRIBUTE),
            "nested" => Some(Shape::NESTED),
            "end-tags" => Some(Shape::END_TAGS),
            "fragment" => Some(Shape::FRAGMENT),
            "sections" => Some(Shape::SECTIONS),
            _ => None,
        }
    }
}

impl GeneratedPage {
    /// A page of `size` bytes in `shape` (a tiny size gives a truncated head, still `size` bytes).
    pub fn new(size: u64, shape: Shape) -> Self {
        Self { size, position: 0, shape }
    }

    fn byte_at(&self, position: u64) -> u8 {
        let Shape { head, unit, tail } = self.shape;
        let (head_len, tail_len, unit_len) = (head.len() as u64, tail.len() as u64, unit.len() as u64);
        if self.size < head_len + tail_len {
            return b' ';
        }
        if position < head_len {
            return head[position as usize];
        }
        if position >= self.size - tail_len {
            return tail[(position - (self.size - tail_len)) as usize];
        }
        let offset = (position - head_len) % unit_len;
        // The last unit may be cut short; pad it with spaces, never half a tag.
        if position - offset + unit_len > self.size - tail_len {
            return b' ';
        }
        unit[offset as usize]
    }
}

impl Read for GeneratedPage {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let remaining = self.size - self.position;
        let n = (buf.len() as u64).min(remaining) as usize;
        for (i, byte) in buf[..n].iter_mut().enumerate() {
            *byte = self.byte_at(self.position + i as u64);
        }
        self.position += n as u64;
        Ok(n)
    }
}

/// Query parameters for a fixture URL, e.g. `query(&[("chunks", "5")])` gives `?chunks=5`.
pub fn query(params: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (key, value) in params {
        out.push(if out.is_empty() { '?' } else { '&' });
        out.push_str(key);
        out.push('=');
        for byte in value.bytes() {
            match byte {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b':' => out.push(byte as char),
                _ => out.push_str(&format!("%{byte:02X}")),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pages_have_the_exact_size_and_shape() {
        for size in [0, 10, 200, 1000, 100_003] {
            let mut page = Vec::new();
            GeneratedPage::new(size, Shape::PARAGRAPHS).read_to_end(&mut page).unwrap();
            assert_eq!(page.len() as u64, size);
            if size >= 200 {
                let text = String::from_utf8(page).unwrap();
                assert!(text.starts_with("<!doctype html>"));
                assert!(text.ends_with("</body></html>\n"));
            }
        }
    }

    #[test]
    fn a_text_shaped_page_is_one_text_node() {
        let mut page = String::new();
        GeneratedPage::new(10_000, Shape::TEXT).read_to_string(&mut page).unwrap();
        let body = page.split("<p>").nth(1).unwrap();
        assert!(!body.trim_end_matches("</p></body></html>\n").contains('<'));
        assert_eq!(page.len(), 10_000);
    }

    #[test]
    fn request_lines_are_parsed() {
        let ask = parse_request_line("GET /a%20b.html?chunks=3&header=X-Y:%20z HTTP/1.1\r\n").unwrap();
        assert_eq!(ask.path, "/a b.html");
        assert_eq!(ask.param("chunks"), Some("3"));
        assert_eq!(ask.param("header"), Some("X-Y: z"));
    }
}
