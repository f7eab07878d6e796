//! What a rule can know about the request it runs for: the facts conditions test and
//! templates print. The service fills it from Fastly's request; the CLI from `--url` and
//! `--header`.

use std::time::{SystemTime, UNIX_EPOCH};

use super::audience::{CONTINENTS, DeviceType, Geo};
use crate::http::time::parse_rfc3339;

/// The facts `@name value` lines and `--fact name=value` may set.
pub const FACTS: &str = "@client-ip, @country (or @geo.country), @geo.continent, @geo.region, @geo.city, @geo.asn, \
                         @device.type, @new-visitor-id, @variant, @now, @status, @content-type, @csp-nonce";

/// Why a request (a URL, a simulated request, a fact, a `Host` header) cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The URL's host is not a host name.
    #[error("{url:?}: {host}")]
    UrlHost {
        /// The URL as given.
        url: String,
        /// What is wrong with its host.
        host: HostError,
    },
    /// The URL's scheme is neither http nor https.
    #[error("{url:?}: only http and https URLs are supported, not {scheme}")]
    Scheme {
        /// The URL as given.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// Neither an absolute URL nor a path.
    #[error("{0:?} is not a URL: give https://host/path or /path")]
    NotAUrl(String),
    /// A simulated request without a request line.
    #[error("a simulated request starts with a line like `GET https://example.com/`")]
    NoRequestLine,
    /// A request line that is not `METHOD URL`.
    #[error("{0:?}: expected `METHOD URL`, e.g. `GET https://example.com/`")]
    RequestLine(String),
    /// A line that is neither a header nor a fact.
    #[error("{0:?}: expected a header `Name: value` or a fact `@name value`")]
    Line(String),
    /// An `@now` that is not an RFC 3339 time.
    #[error(transparent)]
    Now(#[from] crate::http::time::TimeError),
    /// An `@status` that is not an HTTP status.
    #[error("@status {0:?} is not an HTTP status")]
    Status(String),
    /// A fact with a name that is not one of the facts.
    #[error("unknown fact @{0}; the facts are {FACTS}")]
    UnknownFact(String),
    /// An `@country` that is not a country code (a name, say).
    #[error(
        "@country {0:?} is not a country code: write the ISO 3166-1 alpha-2 code, two letters, e.g. DE for Germany"
    )]
    Country(String),
    /// An `@geo.continent` that is not a continent code.
    #[error("@geo.continent {0:?} is not a continent code: write one of AF, AN, AS, EU, NA, OC, SA (EU for Europe)")]
    Continent(String),
    /// An `@geo.asn` that is not a number.
    #[error("@geo.asn {0:?} is not an AS number, e.g. 3320")]
    Asn(String),
    /// An `@device.type` that is not one of the types.
    #[error("@device.type {0:?} is not a device type: mobile, tablet, desktop or bot")]
    Device(String),
    /// A `@variant` that is not `EXPERIMENT=VARIANT`.
    #[error("@variant {0:?}: write the experiment and its variant, e.g. hero-2026=big-cta")]
    Variant(String),
    /// The `Host` header is not a host name.
    #[error("Host header: {0}")]
    HostHeader(HostError),
}

/// An authority (a `Host` header value, a URL's `host[:port]`, a sites map key) that is not
/// a host name: the authority, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{authority:?} is not a host name ({why})")]
pub struct HostError {
    /// The authority as given.
    pub authority: String,
    /// What is wrong with it.
    pub why: &'static str,
}

