//! Which origin a request goes to: the backend `origin` for every host, unless the config
//! store holds a sites map; then only the hosts in it, each to its own origin, created as a
//! dynamic backend. No request header can name an address: the map is the only way in.

use edge_rewriter::store::{SITES_KEY, Site, Sites};
use fastly::Backend;
use fastly::backend::BackendBuilder;

use super::config_store::{self, STORE_NAME};

/// The backend name in fastly.toml (`[local_server.backends]` and `[setup.backends]`).
pub const DEFAULT_BACKEND: &str = "origin";

/// Where a request goes.
pub enum Route {
    To(Backend),
    /// The host is not in the sites map.
    UnknownHost,
    /// The sites map or the backend for this host cannot be used.
    Broken(String),
}

/// The route for a request to `host` (lower-cased, no port).
pub fn route(host: &str) -> Route {
    let map = match config_store::open(STORE_NAME).map(|store| store.try_get(SITES_KEY)) {
        Ok(Ok(Some(map))) => map,
        // No sites map (or no store): one site, the configured origin.
        Ok(Ok(None)) | Err(_) => return default_backend(),
        Ok(Err(err)) => return Route::Broken(format!("looking up `{SITES_KEY}` failed: {err}")),
    };
    let sites = match Sites::parse(&map) {
        Ok(sites) => sites,
        Err(err) => return Route::Broken(err.to_string()),
    };
    match sites.get(host) {
        Some(site) => backend_for(host, site),
        None => Route::UnknownHost,
    }
}

fn default_backend() -> Route {
    match Backend::from_name(DEFAULT_BACKEND) {
        Ok(backend) => Route::To(backend),
        Err(err) => Route::Broken(format!("the backend {DEFAULT_BACKEND:?} is not usable: {err}")),
    }
}

/// The dynamic backend for a site, created once per instance and configuration.
fn backend_for(host: &str, site: &Site) -> Route {
    let name = format!("site-{host}-{:08x}", site.fingerprint as u32);
    if let Ok(existing) = Backend::from_name(&name)
        && existing.exists()
    {
        return Route::To(existing);
    }
    let mut builder = BackendBuilder::new(&name, &site.address)
        .override_host(&site.host_header)
        .connect_timeout(std::time::Duration::from_millis(site.connect_timeout_ms.into()))
        .first_byte_timeout(std::time::Duration::from_millis(site.first_byte_timeout_ms.into()))
        .between_bytes_timeout(std::time::Duration::from_millis(site.between_bytes_timeout_ms.into()));
    if site.tls {
        builder = builder.enable_ssl().sni_hostname(&site.origin_host).check_certificate(&site.origin_host);
    }
    match builder.finish() {
        Ok(backend) => Route::To(backend),
        Err(err) => Route::Broken(format!("creating the backend for {host:?} ({}) failed: {err}", site.address)),
    }
}
