//! Every action, as an editor writes it, on a small page: the exact output, the same
//! whether the page arrives whole or one byte at a time.

#![cfg(not(target_arch = "wasm32"))]

use edge_rewriter::{RequestContext, RewriteOptions, RuleSet, stream};

use crate::common::{rewrite_every_chunking, rules};

/// Rewrites `page` with the rules in `entry` for a request to `url`, whole and in 1-byte
/// chunks; both must agree.
fn rewrite_for(url: &str, entry: &str, page: &str) -> String {
    let rules = rules(entry);
    let mut context = RequestContext::for_url("GET", url).unwrap();
    context.country = Some("NL".into());
    context.now = 1_795_489_200; // 2026-11-24T03:00:00Z
    let plan = rules.plan(&context);
    let whole = rewrite_every_chunking(&[RewriteOptions::default().read_buffer, 1], |read_buffer| {
        stream(&plan, &RewriteOptions { read_buffer, ..RewriteOptions::default() }, page.as_bytes(), Vec::new())
    });
    String::from_utf8(whole.sink).unwrap()
}

fn rewrite(entry: &str, page: &str) -> String {
    rewrite_for("https://shop.example.com/", entry, page)
}

const PAGE: &str = "<div id=a class=box><p>one</p><p>two</p></div>";

#[test]
fn insertions_around_and_inside_elements() {
    let cases = [
        ("before", "<hr><div id=a class=box><p>one</p><p>two</p></div>"),
        ("after", "<div id=a class=box><p>one</p><p>two</p></div><hr>"),
        ("prepend", "<div id=a class=box><hr><p>one</p><p>two</p></div>"),
        ("append", "<div id=a class=box><p>one</p><p>two</p><hr></div>"),
        ("replace", "<hr>"),
        ("set_inner", "<div id=a class=box><hr></div>"),
    ];
    for (action, expected) in cases {
        let rule = format!(r##"{{"id":"r","selector":"#a","actions":[{{"{action}":{{"html":"<hr>"}}}}]}}"##);
        assert_eq!(rewrite(&rule, PAGE), expected, "{action}");
    }
}

#[test]
fn text_content_is_escaped_and_html_is_not() {
    let rule = r#"[{"id":"t","selector":"p","actions":[{"append":{"text":"<b> & </b>"}}]},
                   {"id":"h","selector":"p","actions":[{"append":{"html":"<b>&amp;</b>"}}]}]"#;
    assert_eq!(rewrite(rule, "<p>x</p>"), "<p>x&lt;b&gt; &amp; &lt;/b&gt;<b>&amp;</b></p>");
}

#[test]
fn remove_and_unwrap() {
    let remove = r#"{"id":"r","selector":"p","actions":["remove"]}"#;
    assert_eq!(rewrite(remove, PAGE), "<div id=a class=box></div>");
    let unwrap = r#"{"id":"u","selector":"div.box","actions":["unwrap"]}"#;
    assert_eq!(rewrite(unwrap, PAGE), "<p>one</p><p>two</p>");
}

#[test]
fn attributes_are_set_removed_and_rewritten() {
    let page = r#"<a href="http://cdn-old.example.net/img/1.png" onclick="track()" target=_blank>x</a><a>y</a>"#;
    let rules = r#"[
        {"id":"secure","selector":"a[href^='http:']","actions":[{"rewrite_attribute":{"name":"href","pattern":"^http://","replacement":"https://"}}]},
        {"id":"cdn","selector":"a[href]","actions":[{"rewrite_attribute":{"name":"href","pattern":"//cdn-old\\.example\\.net/(?P<path>.*)$","replacement":"//cdn.example.com/${path}"}}]},
        {"id":"no-tracking","selector":"a","actions":[{"remove_attribute":"onclick"}]},
        {"id":"rel","selector":"a[target=_blank]","actions":[{"set_attribute":{"name":"rel","value":"noopener"}}]}
    ]"#;
    assert_eq!(
        rewrite(rules, page),
        r#"<a href="https://cdn.example.com/img/1.png" target=_blank rel="noopener">x</a><a>y</a>"#
    );
}

