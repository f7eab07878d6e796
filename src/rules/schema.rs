//! The JSON Schema of a rule entry, generated from the Rust types so it cannot drift from
//! what the engine accepts. docs/rules.schema.json is this output, checked by a test.

use schemars::{SchemaGenerator, json_schema};

use super::Rule;

/// The schema of one store entry (or rules file): a rule object or an array of them.
pub fn json_schema() -> String {
    let mut generator = SchemaGenerator::default();
    let rule = generator.subschema_for::<Rule>();
    let definitions = generator.take_definitions(true);
    let schema = json_schema!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "edge-rewriter rule entry",
        "description": "One rule, or an array of rules applied in order. See docs/RULES.md.",
        "anyOf": [rule, { "type": "array", "items": rule }],
        "$defs": definitions
    });
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}
