//! The html5lib test inputs (../shared/corpus/html5lib: every `#data` document of the
//! tree-construction and encoding tests, broken HTML of every kind) through the engine:
//! - with no rules, the output is the input, byte for byte, however it is chunked;
//! - with a rule set that uses every action, nothing panics and the output is the same
//!   whether the document arrives whole, 7 bytes or 1 byte at a time.

#![cfg(not(target_arch = "wasm32"))]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use edge_rewriter::{RequestContext, RewriteOptions, RuleSet, stream};

/// Every action at least once, on elements and text the html5lib documents are full of.
const EVERY_ACTION: &str = r##"[
  {"id":"before","selector":"p","actions":[{"before":{"html":"<hr>"}}]},
  {"id":"after","selector":"div","actions":[{"after":{"text":"<after & >"}}]},
  {"id":"prepend","selector":"body","actions":[{"prepend":{"html":"<div class=banner>Sale</div>"}}]},
  {"id":"append","selector":"head","actions":[{"append":{"html":"<script src=/t.js></script>"}}]},
  {"id":"replace","selector":"b","actions":[{"replace":{"html":"<strong>B</strong>"}}]},
  {"id":"set-inner","selector":"title, textarea","actions":[{"set_inner":{"text":"Inner & co"}}]},
  {"id":"remove","selector":"i, svg","actions":["remove"]},
  {"id":"unwrap","selector":"span, font","actions":["unwrap"]},
  {"id":"set-attribute","selector":"a, td","actions":[{"set_attribute":{"name":"data-edge","value":"1 & \"2\""}}]},
  {"id":"remove-attribute","selector":"[id]","actions":[{"remove_attribute":"id"}]},
  {"id":"add-class","selector":"p, a","actions":[{"add_class":"edge"}]},
  {"id":"remove-class","selector":"[class]","actions":[{"remove_class":"a"}]},
  {"id":"rewrite-attribute","selector":"a[href], [class]","actions":[
    {"rewrite_attribute":{"name":"href","pattern":"^http:","replacement":"https:"}},
    {"rewrite_attribute":{"name":"class","pattern":"(\\w+)","replacement":"x-$1"}}]},
  {"id":"rename-tag","selector":"table td, em","actions":[{"rename_tag":"section"}]},
  {"id":"replace-comments","actions":[{"replace_comments":{"html":"<!-- edge -->"}}]},
  {"id":"remove-comments","actions":["remove_comments"]},
  {"id":"document-end","actions":[{"append_to_document":{"html":"<!-- end -->"}}]},
  {"id":"literal","actions":[{"replace_text":{"find":"a","replace":"<A&>"}}]},
  {"id":"any-case","actions":[{"replace_text":{"find":"foo","replace":"bar","case_insensitive":true}}]},
  {"id":"regex","actions":[{"replace_text":{"regex":"(x+)y|&","replace":"[$1]","in":["text","title","textarea","script","style"]}}]}
]"##;

/// One `#data` document and where it came from.
struct Document {
    origin: String,
    bytes: Vec<u8>,
}

/// The `#data` sections of every `.dat` file under `dir`.
fn documents(dir: &Path) -> Vec<Document> {
    let mut files: Vec<_> = ["tree-construction", "encoding"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(dir.join(sub)).unwrap_or_else(|err| panic!("{sub}: {err}")))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "dat"))
        .collect();
    files.sort();
    let mut documents = Vec::new();
    for file in files {
        let text = std::fs::read(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        documents.extend(
            data_sections(&text)
                .into_iter()
                .enumerate()
                .map(|(index, bytes)| Document { origin: format!("{name} #{}", index + 1), bytes }),
        );
    }
    documents
}