#[test]
fn an_existing_attribute_is_overwritten() {
    let rule = r#"{"id":"s","selector":"p","actions":[{"set_attribute":{"name":"class","value":"new"}}]}"#;
    assert_eq!(rewrite(rule, "<p class=old>x</p>"), r#"<p class="new">x</p>"#);
}

#[test]
fn tags_are_renamed_with_their_end_tags() {
    let rule = r#"{"id":"n","selector":"div.box","actions":[{"rename_tag":"section"}]}"#;
    assert_eq!(rewrite(rule, PAGE), "<section id=a class=box><p>one</p><p>two</p></section>");
}

#[test]
fn comments_are_removed_or_replaced_everywhere_or_inside_a_scope() {
    let page = "<!-- top --><main><!-- inside --><p>x</p></main><!--[if IE]><p>old</p><![endif]-->";
    let everywhere = r#"{"id":"c","actions":["remove_comments"]}"#;
    assert_eq!(rewrite(everywhere, page), "<main><p>x</p></main>");
    // A processing instruction is not a comment, though lol_html reports it as one.
    assert_eq!(rewrite(everywhere, "<?xml version=\"1.0\"?><!-- c --><p>x</p>"), "<?xml version=\"1.0\"?><p>x</p>");
    let scoped = r#"{"id":"c","selector":"main","actions":[{"replace_comments":{"html":"<!-- edge -->"}}]}"#;
    assert_eq!(
        rewrite(scoped, page),
        "<!-- top --><main><!-- edge --><p>x</p></main><!--[if IE]><p>old</p><![endif]-->"
    );
}

#[test]
fn content_is_appended_to_the_end_of_the_document_in_rule_order() {
    let rules = r#"[{"id":"a","actions":[{"append_to_document":{"html":"<!-- one -->"}},{"append_to_document":{"html":"<!-- two -->"}}]},
                    {"id":"b","actions":[{"append_to_document":{"text":"three & four"}}]}]"#;
    assert_eq!(
        rewrite(rules, "<html><body>x</body></html>"),
        "<html><body>x</body></html><!-- one --><!-- two -->three &amp; four"
    );
}

#[test]
fn several_insertions_at_one_place_keep_the_order_written() {
    let rules = r#"[
        {"id":"r1","selector":"p","actions":[{"before":{"html":"B1"}},{"after":{"html":"A1"}},{"prepend":{"html":"P1"}},{"append":{"html":"E1"}}]},
        {"id":"r2","selector":"p","actions":[{"before":{"html":"B2"}},{"after":{"html":"A2"}},{"prepend":{"html":"P2"}},{"append":{"html":"E2"}}]},
        {"id":"r3","selector":"p","actions":[{"after":{"html":"A3"}},{"after":{"html":"A4"}},{"prepend":{"html":"P3"}}]}
    ]"#;
    assert_eq!(rewrite(rules, "<p>x</p>"), "B1B2<p>P1P2P3xE1E2</p>A1A2A3A4");
}

#[test]
fn templates_are_filled_and_escaped_for_where_they_land() {
    let url = "https://shop.example.com/sale/hats?q=%22%3E%3Cscript%3E";
    let rules = r#"[
        {"id":"html","selector":"h1","actions":[{"append":{"html":"<small>{{host}}{{path}} {{country}} {{date}} {{query.q}}</small>"}}]},
        {"id":"text","selector":"h1","actions":[{"prepend":{"text":"{{query.q}}"}}]},
        {"id":"attr","selector":"h1","actions":[{"set_attribute":{"name":"data-q","value":"q={{query.q}}"}}]}
    ]"#;
    assert_eq!(
        rewrite_for(url, rules, "<h1>Hats</h1>"),
        "<h1 data-q=\"q=&quot;&gt;&lt;script&gt;\">\"&gt;&lt;script&gt;Hats\
         <small>shop.example.com/sale/hats NL 2026-11-24 &quot;&gt;&lt;script&gt;</small></h1>"
    );
}

