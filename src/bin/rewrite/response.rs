//! The simulated origin response's headers (`--response-header`), and the headers the
//! service would send for them (`rewrite apply --headers`): a rewritten page's through the
//! engine's own [`page_headers`] and [`give_cookie`] (the length dropped, the ETag naming
//! the page key, `Cache-Control` for downstream caches, the rules' edits, the visitor cookie
//! of an experiment's new visitor); a response passed through gets the rules' edits only,
//! as at the edge. `X-Cache` is left out: it says how the edge cache served the page.

use edge_rewriter::{
    PageKey, Plan, Prospect, RequestContext, RuleSet,
    http::apply_header_edits,
    response::{RewrittenPage, give_cookie, page_headers},
};

use crate::RequestArgs;
use crate::inputs::verdict;

/// The simulated origin response's headers, from `--response-header`, in order.
pub fn origin_headers(args: &RequestArgs) -> Result<Vec<(String, String)>, String> {
    args.response_headers
        .iter()
        .map(|header| match header.split_once(':') {
            Some((name, value)) if !name.trim().is_empty() => Ok((name.trim().to_owned(), value.trim().to_owned())),
            _ => Err(format!("--response-header {header:?}: write it as `Name: value`")),
        })
        .collect()
}

/// The headers the client would get: the origin's, as the service changes them for this
/// request's `plan` of `rules` (`edition` names the rule set in the ETag: `live`, `draft`).
pub fn sent_headers(
    rules: &RuleSet,
    context: &RequestContext,
    plan: &Plan<'_>,
    edition: &str,
    args: &RequestArgs,
) -> Result<Vec<(String, String)>, String> {
    let mut headers = origin_headers(args)?;
    match verdict(context) {
        Ok(_) => {
            let page_key = PageKey::of(&Prospect::of(rules, context), edition);
            let content_type = context.content_type.clone().unwrap_or_default();
            let page = RewrittenPage {
                // The page file is read as given: the CLI never decodes a body.
                decoded: false,
                content_type: &content_type,
                page_key: &page_key,
                dependence: rules.dependence(),
                plan,
            };
            page_headers(&mut headers, &page);
            give_cookie(&mut headers, plan);
        }
        Err(_) => {
            apply_header_edits(&plan.header_edits(), &mut headers);
        }
    }
    Ok(headers)
}
