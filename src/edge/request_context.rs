//! The engine's view of a Fastly request: what conditions test and templates print.

use edge_rewriter::RequestContext;
use fastly::{Request, Response};

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
    context.country = client_ip
        .and_then(fastly::geo::geo_lookup)
        .map(|geo| geo.country_code().to_owned())
        .filter(|code| !code.is_empty() && code != "**");
    Ok(context)
}

/// Adds the response's status and content type, which conditions may also test.
pub fn add_response(context: &mut RequestContext, response: &Response) {
    context.status = response.get_status().as_u16();
    context.csp_nonce = response
        .get_header("content-security-policy")
        .and_then(|value| value.to_str().ok())
        .and_then(edge_rewriter::csp_nonce);
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
}