#[test]
fn rules_apply_only_where_their_conditions_hold() {
    let rules = r#"[{"id":"news-only","selector":"body","when":{"path":{"prefix":"/news/"}},"actions":[{"prepend":{"text":"N"}}]},
                    {"id":"beta","selector":"body","when":{"query":{"name":"beta","equals":"1"}},"actions":[{"prepend":{"text":"B"}}]}]"#;
    let page = "<body>x</body>";
    assert_eq!(rewrite_for("https://example.com/news/a", rules, page), "<body>Nx</body>");
    assert_eq!(rewrite_for("https://example.com/shop/a?beta=1", rules, page), "<body>Bx</body>");
    assert_eq!(rewrite_for("https://example.com/shop/a", rules, page), "<body>x</body>");
}

#[test]
fn disabled_rules_do_nothing() {
    let rule = r#"{"id":"off","enabled":false,"selector":"p","actions":["remove"]}"#;
    assert_eq!(rewrite(rule, PAGE), PAGE);
}

#[test]
fn injected_scripts_and_styles_carry_the_pages_csp_nonce() {
    let (rules, errors) = RuleSet::from_entries(&[(
        "t".into(),
        r#"[{"id":"tag","selector":"head","actions":[{"append":{"html":"<script src=\"/t.js\"></script><style>p{}</style>"}}]},
            {"id":"txt","selector":"p","actions":[{"append":{"text":"<script>"}}]}]"#
            .into(),
    )]);
    assert!(errors.is_empty(), "{errors:?}");
    let context = RequestContext {
        csp_nonce: edge_rewriter::http::csp_nonce("script-src 'nonce-n0nce'; style-src 'nonce-n0nce'"),
        ..RequestContext::default()
    };
    let plan = rules.plan(&context);
    let out = stream(&plan, &RewriteOptions::default(), &b"<head></head><p>x</p>"[..], Vec::new());
    assert_eq!(
        String::from_utf8(out.sink).unwrap(),
        "<head><script src=\"/t.js\" nonce=\"n0nce\"></script><style nonce=\"n0nce\">p{}</style></head><p>x&lt;script&gt;</p>"
    );
}

