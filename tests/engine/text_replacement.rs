//! `replace_text` as editors use it: where it looks, what it leaves alone, how it treats
//! character references, and that any chunking of a page gives the same result.

#![cfg(not(target_arch = "wasm32"))]

use edge_rewriter::{RequestContext, RewriteOptions, Rewriter, RuleSet, stream};

use crate::common::{rewrite_every_chunking, rules};

/// Rewrites `page` fed in the given chunk sizes (cycled); returns the output and hits.
fn rewrite_chunked(rules: &RuleSet, page: &[u8], sizes: &[usize]) -> (Vec<u8>, Vec<(String, u64)>) {
    let plan = rules.plan(&RequestContext::default());
    let mut rewriter = Rewriter::new(&plan, &RewriteOptions::default(), Vec::new());
    let mut rest = page;
    let mut sizes = sizes.iter().cycle();
    while !rest.is_empty() {
        let size = (*sizes.next().unwrap()).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(size);
        rewriter.write(chunk).unwrap();
        rest = tail;
    }
    rewriter.finish().unwrap();
    let (out, report) = rewriter.into_parts();
    (out, report.hits)
}

/// The output, checked to be the same whole and byte by byte.
fn rewrite(entry: &str, page: &str) -> String {
    let rules = rules(entry);
    let plan = rules.plan(&RequestContext::default());
    let whole = rewrite_every_chunking(&[page.len().max(1), 1], |read_buffer| {
        stream(&plan, &RewriteOptions { read_buffer, ..RewriteOptions::default() }, page.as_bytes(), Vec::new())
    });
    String::from_utf8(whole.sink).unwrap()
}

const CAT_TO_DOG: &str = r#"{"id":"cat","actions":[{"replace_text":{"find":"cat","replace":"dog"}}]}"#;

#[test]
fn ordinary_text_and_titles_change_by_default_form_fields_scripts_and_styles_do_not() {
    let page = "<title>cat</title><p>cat</p><textarea>cat</textarea><script>var cat = 1;</script>\
                <style>.cat{}</style><!-- cat --><p title=\"cat\">a cat</p>";
    assert_eq!(
        rewrite(CAT_TO_DOG, page),
        "<title>dog</title><p>dog</p><textarea>cat</textarea><script>var cat = 1;</script>\
         <style>.cat{}</style><!-- cat --><p title=\"cat\">a dog</p>"
    );
}

#[test]
fn scripts_styles_and_textareas_are_opt_in() {
    let rule = r#"{"id":"all","actions":[{"replace_text":{"find":"cat","replace":"dog","in":["script","style","textarea"]}}]}"#;
    let page = "<p>cat</p><textarea>cat</textarea><script>var cat = 'a&amp;b';</script><style>.cat{}</style>";
    assert_eq!(
        rewrite(rule, page),
        "<p>cat</p><textarea>dog</textarea><script>var dog = 'a&amp;b';</script><style>.dog{}</style>"
    );
}

#[test]
fn a_selector_scopes_the_rule() {
    let rule = r#"{"id":"main-only","selector":"main","actions":[{"replace_text":{"find":"cat","replace":"dog"}}]}"#;
    assert_eq!(
        rewrite(rule, "<p>cat</p><main><p>cat <b>cat</b></p></main><p>cat</p>"),
        "<p>cat</p><main><p>dog <b>dog</b></p></main><p>cat</p>"
    );
}

#[test]
fn excluded_elements_keep_their_text_descendants_included() {
    let rule = r#"{"id":"prose","selector":"main","actions":[{"replace_text":{"find":"color","replace":"colour",
                   "exclude":["code","pre",".verbatim"]}}]}"#;
    let page = "<p>color</p><main><p>The color <code>color</code> <b>color</b></p><pre>a <i>color</i></pre>\
                <div class=verbatim><p>color</p></div><p>color</p></main>";
    assert_eq!(
        rewrite(rule, page),
        "<p>color</p><main><p>The colour <code>color</code> <b>colour</b></p><pre>a <i>color</i></pre>\
         <div class=verbatim><p>color</p></div><p>colour</p></main>"
    );
    // Without a selector, with a second text rule that excludes nothing: each its own.
    let two = r#"[{"id":"a","actions":[{"replace_text":{"find":"cat","replace":"dog","exclude":["code"]}}]},
                  {"id":"b","actions":[{"replace_text":{"find":"cat","replace":"CAT"}}]}]"#;
    assert_eq!(rewrite(two, "<p>cat <code>cat</code></p>"), "<p>dog <code>CAT</code></p>");
    let (_, errors) = RuleSet::from_entries(&[(
        "e".to_owned(),
        r#"{"id":"x","actions":[{"replace_text":{"find":"a","replace":"b","exclude":["p:last-child"]}}]}"#.to_owned(),
    )]);
    assert_eq!(errors[0].field.as_deref(), Some("actions[0].replace_text.exclude[0]"), "{}", errors[0]);
}

