//! Several sites behind one service: the host-to-origin map editors keep in the config
//! store under `sites`. Only hosts in the map are served; each gets its own origin.
//!
//! ```json
//! {
//!   "www.example.com": { "origin": "https://origin.example.com" },
//!   "shop.example.com": { "origin": "https://shop-origin.example.net:8443", "first_byte_timeout_ms": 20000 }
//! }
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::http::request::parse_host;

/// One site's origin, as written in the map.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteSpec {
    /// `https://host[:port]` or `http://host[:port]`, nothing after.
    origin: String,
    /// The Host header the origin expects; default: the origin's own host name.
    #[serde(default)]
    host_header: Option<String>,
    #[serde(default)]
    connect_timeout_ms: Option<u32>,
    #[serde(default)]
    first_byte_timeout_ms: Option<u32>,
    #[serde(default)]
    between_bytes_timeout_ms: Option<u32>,
}

/// Where a site's requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// `host:port` to connect to.
    pub address: String,
    /// The origin's host name (for TLS: SNI and certificate check).
    pub origin_host: String,
    /// Whether to speak TLS to the origin.
    pub tls: bool,
    /// The Host header to send.
    pub host_header: String,
    /// How long connecting may take, in milliseconds.
    pub connect_timeout_ms: u32,
    /// How long the origin may take to start answering, in milliseconds.
    pub first_byte_timeout_ms: u32,
    /// How long the origin may pause mid-body, in milliseconds.
    pub between_bytes_timeout_ms: u32,
    /// A fingerprint of this configuration, so a changed origin gets a new backend.
    pub fingerprint: u64,
}

/// The sites the service may serve.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sites {
    by_host: BTreeMap<String, Site>,
}

impl Sites {
    /// Reads the map; an error names the host and what is wrong with its entry.
    pub fn parse(json: &str) -> Result<Sites, String> {
        let specs: BTreeMap<String, SiteSpec> = serde_json::from_str(json).map_err(|err| {
            format!("the sites map must be a JSON object of host -> {{\"origin\": \"https://...\"}}: {err}")
        })?;
        let mut by_host = BTreeMap::new();
        for (written, spec) in specs {
            let host = parse_host(&written).map_err(|err| format!("site {written:?}: {err}"))?;
            if host != written.trim().to_ascii_lowercase() {
                return Err(format!("site {written:?}: write the host alone, {host:?}, without a port"));
            }
            let site = Site::from_spec(&spec).map_err(|err| format!("site {written:?}: {err}"))?;
            if by_host.insert(host.clone(), site).is_some() {
                return Err(format!(
                    "sites {host:?} and {written:?} are the same host once case and spaces are set aside; keep one"
                ));
            }
        }
        Ok(Sites { by_host })
    }

    /// The site for a request host (lower-cased, without port), if the map has it.
    pub fn get(&self, host: &str) -> Option<&Site> {
        self.by_host.get(host)
    }
}

impl Site {
    fn from_spec(spec: &SiteSpec) -> Result<Site, String> {
        let (tls, rest) = match spec.origin.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
            _ => return Err(format!("origin {:?} must start with https:// or http://", spec.origin)),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            return Err(format!("origin {:?} must be a scheme and a host (and port), no path", spec.origin));
        }
        let (origin_host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
                let port: u16 =
                    port.parse().map_err(|_| format!("origin {:?}: {port:?} is not a port", spec.origin))?;
                (host.to_owned(), port)
            }
            _ => (authority.to_owned(), if tls { 443 } else { 80 }),
        };
        let timeout = |value: Option<u32>, default: u32, name: &str| match value {
            Some(0) => Err(format!("{name} must be more than 0")),
            Some(ms) => Ok(ms),
            None => Ok(default),
        };
        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (
                &spec.origin,
                &spec.host_header,
                spec.connect_timeout_ms,
                spec.first_byte_timeout_ms,
                spec.between_bytes_timeout_ms,
            )
                .hash(&mut hasher);
            hasher.finish()
        };
        Ok(Site {
            address: format!("{origin_host}:{port}"),
            host_header: spec.host_header.clone().unwrap_or_else(|| origin_host.clone()),
            origin_host,
            tls,
            connect_timeout_ms: timeout(spec.connect_timeout_ms, 1_000, "connect_timeout_ms")?,
            first_byte_timeout_ms: timeout(spec.first_byte_timeout_ms, 15_000, "first_byte_timeout_ms")?,
            between_bytes_timeout_ms: timeout(spec.between_bytes_timeout_ms, 10_000, "between_bytes_timeout_ms")?,
            fingerprint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_map_hosts_to_origins() {
        let sites = Sites::parse(
            r#"{"WWW.example.com": {"origin": "https://origin.example.com"},
                "shop.example.com": {"origin": "http://10.0.0.5:8080/", "host_header": "shop.internal", "first_byte_timeout_ms": 20000}}"#,
        )
        .unwrap();
        let www = sites.get("www.example.com").unwrap();
        assert_eq!(
            (www.address.as_str(), www.tls, www.host_header.as_str()),
            ("origin.example.com:443", true, "origin.example.com")
        );
        let shop = sites.get("shop.example.com").unwrap();
        assert_eq!(
            (shop.address.as_str(), shop.tls, shop.host_header.as_str()),
            ("10.0.0.5:8080", false, "shop.internal")
        );
        assert_eq!(shop.first_byte_timeout_ms, 20_000);
        assert!(sites.get("evil.example.com").is_none());
        assert_ne!(www.fingerprint, shop.fingerprint);
    }

    #[test]
    fn bad_maps_say_which_site_is_wrong() {
        assert!(Sites::parse("[]").unwrap_err().contains("JSON object of host"));
        assert!(
            Sites::parse(r#"{"a.com": {"origin": "ftp://x"}}"#)
                .unwrap_err()
                .contains("site \"a.com\": origin \"ftp://x\"")
        );
        assert!(Sites::parse(r#"{"a.com": {"origin": "https://x/path"}}"#).unwrap_err().contains("no path"));
        assert!(Sites::parse(r#"{"a.com": {"origin": "https://x:http"}}"#).unwrap_err().contains("not a port"));
        assert!(
            Sites::parse(r#"{"a.com": {"origin": "https://x", "tls": true}}"#)
                .unwrap_err()
                .contains("unknown field `tls`")
        );
        assert!(
            Sites::parse(r#"{"a.com": {"origin": "https://x", "connect_timeout_ms": 0}}"#)
                .unwrap_err()
                .contains("more than 0")
        );
        let twice = Sites::parse(r#"{"WWW.a.com": {"origin": "https://x"}, "www.a.com ": {"origin": "https://y"}}"#);
        assert!(twice.unwrap_err().contains("same host"));
        assert!(Sites::parse(r#"{"a.com:8080": {"origin": "https://x"}}"#).unwrap_err().contains("without a port"));
        assert!(Sites::parse(r#"{"a.com@b.com": {"origin": "https://x"}}"#).unwrap_err().contains("userinfo"));
    }
}