/// The bodies of a `.dat` file's `#data` sections: every line up to the next section
/// header, without the newline that ends the last one. Some are not valid UTF-8 (the
/// encoding tests), so this works on bytes.
fn data_sections(file: &[u8]) -> Vec<Vec<u8>> {
    const HEADERS: &[&[u8]] = &[b"#errors", b"#new-errors", b"#document", b"#encoding", b"#script-", b"#data"];
    let mut sections = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in file.split_inclusive(|&byte| byte == b'\n') {
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        if let Some(body) = current.as_mut() {
            if HEADERS.iter().any(|header| bare.starts_with(header)) {
                if body.ends_with(b"\n") {
                    body.pop();
                }
                sections.push(current.take().unwrap());
            } else {
                body.extend_from_slice(line);
                continue;
            }
        }
        if bare == b"#data" {
            current = Some(Vec::new());
        }
    }
    sections.extend(current);
    sections
}

fn rewrite(rules: &RuleSet, document: &[u8], read_buffer: usize) -> Vec<u8> {
    let plan = rules.plan(&RequestContext::default());
    let options = RewriteOptions { read_buffer, ..RewriteOptions::default() };
    let streamed = stream(&plan, &options, document, Vec::new());
    streamed.result.expect("reading from memory and writing to a Vec cannot fail");
    streamed.sink
}

/// Runs `check` on every document, collecting failures (panics included) instead of
/// stopping at the first, so one run shows them all.
fn for_every_document(check: impl Fn(&Document) -> Result<(), String>) -> Option<usize> {
    let dir = devstack::project::corpus()?.join("html5lib");
    let documents = documents(&dir);
    assert!(documents.len() > 1_700, "only {} documents found under {}", documents.len(), dir.display());
    let failures: Vec<String> = documents
        .iter()
        .filter_map(|document| match catch_unwind(AssertUnwindSafe(|| check(document))) {
            Ok(Ok(())) => None,
            Ok(Err(why)) => Some(format!("{}: {why}", document.origin)),
            Err(_) => Some(format!("{}: panicked", document.origin)),
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} documents failed:\n{}",
        failures.len(),
        documents.len(),
        failures.join("\n")
    );
    Some(documents.len())
}

#[test]
fn data_sections_are_read_exactly() {
    let file =
        b"#data\nTest\n#errors\n(1,0): x\n#document\n| <html>\n\n#data\n<p>a\n\n<p>b\n#errors\n#data\n\n#errors\n";
    assert_eq!(data_sections(file), vec![b"Test".to_vec(), b"<p>a\n\n<p>b".to_vec(), Vec::new()]);
}

#[test]
fn without_rules_every_document_passes_through_byte_identical() {
    let (rules, errors) = RuleSet::from_entries(&[]);
    assert!(errors.is_empty());
    let checked = for_every_document(|document| {
        for read_buffer in [1, 7, usize::MAX] {
            let out = rewrite(&rules, &document.bytes, read_buffer.min(document.bytes.len().max(1)));
            if out != document.bytes {
                return Err(format!(
                    "changed in {read_buffer}-byte reads:\n  in:  {:?}\n  out: {:?}",
                    String::from_utf8_lossy(&document.bytes),
                    String::from_utf8_lossy(&out)
                ));
            }
        }
        Ok(())
    });
    if let Some(count) = checked {
        println!("{count} html5lib documents byte-identical with no rules");
    }
}

#[test]
fn with_every_action_the_output_does_not_depend_on_chunking() {
    let (rules, errors) = RuleSet::from_entries(&[("every-action".to_owned(), EVERY_ACTION.to_owned())]);
    assert!(errors.is_empty(), "{errors:?}");
    let checked = for_every_document(|document| {
        let whole = rewrite(&rules, &document.bytes, document.bytes.len().max(1));
        for read_buffer in [1, 7] {
            let pieces = rewrite(&rules, &document.bytes, read_buffer);
            if pieces != whole {
                return Err(format!(
                    "{read_buffer}-byte reads differ from whole:\n  in:    {:?}\n  whole: {:?}\n  {read_buffer}:     {:?}",
                    String::from_utf8_lossy(&document.bytes),
                    String::from_utf8_lossy(&whole),
                    String::from_utf8_lossy(&pieces)
                ));
            }
        }
        Ok(())
    });
    if let Some(count) = checked {
        println!("{count} html5lib documents rewritten alike whole, in 7-byte and in 1-byte reads");
    }
}