#[test]
fn character_references_match_as_the_reader_sees_them() {
    let rule = r#"{"id":"tj","actions":[{"replace_text":{"find":"Tom & Jerry","replace":"Cats <& Dogs>"}}]}"#;
    assert_eq!(
        rewrite(rule, "<p>Tom &amp; Jerry, Tom & Jerry, Tom &#38; Jerry, Tom &amp;amp; Jerry</p>"),
        "<p>Cats &lt;&amp; Dogs&gt;, Cats &lt;&amp; Dogs&gt;, Cats &lt;&amp; Dogs&gt;, Tom &amp;amp; Jerry</p>"
    );
    // Bytes outside matches stay exactly as the origin wrote them.
    assert_eq!(rewrite(CAT_TO_DOG, "<p>caf&eacute; &copy; &#xE9; cat</p>"), "<p>caf&eacute; &copy; &#xE9; dog</p>");
}

#[test]
fn case_insensitive_regex_captures_and_first_n() {
    let insensitive =
        r#"{"id":"ci","actions":[{"replace_text":{"find":"CAT","replace":"dog","case_insensitive":true}}]}"#;
    assert_eq!(rewrite(insensitive, "<p>Cat cAt CAT</p>"), "<p>dog dog dog</p>");
    let captures = r#"{"id":"re","actions":[{"replace_text":{"regex":"\\b([Cc])at(s?)\\b","replace":"${1}og$2"}}]}"#;
    assert_eq!(rewrite(captures, "<p>Cats and a cat; catalogue</p>"), "<p>Cogs and a cog; catalogue</p>");
    let first_two = r#"{"id":"two","actions":[{"replace_text":{"find":"cat","replace":"dog","max":2}}]}"#;
    assert_eq!(rewrite(first_two, "<p>cat</p><p>cat cat</p><p>cat</p>"), "<p>dog</p><p>dog cat</p><p>cat</p>");
}

#[test]
fn text_rules_chain_in_order_and_count_their_replacements() {
    let rules = rules(
        r#"[{"id":"cat-dog","actions":[{"replace_text":{"find":"cat","replace":"dog"}}]},
            {"id":"dog-wolf","actions":[{"replace_text":{"find":"dog","replace":"wolf"}}]}]"#,
    );
    for sizes in [&[usize::MAX][..], &[1], &[2, 3, 1]] {
        let (out, hits) = rewrite_chunked(&rules, b"<p>a cat and a dog</p>", sizes);
        assert_eq!(String::from_utf8(out).unwrap(), "<p>a wolf and a wolf</p>");
        assert_eq!(hits, vec![("cat-dog".to_owned(), 1), ("dog-wolf".to_owned(), 2)]);
    }
}

#[test]
fn matches_do_not_cross_tags() {
    assert_eq!(rewrite(CAT_TO_DOG, "<p>c<b>at</b> ca<!-- -->t</p>"), "<p>c<b>at</b> ca<!-- -->t</p>");
}

#[test]
fn text_rules_work_beside_element_rules() {
    let rules = r#"[{"id":"banner","selector":"body","actions":[{"prepend":{"html":"<p>cat banner</p>"}}]},
                    {"id":"cat","actions":[{"replace_text":{"find":"cat","replace":"dog"}}]},
                    {"id":"gone","selector":".ad","actions":["remove"]}]"#;
    // Inserted content is the editors' own: text rules change the page's text, not it.
    assert_eq!(
        rewrite(rules, "<body><p>cat</p><div class=ad>cat</div></body>"),
        "<body><p>cat banner</p><p>dog</p></body>"
    );
}

// ---- chunk invariance ------------------------------------------------------------------

/// A small deterministic generator (xorshift): the same seed, the same splits, so a
/// failure names a reproducible case.
struct Splits(u64);

impl Splits {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Chunk sizes mostly tiny (where boundaries bite), sometimes large.
    fn sizes(&mut self, count: usize) -> Vec<usize> {
        (0..count)
            .map(|_| match self.next() % 10 {
                0..=5 => 1 + (self.next() % 8) as usize,
                6..=8 => 1 + (self.next() % 200) as usize,
                _ => 1 + (self.next() % 20_000) as usize,
            })
            .collect()
    }
}

/// Text rules of every kind, plus element rules around them.
const PROPERTY_RULES: &str = r##"[
    {"id":"the","actions":[{"replace_text":{"find":"the","replace":"THE"}}]},
    {"id":"long","actions":[{"replace_text":{"find":"specification","replace":"spec (&)","case_insensitive":true}}]},
    {"id":"entity","actions":[{"replace_text":{"find":"&","replace":"and"}}]},
    {"id":"words","actions":[{"replace_text":{"regex":"\\b(?P<w>[A-Z][a-z]+)ing\\b","replace":"${w}ed","max":500}}]},
    {"id":"scripts","actions":[{"replace_text":{"find":"function","replace":"fn","in":["script"]}}]},
    {"id":"scoped","selector":"p","actions":[{"replace_text":{"regex":"[0-9]+","replace":"#"}}]},
    {"id":"banner","selector":"body","actions":[{"prepend":{"html":"<div>the banner</div>"}}]},
    {"id":"links","selector":"a[href]","actions":[{"rewrite_attribute":{"name":"href","pattern":"^http:","replacement":"https:"}}]}
]"##;

