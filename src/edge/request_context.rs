//! The engine's view of a Fastly request: what conditions test and templates print, the
//! client's geolocation and device included.

use edge_rewriter::{
    RequestContext,
    http::{DeviceType, VISITOR_COOKIE, visitor_id},
};
use fastly::geo::Geo;
use fastly::http::header::USER_AGENT;
use fastly::{Request, Response};

use super::access::VARIANT_HEADER;

/// The request's facts, taken before the request is sent (sending consumes it), or why the
/// request cannot be served (a `Host` that is not a host name).
pub fn from_request(request: &Request) -> Result<RequestContext, String> {
    let mut context = RequestContext::for_url(request.get_method_str(), request.get_url_str()).unwrap_or_else(|err| {
        log::warn!("request URL not understood ({err}); conditions see path \"/\"");
        RequestContext::default()
    });
    for (name, value) in request.get_headers() {
        if let Ok(value) = value.to_str() {
            context.add_header(name.as_str(), value);
        }
    }
    context.apply_host_header().map_err(|err| err.to_string())?;
    let client_ip = request.get_client_ip_addr();
    context.client_ip = client_ip.map(|ip| ip.to_string());
    if let Some(geo) = client_ip.and_then(fastly::geo::geo_lookup) {
        add_geo(&mut context, &geo);
    }
    context.device = request
        .get_header_str_lossy(USER_AGENT)
        .and_then(|agent| fastly::device_detection::lookup(&agent))
        .and_then(|device| {
            DeviceType::from_flags(device.is_bot(), device.is_tablet(), device.is_mobile(), device.is_desktop())
        });
    if context.cookie(VISITOR_COOKIE).is_none() {
        context.new_visitor_id = new_visitor_id();
    }
    Ok(context)
}

/// Where the client is, as Fastly's geolocation of its IP says; empty or placeholder values
/// (`**`, `?`) count as unknown.
fn add_geo(context: &mut RequestContext, geo: &Geo) {
    let known =
        |value: &str| Some(value.trim().to_owned()).filter(|value| !value.is_empty() && value != "**" && value != "?");
    context.country = known(geo.country_code());
    context.geo.continent = known(geo.continent().as_code());
    context.geo.region = geo.region().and_then(known);
    context.geo.city = known(geo.city());
    context.geo.asn = Some(geo.as_number()).filter(|asn| *asn != 0);
}

/// An id for a visitor without the visitor cookie, in case an experiment assigns it (the
/// response then sets the cookie): 16 bytes from the platform's random source.
fn new_visitor_id() -> Option<String> {
    let mut random = [0; 16];
    match getrandom::fill(&mut random) {
        Ok(()) => Some(visitor_id(random)),
        Err(err) => {
            log::warn!("no random bytes for a visitor id ({err}); new visitors are outside experiments");
            None
        }
    }
}

/// Forces the variants QA asked for (`hero-2026=big-cta,menu=mega`), once `access` checked
/// the token.
pub fn force_variants(context: &mut RequestContext, variants: Option<&str>) {
    let pairs = variants.iter().flat_map(|value| value.split(',')).map(str::trim);
    for pair in pairs.filter(|pair| !pair.is_empty()) {
        if let Err(err) = context.set_fact("variant", pair) {
            log::warn!("{VARIANT_HEADER}: {err}; ignored");
        }
    }
}

/// Adds the response's status and content type, which conditions may also test.
pub fn add_response(context: &mut RequestContext, response: &Response) {
    context.status = response.get_status().as_u16();
    context.csp_nonce = response
        .get_header("content-security-policy")
        .and_then(|value| value.to_str().ok())
        .and_then(edge_rewriter::http::csp_nonce);
    context.content_type = response
        .get_header(fastly::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_become_contexts() {
        let request = Request::get("http://origin.example/news/a?utm_source=mail&x=%3Cb%3E")
            .with_header("Host", "WWW.Example.com:443")
            .with_header("Cookie", "consent=yes")
            .with_header("X-Beta", "1");
        let mut context = from_request(&request).unwrap();
        assert_eq!(context.method, "GET");
        assert_eq!(context.host, "www.example.com", "the Host header wins over the URL");
        assert_eq!(context.path, "/news/a");
        assert_eq!(context.query_param("x"), Some("<b>"));
        assert_eq!(context.cookie("consent"), Some("yes"));
        assert_eq!(context.header("x-beta"), Some("1"));

        let response = Response::from_status(203).with_header("content-type", "text/html; charset=utf-8");
        add_response(&mut context, &response);
        assert_eq!((context.status, context.content_type.as_deref()), (203, Some("text/html; charset=utf-8")));
    }

    #[test]
    fn new_visitors_get_a_random_id_and_returning_ones_keep_theirs() {
        let first = from_request(&Request::get("http://example.com/")).unwrap();
        let second = from_request(&Request::get("http://example.com/")).unwrap();
        let id = first.new_visitor_id.expect("an id for a new visitor");
        assert!(id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        assert_ne!(Some(id), second.new_visitor_id, "random");
        let returning =
            from_request(&Request::get("http://example.com/").with_header("Cookie", "edge_vid=abc")).unwrap();
        assert_eq!(returning.new_visitor_id, None);
    }

    #[test]
    fn the_device_comes_from_the_user_agent() {
        // fastly.toml's local device detection data (read by Viceroy, the test runner).
        let phone =
            from_request(&Request::get("http://example.com/").with_header("User-Agent", "EdgeRewriterTest/Phone"))
                .unwrap();
        assert_eq!(phone.device, Some(DeviceType::Mobile));
        let unknown = from_request(&Request::get("http://example.com/").with_header("User-Agent", "curl/8")).unwrap();
        assert_eq!(unknown.device, None);
    }

    #[test]
    fn forced_variants_are_read_pair_by_pair() {
        let mut context = RequestContext::default();
        force_variants(&mut context, Some("hero=big, bad,menu=mega"));
        assert_eq!(context.variants, [("hero".into(), "big".into()), ("menu".into(), "mega".into())]);
    }
}