/// The request (and response status and type) a page is rewritten for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// `GET`, `HEAD` ...
    pub method: String,
    /// Lower-cased host, without the port.
    pub host: String,
    /// `http` or `https`, as the client asked.
    pub scheme: String,
    /// The port the client asked on, when its `Host` (or URL) names one.
    pub port: Option<u16>,
    /// The path as requested (percent-encoding kept), without the query.
    pub path: String,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Request headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// Cookies from the `Cookie` header.
    pub cookies: Vec<(String, String)>,
    /// The client's IP address.
    pub client_ip: Option<String>,
    /// The client's country (ISO 3166-1 alpha-2, from Fastly's geolocation).
    pub country: Option<String>,
    /// Where the client is beyond its country: continent, region, city, network.
    pub geo: Geo,
    /// The client's kind of device, from its User-Agent; `None` when unknown.
    pub device: Option<DeviceType>,
    /// The id the service gives a visitor who has no visitor cookie yet (random, from the
    /// adapter): experiments bucket such a visitor by it, and the service then sets the cookie.
    pub new_visitor_id: Option<String>,
    /// Experiment variants, by experiment id. Given before planning, a pair forces that
    /// variant (QA: the service honours it only with the preview token). Planning works on a
    /// copy that holds every variant it assigned, which conditions and templates read.
    pub variants: Vec<(String, String)>,
    /// When the request is handled, in seconds since the Unix epoch.
    pub now: i64,
    /// The response status.
    pub status: u16,
    /// The response's `Content-Type`, e.g. `text/html; charset=utf-8`.
    pub content_type: Option<String>,
    /// The nonce the response's Content-Security-Policy allows scripts and styles by:
    /// injected `<script>` and `<style>` elements get it.
    pub csp_nonce: Option<String>,
}

impl Default for RequestContext {
    /// `GET http://localhost/`, answered `200 text/html`, now.
    fn default() -> Self {
        Self {
            method: "GET".into(),
            host: "localhost".into(),
            scheme: "https".into(),
            port: None,
            path: "/".into(),
            query: Vec::new(),
            headers: Vec::new(),
            cookies: Vec::new(),
            client_ip: None,
            country: None,
            geo: Geo::default(),
            device: None,
            new_visitor_id: None,
            variants: Vec::new(),
            now: unix_now(),
            status: 200,
            content_type: Some("text/html".into()),
            csp_nonce: None,
        }
    }
}