fn pages() -> Vec<(String, Vec<u8>)> {
    let mut pages = Vec::new();
    let fixtures = devstack::project::fixture_pages();
    for dir in [fixtures.clone(), fixtures.join("news")] {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "html") {
                pages.push((entry.path().display().to_string(), std::fs::read(entry.path()).unwrap()));
            }
        }
    }
    // Bytes that are not UTF-8 are carried through lol_html: whatever the split, too.
    let invalid = fixtures.join("broken").join("invalid-utf8.html");
    pages.push((invalid.display().to_string(), std::fs::read(&invalid).unwrap()));
    pages.extend(
        devstack::project::corpus_pages().into_iter().map(|(name, page)| (format!("corpus/pages/{name}"), page)),
    );
    pages
}

#[test]
fn any_split_of_a_page_gives_the_same_output_as_the_whole_page() {
    let rules = rules(PROPERTY_RULES);
    let pages = pages();
    assert!(pages.len() >= 2);
    let mut splits = Splits(0x9e37_79b9_7f4a_7c15);
    for (name, page) in &pages {
        let (whole, whole_hits) = rewrite_chunked(&rules, page, &[usize::MAX]);
        assert!(whole_hits.iter().any(|(id, n)| id == "the" && *n > 0), "{name}: the rules must fire");
        for round in 0..8 {
            let seed = splits.0;
            let sizes = splits.sizes(64);
            let (split, split_hits) = rewrite_chunked(&rules, page, &sizes);
            if split != whole {
                let at = split.iter().zip(&whole).position(|(a, b)| a != b).unwrap_or(split.len().min(whole.len()));
                panic!(
                    "{name}: split round {round} (seed {seed:#x}) differs at byte {at}:\n whole: {:?}\n split: {:?}",
                    String::from_utf8_lossy(&whole[at.saturating_sub(40)..(at + 40).min(whole.len())]),
                    String::from_utf8_lossy(&split[at.saturating_sub(40)..(at + 40).min(split.len())]),
                );
            }
            assert_eq!(split_hits, whole_hits, "{name}: round {round} (seed {seed:#x}) counted differently");
        }
    }
}

#[test]
fn an_empty_textarea_does_not_hide_the_next_title() {
    assert_eq!(
        rewrite(CAT_TO_DOG, "<textarea></textarea><title>cat</title><p>cat</p>"),
        "<textarea></textarea><title>dog</title><p>dog</p>"
    );
}

#[test]
fn bytes_that_are_not_utf8_are_kept() {
    // A page declared UTF-8 with invalid bytes (a stray Latin-1 é, a lone continuation
    // byte, a cut sequence), in nodes without a match and next to matches.
    let page: &[u8] =
        b"<meta charset=utf-8><p>caf\xe9 \x80 au lait \xe2\x82</p><p>a cat sat</p><p>\xff concatenation c\xe9t cat</p>";
    let cases = [
        (CAT_TO_DOG, "<p>\u{ff} condogenation c\u{e9}t dog</p>"),
        (
            r#"{"id":"cat","actions":[{"replace_text":{"regex":"\\bc(a)t\\b","replace":"d${1}g"}}]}"#,
            "<p>\u{ff} concatenation c\u{e9}t dag</p>",
        ),
        (
            r#"{"id":"cat","actions":[{"replace_text":{"find":"CAT","case_insensitive":true,"replace":"dog"}}]}"#,
            "<p>\u{ff} condogenation c\u{e9}t dog</p>",
        ),
    ];
    for (entry, last_node) in cases {
        let rules = rules(entry);
        let sat = if entry.contains("regex") { "a dag sat" } else { "a dog sat" };
        let expected = [
            &b"<meta charset=utf-8><p>caf\xe9 \x80 au lait \xe2\x82</p><p>"[..],
            sat.as_bytes(),
            b"</p>",
            &latin1(last_node),
        ]
        .concat();
        for sizes in [&[usize::MAX][..], &[1], &[3, 5, 2], &[7]] {
            let (out, _) = rewrite_chunked(&rules, page, sizes);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&expected),
                "{entry} in pieces of {sizes:?}"
            );
            assert_eq!(out, expected, "{entry} in pieces of {sizes:?}: bytes changed");
        }
    }
}

/// `text`'s characters below U+0100 as single bytes (to write invalid UTF-8 in a literal).
fn latin1(text: &str) -> Vec<u8> {
    text.chars().map(|c| c as u32 as u8).collect()
}