#[test]
fn max_acts_on_the_first_matches_only_whatever_the_actions() {
    let page = "<ul><li>a</li><li>b</li><li>c</li></ul>";
    // In-order actions (append), reversed ones (prepend, after), and both in one rule.
    let cases = [
        (r#"[{"append": {"text": "!"}}]"#, 1, "<ul><li>a!</li><li>b</li><li>c</li></ul>"),
        (
            r#"[{"prepend": {"text": "*"}}, {"after": {"html": "<hr>"}}]"#,
            2,
            "<ul><li>*a</li><hr><li>*b</li><hr><li>c</li></ul>",
        ),
        (
            r#"[{"set_attribute": {"name": "class", "value": "x"}}, {"prepend": {"text": "*"}}]"#,
            2,
            "<ul><li class=\"x\">*a</li><li class=\"x\">*b</li><li>c</li></ul>",
        ),
        (r#"["remove"]"#, 5, "<ul></ul>"),
    ];
    for (actions, max, expected) in cases {
        let rule = format!(r#"{{"id": "first", "selector": "li", "max": {max}, "actions": {actions}}}"#);
        assert_eq!(rewrite(&rule, page), expected, "{actions} with max {max}");
    }
}

#[test]
fn max_counts_hits_and_matches_in_page_order_with_nesting() {
    let (rules, errors) = RuleSet::from_entries(&[(
        "t".to_owned(),
        r#"{"id": "first", "selector": "div", "max": 2, "actions": [{"set_attribute": {"name": "data-n", "value": "y"}}]}"#.to_owned(),
    )]);
    assert!(errors.is_empty(), "{errors:?}");
    let plan = rules.plan(&RequestContext::default());
    let page = "<div><div></div></div><div></div>";
    let done =
        stream(&plan, &RewriteOptions { read_buffer: 3, ..RewriteOptions::default() }, page.as_bytes(), Vec::new());
    done.result.unwrap();
    assert_eq!(String::from_utf8(done.sink).unwrap(), r#"<div data-n="y"><div data-n="y"></div></div><div></div>"#);
    assert_eq!(done.report.hits, [("first".to_owned(), 2)]);
}

#[test]
fn one_class_is_added_or_removed_and_the_others_stay() {
    let add = r#"{"id":"add","selector":"button","actions":[{"add_class":"cta-big"}]}"#;
    let remove = r#"{"id":"rm","selector":"button","actions":[{"remove_class":"hidden"}]}"#;
    let cases = [
        (add, "<button class=\"btn primary\">Buy</button>", "<button class=\"btn primary cta-big\">Buy</button>"),
        (add, "<button>Buy</button>", "<button class=\"cta-big\">Buy</button>"),
        (add, "<button class=\"cta-big btn\">Buy</button>", "<button class=\"cta-big btn\">Buy</button>"),
        (add, "<button class=\"  \">Buy</button>", "<button class=\"cta-big\">Buy</button>"),
        (remove, "<button class=\"btn hidden primary\">Buy</button>", "<button class=\"btn primary\">Buy</button>"),
        (remove, "<button class=\"hidden\thidden\">Buy</button>", "<button class=\"\">Buy</button>"),
        (remove, "<button class=\"not-hidden\">Buy</button>", "<button class=\"not-hidden\">Buy</button>"),
        (remove, "<button>Buy</button>", "<button>Buy</button>"),
    ];
    for (rule, page, expected) in cases {
        assert_eq!(rewrite(rule, page), expected, "{rule} on {page}");
    }
}

#[test]
fn a_class_name_must_be_one_name() {
    for (value, why) in [("", "empty"), ("big cta", "one class"), ("a\"b", "quote")] {
        let rule = format!(r#"{{"id":"c","selector":"p","actions":[{{"add_class":{}}}]}}"#, serde_json::json!(value));
        let (_, errors) = RuleSet::from_entries(&[("e".to_owned(), rule)]);
        assert_eq!(errors.len(), 1, "{value:?}");
        assert_eq!(errors[0].field.as_deref(), Some("actions[0].add_class"), "{value:?}");
        assert!(errors[0].reason.contains(why), "{value:?}: {}", errors[0]);
    }
}

proptest::proptest! {
    /// On any class list, however spaced and however the page is split: `add_class` leaves
    /// every class there and adds the one missing at the end; `remove_class` takes out every
    /// copy of the one and keeps the others in order.
    #[test]
    fn adding_or_removing_a_class_keeps_the_other_classes(
        classes in proptest::collection::vec(proptest::sample::select(vec!["a", "b", "cta", "x-1", "B"]), 0..6),
        spaces in proptest::collection::vec(proptest::sample::select(vec![" ", "  ", "\t", "\n "]), 6),
        class in proptest::sample::select(vec!["a", "cta", "new"]),
        read_buffer in 1usize..12,
    ) {
        let value: String = classes.iter().zip(&spaces).map(|(class, space)| format!("{space}{class}")).collect();
        let page = format!("<p class=\"{value}\">x</p>");
        for action in ["add_class", "remove_class"] {
            let rule = format!(r#"{{"id":"c","selector":"p","actions":[{{"{action}":"{class}"}}]}}"#);
            let (rules, errors) = RuleSet::from_entries(&[("e".to_owned(), rule)]);
            proptest::prop_assert!(errors.is_empty());
            let plan = rules.plan(&RequestContext::default());
            let options = RewriteOptions { read_buffer, ..RewriteOptions::default() };
            let done = stream(&plan, &options, page.as_bytes(), Vec::new());
            let out = String::from_utf8(done.sink).unwrap();
            let after = out.split('"').nth(1).unwrap().to_owned();
            let tokens: Vec<&str> = after.split_ascii_whitespace().collect();
            let others: Vec<&str> = classes.iter().copied().filter(|c| *c != class).collect();
            let others_after: Vec<&str> = tokens.iter().copied().filter(|c| *c != class).collect();
            proptest::prop_assert_eq!(&others_after, &others, "{} on {:?} gave {:?}", action, value, after);
            let copies = tokens.iter().filter(|c| **c == class).count();
            if action == "add_class" {
                proptest::prop_assert!(copies >= 1, "{:?}", after);
                if !classes.contains(&class) {
                    proptest::prop_assert_eq!(tokens.last(), Some(&class));
                    proptest::prop_assert_eq!(copies, 1);
                }
            } else {
                proptest::prop_assert_eq!(copies, 0, "{:?}", after);
            }
        }
    }
}