impl RequestContext {
    /// A request for `url` (`https://host[:port]/path?query`, or just `/path?query`).
    pub fn for_url(method: &str, url: &str) -> Result<Self, RequestError> {
        let mut context = Self { method: method.to_ascii_uppercase(), ..Self::default() };
        // A path may hold `://` in its query: only a URL not starting with `/` has a scheme.
        let absolute = if url.starts_with('/') { None } else { url.split_once("://") };
        let rest = match absolute {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") => {
                let (authority, path) = rest.find(['/', '?', '#']).map_or((rest, ""), |end| rest.split_at(end));
                (context.host, context.port) =
                    parse_authority(authority).map_err(|host| RequestError::UrlHost { url: url.to_owned(), host })?;
                context.scheme = scheme.to_ascii_lowercase();
                if path.starts_with('/') { path.to_owned() } else { format!("/{path}") }
            }
            Some((scheme, _)) => {
                return Err(RequestError::Scheme { url: url.to_owned(), scheme: scheme.to_owned() });
            }
            None if url.starts_with('/') => url.to_owned(),
            None => {
                return Err(RequestError::NotAUrl(url.to_owned()));
            }
        };
        let rest = rest.split('#').next().unwrap_or("");
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        context.path = if path.is_empty() { "/".into() } else { path.to_owned() };
        context.query = parse_query(query);
        Ok(context)
    }

    /// Reads a simulated request, as fixtures, docs and the CLI write it:
    ///
    /// ```text
    /// GET https://www.example.com/news/a?utm_source=mail
    /// Cookie: consent=yes
    /// @client-ip 203.0.113.7
    /// @country NL
    /// @geo.city Amsterdam
    /// @device.type mobile
    /// @now 2026-11-24T12:00:00Z
    /// @status 200
    /// @content-type text/html
    /// ```
    ///
    /// The first line is the method and URL; then request headers (`Name: value`) and
    /// facts the platform would supply (`@name value`). Blank lines and `#` comments are
    /// skipped.
    pub fn parse_simulated(text: &str) -> Result<Self, RequestError> {
        let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#'));
        let first = lines.next().ok_or(RequestError::NoRequestLine)?;
        let (method, url) =
            first.split_once(char::is_whitespace).ok_or_else(|| RequestError::RequestLine(first.to_owned()))?;
        let mut context = Self::for_url(method, url.trim())?;
        for line in lines {
            if let Some(fact) = line.strip_prefix('@') {
                let (name, value) = fact.split_once(char::is_whitespace).unwrap_or((fact, ""));
                context.set_fact(name, value.trim())?;
            } else {
                let (name, value) = line.split_once(':').ok_or_else(|| RequestError::Line(line.to_owned()))?;
                context.add_header(name, value);
            }
        }
        context.apply_host_header()?;
        Ok(context)
    }

    /// Sets a platform fact by name: `client-ip`, `country` (or `geo.country`),
    /// `geo.continent`, `geo.region`, `geo.city`, `geo.asn`, `device.type`, `new-visitor-id`,
    /// `variant` (`EXPERIMENT=VARIANT`, one per experiment), `now` (RFC 3339), `status`,
    /// `content-type`, `csp-nonce`.
    pub fn set_fact(&mut self, name: &str, value: &str) -> Result<(), RequestError> {
        let text = || Some(value.trim().to_owned()).filter(|value| !value.is_empty());
        match name.to_ascii_lowercase().as_str() {
            "client-ip" => self.client_ip = Some(value.to_owned()),
            "country" | "geo.country" => {
                let code = value.trim();
                if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
                    return Err(RequestError::Country(value.to_owned()));
                }
                self.country = Some(code.to_ascii_uppercase());
            }
            "geo.continent" => {
                let code = value.trim().to_ascii_uppercase();
                if !CONTINENTS.contains(&code.as_str()) {
                    return Err(RequestError::Continent(value.to_owned()));
                }
                self.geo.continent = Some(code);
            }
            "geo.region" => self.geo.region = text().map(|code| code.to_ascii_uppercase()),
            "geo.city" => self.geo.city = text(),
            "geo.asn" => {
                let asn = value.trim().trim_start_matches("AS");
                self.geo.asn = Some(asn.parse().map_err(|_| RequestError::Asn(value.to_owned()))?);
            }
            "device.type" => {
                self.device = Some(DeviceType::from_name(value).ok_or_else(|| RequestError::Device(value.to_owned()))?)
            }
            "new-visitor-id" => self.new_visitor_id = text(),
            "variant" => {
                let (experiment, variant) = value
                    .split_once('=')
                    .map(|(experiment, variant)| (experiment.trim(), variant.trim()))
                    .filter(|(experiment, variant)| !experiment.is_empty() && !variant.is_empty())
                    .ok_or_else(|| RequestError::Variant(value.to_owned()))?;
                self.variants.retain(|(id, _)| id != experiment);
                self.variants.push((experiment.to_owned(), variant.to_owned()));
            }
            "now" => self.now = parse_rfc3339(value).map_err(RequestError::Now)?,
            "status" => {
                self.status = value
                    .parse()
                    .ok()
                    .filter(|s| (100..=599).contains(s))
                    .ok_or_else(|| RequestError::Status(value.to_owned()))?
            }
            "content-type" => self.content_type = Some(value.trim().to_owned()),
            "csp-nonce" => self.csp_nonce = Some(value.trim().to_owned()),
            other => return Err(RequestError::UnknownFact(other.to_owned())),
        }
        Ok(())
    }

    /// Takes the host from the request's `Host` header, if it has one: port and case
    /// dropped. A value that is not a host (userinfo such as `www.example.com:@other.example`,
    /// a path, spaces) is an error: such a request must not be routed or rewritten at all.
    pub fn apply_host_header(&mut self) -> Result<(), RequestError> {
        if let Some(value) = self.header("host") {
            (self.host, self.port) = parse_authority(value).map_err(RequestError::HostHeader)?;
        }
        Ok(())
    }

    /// Where the client reached the site: `scheme://host[:port]`, the port left out when it
    /// is the scheme's default (`https://www.example.com`, `http://127.0.0.1:7676`).
    pub fn origin(&self) -> String {
        let default_port = match self.scheme.as_str() {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        };
        match self.port.filter(|port| Some(*port) != default_port) {
            Some(port) => format!("{}://{}:{port}", self.scheme, self.host),
            None => format!("{}://{}", self.scheme, self.host),
        }
    }

    /// Adds a request header; a `Cookie` header also fills [`cookies`](Self::cookies).
    pub fn add_header(&mut self, name: &str, value: &str) {
        let name = name.trim().to_ascii_lowercase();
        if name == "cookie" {
            self.cookies.extend(parse_cookies(value));
        }
        self.headers.push((name, value.trim().to_owned()));
    }

    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        lookup(self.headers.iter().filter(|(key, _)| key.eq_ignore_ascii_case(name)))
    }

    /// The first cookie called `name` (exact case).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        lookup(self.cookies.iter().filter(|(key, _)| key == name))
    }

    /// The first query parameter called `name` (exact case).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        lookup(self.query.iter().filter(|(key, _)| key == name))
    }

    /// The variant of the experiment `id` this request has (see [`variants`](Self::variants)).
    pub fn variant(&self, id: &str) -> Option<&str> {
        lookup(self.variants.iter().filter(|(key, _)| key == id))
    }
}

