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

use crate::http::request::{HostError, parse_host};

/// Why a sites map cannot be used; each names the site at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SitesError {
    /// The map is not a JSON object of sites: serde's reason.
    #[error("the sites map must be a JSON object of host -> {{\"origin\": \"https://...\"}}: {0}")]
    NotAMap(String),
    /// A site's key is not a host name.
    #[error("site {site:?}: {host}")]
    Host {
        /// The key as written.
        site: String,
        /// What is wrong with it.
        host: HostError,
    },
    /// A site's key has a port.
    #[error("site {site:?}: write the host alone, {host:?}, without a port")]
    Port {
        /// The key as written.
        site: String,
        /// The host it names.
        host: String,
    },
    /// A site's origin does not start with a scheme the service speaks.
    #[error("site {site:?}: origin {origin:?} must start with https:// or http://")]
    OriginScheme {
        /// The key as written.
        site: String,
        /// The origin as written.
        origin: String,
    },
    /// A site's origin has more than a scheme, host and port.
    #[error("site {site:?}: origin {origin:?} must be a scheme and a host (and port), no path")]
    OriginPath {
        /// The key as written.
        site: String,
        /// The origin as written.
        origin: String,
    },
    /// A site's origin has a port that is not one.
    #[error("site {site:?}: origin {origin:?}: {port:?} is not a port")]
    OriginPort {
        /// The key as written.
        site: String,
        /// The origin as written.
        origin: String,
        /// The port as written.
        port: String,
    },
    /// A site's timeout is 0.
    #[error("site {site:?}: {name} must be more than 0")]
    ZeroTimeout {
        /// The key as written.
        site: String,
        /// The timeout's field.
        name: &'static str,
    },
    /// Two keys name the same host.
    #[error("sites {host:?} and {site:?} are the same host once case and spaces are set aside; keep one")]
    SameHost {
        /// The host both keys name.
        host: String,
        /// The second key, as written.
        site: String,
    },
}

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
    pub fn parse(json: &str) -> Result<Sites, SitesError> {
        let specs: BTreeMap<String, SiteSpec> =
            serde_json::from_str(json).map_err(|err| SitesError::NotAMap(err.to_string()))?;
        let mut by_host = BTreeMap::new();
        for (written, spec) in specs {
            let host = parse_host(&written).map_err(|host| SitesError::Host { site: written.clone(), host })?;
            if host != written.trim().to_ascii_lowercase() {
                return Err(SitesError::Port { site: written, host });
            }
            let site = Site::from_spec(&spec, &written)?;
            if by_host.insert(host.clone(), site).is_some() {
                return Err(SitesError::SameHost { host, site: written });
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
    /// The site `spec` describes; `site` is its key in the map, for errors.
    fn from_spec(spec: &SiteSpec, site: &str) -> Result<Site, SitesError> {
        let (site, origin) = (site.to_owned(), spec.origin.clone());
        let (tls, rest) = match spec.origin.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
            _ => return Err(SitesError::OriginScheme { site, origin }),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            return Err(SitesError::OriginPath { site, origin });
        }
        let (origin_host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
                let port: u16 = port.parse().map_err(|_| SitesError::OriginPort {
                    site: site.clone(),
                    origin: origin.clone(),
                    port: port.to_owned(),
                })?;
                (host.to_owned(), port)
            }
            _ => (authority.to_owned(), if tls { 443 } else { 80 }),
        };
        let timeout = |value: Option<u32>, default: u32, name: &'static str| match value {
            Some(0) => Err(SitesError::ZeroTimeout { site: site.clone(), name }),
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
        let message = |json: &str| Sites::parse(json).unwrap_err().to_string();
        assert!(
            message("[]").starts_with("the sites map must be a JSON object of host -> {\"origin\": \"https://...\"}: ")
        );
        assert_eq!(
            message(r#"{"a.com": {"origin": "ftp://x"}}"#),
            "site \"a.com\": origin \"ftp://x\" must start with https:// or http://"
        );
        assert_eq!(
            message(r#"{"a.com": {"origin": "https://x/path"}}"#),
            "site \"a.com\": origin \"https://x/path\" must be a scheme and a host (and port), no path"
        );
        assert_eq!(
            message(r#"{"a.com": {"origin": "https://x:http"}}"#),
            "site \"a.com\": origin \"https://x:http\": \"http\" is not a port"
        );
        assert!(message(r#"{"a.com": {"origin": "https://x", "tls": true}}"#).contains("unknown field `tls`"));
        assert_eq!(
            message(r#"{"a.com": {"origin": "https://x", "connect_timeout_ms": 0}}"#),
            "site \"a.com\": connect_timeout_ms must be more than 0"
        );
        assert_eq!(
            message(r#"{"WWW.a.com": {"origin": "https://x"}, "www.a.com ": {"origin": "https://y"}}"#),
            "sites \"www.a.com\" and \"www.a.com \" are the same host once case and spaces are set aside; keep one"
        );
        assert_eq!(
            message(r#"{"a.com:8080": {"origin": "https://x"}}"#),
            "site \"a.com:8080\": write the host alone, \"a.com\", without a port"
        );
        assert_eq!(
            message(r#"{"a.com@b.com": {"origin": "https://x"}}"#),
            "site \"a.com@b.com\": \"a.com@b.com\" is not a host name (it has userinfo, `@`)"
        );
    }
}
