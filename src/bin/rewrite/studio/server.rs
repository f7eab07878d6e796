//! The studio's HTTP server: tiny_http on 127.0.0.1, one request at a time (one editor, and
//! saves never race), each passed by the [`Guard`] before anything else, and every answer
//! sent with headers that keep it to the studio: a strict Content-Security-Policy (the
//! studio's own script only; the pages it previews inherit it, so their scripts run nowhere),
//! no framing by other sites, no referrer, no caching, and never a CORS header.

use std::io::Read;

use tiny_http::{Header, Method, Request, Response, Server};

use super::routes::{self, Answer};
use super::token::{Asked, Guard, TOKEN_HEADER, Token};
use super::workspace::Workspace;

/// Request bodies larger than this are refused: a rule is a few kilobytes.
const MAX_BODY: u64 = 4 << 20;

/// The policy on every answer. Previews are `srcdoc` frames, which inherit it: their images
/// and styles load (as a browser would show the page), their scripts never do (the frames are
/// sandboxed without `allow-scripts` as well).
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline' http: https:; \
                      img-src 'self' data: http: https:; font-src data: http: https:; connect-src 'self'; \
                      frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub struct Studio {
    server: Server,
    guard: Guard,
    workspace: Workspace,
    /// The attribute the previews number elements in: random, so no page or rule can
    /// imitate it.
    attribute: String,
}

impl Studio {
    /// Listens on 127.0.0.1 (`port` 0: a free port).
    pub fn bind(port: u16, workspace: Workspace) -> Result<Studio, String> {
        let server =
            Server::http(("127.0.0.1", port)).map_err(|err| format!("listening on 127.0.0.1:{port}: {err}"))?;
        let port = server.server_addr().to_ip().map(|addr| addr.port()).ok_or("the studio has no port")?;
        let token = Token::random()?;
        let attribute = format!("data-studio-{}", &Token::random()?.as_str()[..8]);
        Ok(Studio { server, guard: Guard::new(token, port), workspace, attribute })
    }

    /// The URL to open: the studio's address and its token.
    pub fn url(&self) -> String {
        let port = self.server.server_addr().to_ip().map_or(0, |addr| addr.port());
        format!("http://127.0.0.1:{port}/?token={}", self.guard.token().as_str())
    }

    /// Answers requests until the process ends.
    pub fn serve(&self) {
        for request in self.server.incoming_requests() {
            self.answer(request);
        }
    }

    fn answer(&self, mut request: Request) {
        let header = |name: &str| {
            request
                .headers()
                .iter()
                .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
                .map(|h| h.value.as_str().to_owned())
        };
        let (host, origin, fetch_site, token) =
            (header("host"), header("origin"), header("sec-fetch-site"), header(TOKEN_HEADER));
        let (path, query) = request.url().split_once('?').unwrap_or((request.url(), ""));
        let path = path.to_owned();
        let query_token = form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "token")
            .map(|(_, value)| value.into_owned());
        let asked = Asked {
            host: host.as_deref(),
            origin: origin.as_deref(),
            fetch_site: fetch_site.as_deref(),
            header_token: token.as_deref(),
            query_token,
        };
        let answer = match self.guard.check(&asked) {
            Err(refused) => {
                crate::logger::note(&format!("studio: refused {} {path}: {refused}", request.method()));
                Answer::text(403, refused.to_string())
            }
            Ok(()) => {
                let mut body = String::new();
                let read = request.as_reader().take(MAX_BODY + 1).read_to_string(&mut body);
                match read {
                    Err(err) => Answer::text(400, format!("the request's body cannot be read: {err}")),
                    Ok(n) if n as u64 > MAX_BODY => Answer::text(413, "the request is too large".to_owned()),
                    Ok(_) => {
                        let method = if *request.method() == Method::Post { "POST" } else { "GET" };
                        let context = routes::Context {
                            workspace: &self.workspace,
                            attribute: &self.attribute,
                            token: self.guard.token().as_str(),
                        };
                        if matches!(request.method(), Method::Get | Method::Post) {
                            routes::route(&context, method, &path, &body)
                        } else {
                            Answer::text(405, "the studio answers GET and POST only".to_owned())
                        }
                    }
                }
            }
        };
        let _ = request.respond(respond(answer));
    }
}

fn respond(answer: Answer) -> Response<std::io::Cursor<Vec<u8>>> {
    let mut response = Response::from_data(answer.body).with_status_code(answer.status);
    let headers = [
        ("Content-Type", answer.content_type),
        ("Content-Security-Policy", POLICY),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
    ];
    for (name, value) in headers {
        if let Ok(header) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(header);
        }
    }
    response
}