/// The host of an authority (`Host` header value, or a URL's `host[:port]`), lower-cased,
/// without the port: letters, digits, `-`, `.` and `_` (a name or IPv4 address), or an
/// IPv6 address in brackets. Anything else is refused, userinfo above all: in
/// `www.example.com:@other.example` the host a parser finds depends on the parser.
pub fn parse_host(authority: &str) -> Result<String, HostError> {
    parse_authority(authority).map(|(host, _)| host)
}

/// The host of an authority as [`parse_host`] reads it, and its port if it names one.
pub fn parse_authority(authority: &str) -> Result<(String, Option<u16>), HostError> {
    let bad = |why| Err(HostError { authority: authority.to_owned(), why });
    let authority = authority.trim();
    if authority.contains('@') {
        return bad("it has userinfo, `@`");
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((address, after)) = rest.split_once(']') else { return bad("an unclosed `[`") };
        if address.is_empty() || !address.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
            return bad("not an IPv6 address");
        }
        (&authority[..address.len() + 2], after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if port.is_some_and(|port| !port.chars().all(|c| c.is_ascii_digit())) {
        return bad("the port is not a number");
    }
    // A number past 65535 names no port: the host is still usable, the origin has no port.
    let port = port.and_then(|port| port.parse::<u16>().ok());
    if host.is_empty() || host.len() > 253 {
        return bad("a host name has 1 to 253 characters");
    }
    if !host.starts_with('[') && !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')) {
        return bad("only letters, digits, `-`, `.` and `_`");
    }
    Ok((host.to_ascii_lowercase(), port))
}

fn lookup<'a>(mut pairs: impl Iterator<Item = &'a (String, String)>) -> Option<&'a str> {
    pairs.next().map(|(_, value)| value.as_str())
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// `a=1&b=x%20y` into decoded pairs (`+` is a space), as browsers encode forms.
fn parse_query(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// `Cookie: a=1; b=2` into pairs; surrounding double quotes are dropped from values.
pub fn parse_cookies(header: &str) -> Vec<(String, String)> {
    header
        .split(';')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let value = value.trim();
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            Some((name.trim().to_owned(), value.to_owned()))
        })
        .filter(|(name, _)| !name.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_into_host_path_and_query() {
        let context =
            RequestContext::for_url("get", "https://WWW.Example.com:8443/a/b?x=1&y=two%20words&z#frag").unwrap();
        assert_eq!(context.method, "GET");
        assert_eq!(context.host, "www.example.com");
        assert_eq!(context.path, "/a/b");
        assert_eq!(context.query_param("y"), Some("two words"));
        assert_eq!(context.query_param("z"), Some(""));
        assert_eq!(context.query_param("frag"), None);
        let bare = RequestContext::for_url("GET", "/only/path").unwrap();
        assert_eq!((bare.host.as_str(), bare.path.as_str()), ("localhost", "/only/path"));
        assert!(RequestContext::for_url("GET", "ftp://x/").is_err());
        assert!(RequestContext::for_url("GET", "example.com").is_err());
    }

    #[test]
    fn headers_and_cookies() {
        let mut context = RequestContext::default();
        context.add_header("X-Beta", " 1 ");
        context.add_header("Cookie", "consent=yes; theme=\"dark\"; junk");
        assert_eq!(context.header("x-beta"), Some("1"));
        assert_eq!(context.cookie("consent"), Some("yes"));
        assert_eq!(context.cookie("theme"), Some("dark"));
        assert_eq!(context.cookie("Consent"), None);
    }

    #[test]
    fn hosts_lose_ports_and_case() {
        assert_eq!(parse_host("Shop.Example.COM:443").unwrap(), "shop.example.com");
        assert_eq!(parse_host("[::1]:7676").unwrap(), "[::1]");
        assert_eq!(parse_host("www.example.com:").unwrap(), "www.example.com");
        assert_eq!(parse_host("10.0.0.1").unwrap(), "10.0.0.1");
    }

    #[test]
    fn the_origin_is_where_the_client_reached_the_site() {
        assert_eq!(
            RequestContext::for_url("GET", "https://www.example.com/a").unwrap().origin(),
            "https://www.example.com"
        );
        assert_eq!(
            RequestContext::for_url("GET", "HTTP://Example.com:8080/").unwrap().origin(),
            "http://example.com:8080"
        );
        assert_eq!(RequestContext::for_url("GET", "https://example.com:443/").unwrap().origin(), "https://example.com");
        // Viceroy: the URL says http, the client's Host names the port it used.
        let mut local = RequestContext::for_url("GET", "http://127.0.0.1:7676/news/").unwrap();
        local.add_header("Host", "127.0.0.1:7676");
        local.apply_host_header().unwrap();
        assert_eq!(local.origin(), "http://127.0.0.1:7676");
        assert_eq!(RequestContext::default().origin(), "https://localhost");
        assert!(parse_authority("host:+80").is_err());
        assert_eq!(parse_authority("host:99999").unwrap(), ("host".to_owned(), None));
        assert_eq!(parse_authority("[::1]:7676").unwrap(), ("[::1]".to_owned(), Some(7676)));
    }

    #[test]
    fn hosts_with_userinfo_or_odd_characters_are_refused() {
        for bad in [
            "www.example.com:@other.example.com",
            "user@host",
            "a b",
            "a/b",
            "host:80x",
            "",
            "[zz]",
            "a\\b",
            "é.example",
        ] {
            assert!(parse_host(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_host("www.example.com:@other.example.com").unwrap_err().to_string(),
            "\"www.example.com:@other.example.com\" is not a host name (it has userinfo, `@`)"
        );
        let mut context = RequestContext::default();
        context.add_header("Host", "www.example.com:@other.example.com");
        assert_eq!(
            context.apply_host_header().unwrap_err().to_string(),
            "Host header: \"www.example.com:@other.example.com\" is not a host name (it has userinfo, `@`)"
        );
        assert_eq!(context.host, "localhost", "the host is left alone");
        assert!(RequestContext::for_url("GET", "https://user@example.com/").is_err());
        assert_eq!(RequestContext::for_url("GET", "https://example.com?q=1").unwrap().path, "/");
    }

    #[test]
    fn simulated_requests_carry_headers_and_platform_facts() {
        let context = RequestContext::parse_simulated(
            "# a returning visitor\nGET https://example.com/news/a?x=1\nHost: www.example.com\nCookie: consent=yes\n\
             @client-ip 203.0.113.7\n@country nl\n@now 2026-11-24T03:00:00Z\n@status 404\n@content-type text/html; charset=utf-8\n",
        )
        .unwrap();
        assert_eq!(context.host, "www.example.com");
        assert_eq!(context.cookie("consent"), Some("yes"));
        assert_eq!(context.client_ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(context.country.as_deref(), Some("NL"));
        assert_eq!(context.now, 1_795_489_200);
        assert_eq!(context.status, 404);
        assert_eq!(context.content_type.as_deref(), Some("text/html; charset=utf-8"));
        assert!(RequestContext::parse_simulated("").is_err());
        assert!(
            RequestContext::parse_simulated("GET /\n@weather sunny")
                .unwrap_err()
                .to_string()
                .contains("unknown fact @weather")
        );
        assert!(RequestContext::parse_simulated("GET /\nno colon here").is_err());
        assert!(RequestContext::parse_simulated("GET /\n@now yesterday").is_err());
    }

    #[test]
    fn audience_facts_and_forced_variants() {
        let context = RequestContext::parse_simulated(
            "GET /\n@geo.country de\n@geo.continent eu\n@geo.region be\n@geo.city Berlin\n@geo.asn AS3320\n\
             @device.type Mobile\n@new-visitor-id v-1\n@variant hero=a\n@variant nav=b\n@variant hero=c\n",
        )
        .unwrap();
        assert_eq!(context.country.as_deref(), Some("DE"));
        let geo = &context.geo;
        assert_eq!(
            (geo.continent.as_deref(), geo.region.as_deref(), geo.city.as_deref(), geo.asn),
            (Some("EU"), Some("BE"), Some("Berlin"), Some(3320))
        );
        assert_eq!(context.device, Some(DeviceType::Mobile));
        assert_eq!(context.new_visitor_id.as_deref(), Some("v-1"));
        assert_eq!((context.variant("hero"), context.variant("nav")), (Some("c"), Some("b")), "the last one wins");
    }

    #[test]
    fn errors_say_what_to_write() {
        let message = |result: Result<RequestContext, RequestError>| result.unwrap_err().to_string();
        assert_eq!(
            message(RequestContext::for_url("GET", "https://a b/")),
            "\"https://a b/\": \"a b\" is not a host name (only letters, digits, `-`, `.` and `_`)"
        );
        assert_eq!(
            message(RequestContext::for_url("GET", "ftp://x/")),
            "\"ftp://x/\": only http and https URLs are supported, not ftp"
        );
        assert_eq!(
            message(RequestContext::for_url("GET", "example.com")),
            "\"example.com\" is not a URL: give https://host/path or /path"
        );
        assert_eq!(
            message(RequestContext::parse_simulated("# nothing\n")),
            "a simulated request starts with a line like `GET https://example.com/`"
        );
        assert_eq!(
            message(RequestContext::parse_simulated("GET")),
            "\"GET\": expected `METHOD URL`, e.g. `GET https://example.com/`"
        );
        assert_eq!(
            message(RequestContext::parse_simulated("GET /\nno colon here")),
            "\"no colon here\": expected a header `Name: value` or a fact `@name value`"
        );
        assert_eq!(
            message(RequestContext::parse_simulated("GET /\n@status 42")),
            "@status \"42\" is not an HTTP status"
        );
        assert_eq!(
            message(RequestContext::parse_simulated("GET /\n@weather sunny")),
            format!("unknown fact @weather; the facts are {FACTS}")
        );
        assert_eq!(
            message(RequestContext::parse_simulated("GET /\n@device.type fridge")),
            "@device.type \"fridge\" is not a device type: mobile, tablet, desktop or bot"
        );
        assert_eq!(
            message(RequestContext::parse_simulated("GET /\n@variant hero-2026")),
            "@variant \"hero-2026\": write the experiment and its variant, e.g. hero-2026=big-cta"
        );
        assert!(message(RequestContext::parse_simulated("GET /\n@geo.asn big")).contains("not an AS number"));
        assert_eq!(
            message(RequestContext::parse_simulated("GET /\n@country Germany")),
            "@country \"Germany\" is not a country code: write the ISO 3166-1 alpha-2 code, two letters, e.g. DE \
             for Germany"
        );
        assert!(message(RequestContext::parse_simulated("GET /\n@geo.continent Europe")).contains("EU for Europe"));
        assert_eq!(
            message(RequestContext::parse_simulated("GET /\n@now yesterday")),
            parse_rfc3339("yesterday").unwrap_err().to_string()
        );
    }

    #[test]
    fn query_decoding_keeps_bad_escapes() {
        assert_eq!(
            parse_query("k=a%2Fb+c%zz%4&%C3%A9"),
            [("k".into(), "a/b c%zz%4".into()), ("é".into(), String::new())]
        );
    }
}
