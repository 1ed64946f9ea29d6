//! Test fixtures: a data source and one of its pages as Notion 2025-09-03 returns them, with
//! a property of every type the sync reads (and two it cannot).

use serde_json::{json, Value};

use crate::notion::schema::{parse_schema, Schema};

pub const PAGE_ID: &str = "153104cd-477e-809d-8dc4-ff2d96ae3090";
pub const AUTHORS_DS: &str = "1f2104cd-477e-80c1-9a0e-000b6f2a9b11";
pub const OTHER_DS: &str = "2a3104cd-477e-8044-b3a2-000c1d2e3f40";
pub const SIGNED_COVER: &str = "https://prod-files-secure.s3.us-west-2.amazonaws.com/4f1c2a3b-0000-4c4c-9d9d-1a2b3c4d5e6f/9a2e7c1d-2b3c-4d5e-8f90-a1b2c3d4e5f6/cover.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAZI2LB466%2F20241205%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Date=20241205T100000Z&X-Amz-Expires=3600&X-Amz-Signature=1111aaaa&X-Amz-SignedHeaders=host&x-id=GetObject";

/// `GET /v1/data_sources/{id}` as Notion 2025-09-03 returns it (trimmed to `properties`
/// plus a few envelope keys).
pub fn data_source() -> Value {
    json!({
        "object": "data_source",
        "id": "248104cd-477e-80af-bc30-000bd9ed4d2b",
        "title": [{"type": "text", "text": {"content": "Blog", "link": null}, "plain_text": "Blog"}],
        "properties": {
            "Name": {"id": "title", "name": "Name", "type": "title", "title": {}, "description": null},
            "Body": {"id": "%3AUPp", "name": "Body", "type": "rich_text", "rich_text": {}, "description": null},
            "Views": {"id": "b%5Dx%3F", "name": "Views", "type": "number", "number": {"format": "number"}},
            "Featured": {"id": "Wq%7Bn", "name": "Featured", "type": "checkbox", "checkbox": {}},
            "Published on": {"id": "a%3Bxz", "name": "Published on", "type": "date", "date": {}},
            "Category": {"id": "K%3DqV", "name": "Category", "type": "select", "select": {"options": [
                {"id": "3f1c9a2e-0a4b-4c2d-9e1f-7a6b5c4d3e2f", "name": "News", "color": "blue", "description": null},
                {"id": "8b2d4e6f-1a3c-4e5f-8a9b-0c1d2e3f4a5b", "name": "Guides", "color": "green", "description": null}
            ]}},
            "Status": {"id": "S%60nF", "name": "Status", "type": "status", "status": {
                "options": [
                    {"id": "not-started", "name": "Not started", "color": "default", "description": null},
                    {"id": "c7d8e9f0", "name": "Live", "color": "green", "description": null}
                ],
                "groups": [{"id": "g1", "name": "To-do", "color": "gray", "option_ids": ["not-started"]}]
            }},
            "Tags": {"id": "tg%40A", "name": "Tags", "type": "multi_select", "multi_select": {"options": [
                {"id": "t-rust", "name": "Rust", "color": "orange", "description": null},
                {"id": "t-wasm", "name": "Wasm", "color": "purple", "description": null}
            ]}},
            "Website": {"id": "U%5Ei%3D", "name": "Website", "type": "url", "url": {}},
            "Contact": {"id": "eM%3Ai", "name": "Contact", "type": "email", "email": {}},
            "Phone": {"id": "pH%3Dn", "name": "Phone", "type": "phone_number", "phone_number": {}},
            "Cover": {"id": "cV%7Br", "name": "Cover", "type": "files", "files": {}},
            "Attachment": {"id": "aT%7Bc", "name": "Attachment", "type": "files", "files": {}},
            "Authors": {"id": "au%3Ch", "name": "Authors", "type": "relation", "relation": {
                "database_id": "0e1104cd-477e-80f2-8d3c-000a1b2c3d4e",
                "data_source_id": "1f2104cd477e80c19a0e000b6f2a9b11",
                "type": "dual_property",
                "dual_property": {"synced_property_id": "Zx%3D1", "synced_property_name": "Posts"}
            }},
            "Related": {"id": "rL%3At", "name": "Related", "type": "relation", "relation": {
                "database_id": "3b4104cd-477e-80d5-a6b7-000c8d9e0f1a",
                "data_source_id": OTHER_DS,
                "type": "single_property",
                "single_property": {}
            }},
            "ID": {"id": "iD%3F%3F", "name": "ID", "type": "unique_id", "unique_id": {"prefix": "POST"}},
            "Score": {"id": "sC%3Fr", "name": "Score", "type": "formula", "formula": {"expression": "prop(\"Views\") * 2"}},
            "Total words": {"id": "tW%3Cw", "name": "Total words", "type": "rollup", "rollup": {
                "function": "sum", "relation_property_name": "Authors", "relation_property_id": "au%3Ch",
                "rollup_property_name": "Words", "rollup_property_id": "wD%3A1"
            }},
            "Author names": {"id": "aN%3Am", "name": "Author names", "type": "rollup", "rollup": {
                "function": "show_original", "relation_property_name": "Authors", "relation_property_id": "au%3Ch",
                "rollup_property_name": "Name", "rollup_property_id": "title"
            }},
            "Created": {"id": "cR%3At", "name": "Created", "type": "created_time", "created_time": {}},
            "Edited": {"id": "eD%3At", "name": "Edited", "type": "last_edited_time", "last_edited_time": {}},
            "Owner": {"id": "oW%3Ar", "name": "Owner", "type": "people", "people": {}},
            "Created by": {"id": "cB%3Ay", "name": "Created by", "type": "created_by", "created_by": {}},
            "Approve": {"id": "bT%3An", "name": "Approve", "type": "button", "button": {}},
            "Checked": {"id": "vR%3Af", "name": "Checked", "type": "verification", "verification": {}}
        }
    })
}

pub fn rich(text: &str) -> Value {
    json!({
        "type": "text",
        "text": {"content": text, "link": null},
        "annotations": {"bold": false, "italic": false, "strikethrough": false, "underline": false, "code": false, "color": "default"},
        "plain_text": text,
        "href": null
    })
}

pub fn bold(text: &str) -> Value {
    let mut segment = rich(text);
    segment["annotations"]["bold"] = json!(true);
    segment
}

/// One row of `POST /v1/data_sources/{id}/query`.
pub fn page() -> Value {
    let mut page = json!({
        "object": "page",
        "id": PAGE_ID,
        "created_time": "2024-12-05T10:30:00.000Z",
        "last_edited_time": "2024-12-06T08:15:00.000Z",
        "in_trash": false,
        "is_archived": false,
        "is_locked": false,
        "parent": {"type": "data_source_id", "data_source_id": "248104cd-477e-80af-bc30-000bd9ed4d2b", "database_id": "0a0104cd-477e-8000-8000-000000000000"},
        "url": "https://www.notion.so/Hello-world-153104cd477e809d8dc4ff2d96ae3090",
        "public_url": null
    });
    page["properties"] = page_properties();
    page
}

/// Built entry by entry: one `json!` this size exceeds the macro recursion limit.
fn page_properties() -> Value {
    let entries = simple_properties().into_iter().chain(compound_properties());
    Value::Object(
        entries
            .map(|(name, value)| (name.to_string(), value))
            .collect(),
    )
}

fn simple_properties() -> Vec<(&'static str, Value)> {
    vec![
        (
            "Name",
            json!({"id": "title", "type": "title", "title": [rich("Hello world")]}),
        ),
        (
            "Body",
            json!({"id": "%3AUPp", "type": "rich_text", "rich_text": [rich("Hi "), bold("there")]}),
        ),
        (
            "Views",
            json!({"id": "b%5Dx%3F", "type": "number", "number": 12}),
        ),
        (
            "Featured",
            json!({"id": "Wq%7Bn", "type": "checkbox", "checkbox": true}),
        ),
        (
            "Published on",
            json!({"id": "a%3Bxz", "type": "date", "date": {"start": "2024-12-05", "end": null, "time_zone": null}}),
        ),
        (
            "Category",
            json!({"id": "K%3DqV", "type": "select", "select": {"id": "8b2d4e6f-1a3c-4e5f-8a9b-0c1d2e3f4a5b", "name": "Guides", "color": "green"}}),
        ),
        (
            "Status",
            json!({"id": "S%60nF", "type": "status", "status": {"id": "c7d8e9f0", "name": "Live", "color": "green"}}),
        ),
        (
            "Tags",
            json!({"id": "tg%40A", "type": "multi_select", "multi_select": [
                {"id": "t-rust", "name": "Rust", "color": "orange"},
                {"id": "t-wasm", "name": "Wasm", "color": "purple"}
            ]}),
        ),
        (
            "Website",
            json!({"id": "U%5Ei%3D", "type": "url", "url": "https://example.com"}),
        ),
        (
            "Contact",
            json!({"id": "eM%3Ai", "type": "email", "email": "editor@example.com"}),
        ),
        (
            "Phone",
            json!({"id": "pH%3Dn", "type": "phone_number", "phone_number": "+1 555 0100"}),
        ),
    ]
}

fn compound_properties() -> Vec<(&'static str, Value)> {
    vec![
        (
            "Cover",
            json!({"id": "cV%7Br", "type": "files", "files": [
                {"name": "brief.pdf", "type": "external", "external": {"url": "https://example.com/brief.pdf"}},
                {"name": "cover.png", "type": "file", "file": {"url": SIGNED_COVER, "expiry_time": "2024-12-06T09:15:00.000Z"}}
            ]}),
        ),
        (
            "Attachment",
            json!({"id": "aT%7Bc", "type": "files", "files": [
                {"name": "brief.pdf", "type": "external", "external": {"url": "https://example.com/brief.pdf"}}
            ]}),
        ),
        (
            "Authors",
            json!({"id": "au%3Ch", "type": "relation", "relation": [
                {"id": "5c6d7e8f9a0b4c1d8e2f3a4b5c6d7e8f"}, {"id": "6D7E8F9A-0B1C-4D2E-8F3A-4B5C6D7E8F90"}
            ], "has_more": false}),
        ),
        (
            "Related",
            json!({"id": "rL%3At", "type": "relation", "relation": [{"id": "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b"}], "has_more": true}),
        ),
        (
            "ID",
            json!({"id": "iD%3F%3F", "type": "unique_id", "unique_id": {"prefix": "POST", "number": 12}}),
        ),
        (
            "Score",
            json!({"id": "sC%3Fr", "type": "formula", "formula": {"type": "number", "number": 24}}),
        ),
        (
            "Total words",
            json!({"id": "tW%3Cw", "type": "rollup", "rollup": {"type": "number", "number": 1830.5, "function": "sum"}}),
        ),
        (
            "Author names",
            json!({"id": "aN%3Am", "type": "rollup", "rollup": {"type": "array", "function": "show_original", "array": [
                {"type": "title", "title": [rich("Ada Lovelace")]},
                {"type": "title", "title": [rich("Alan Turing")]}
            ]}}),
        ),
        (
            "Created",
            json!({"id": "cR%3At", "type": "created_time", "created_time": "2024-12-05T10:30:00.000Z"}),
        ),
        (
            "Edited",
            json!({"id": "eD%3At", "type": "last_edited_time", "last_edited_time": "2024-12-06T08:15:00.000Z"}),
        ),
        (
            "Owner",
            json!({"id": "oW%3Ar", "type": "people", "people": [
                {"object": "user", "id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "name": "Grace Hopper", "avatar_url": null, "type": "person", "person": {"email": "grace@example.com"}},
                {"object": "user", "id": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"}
            ]}),
        ),
        (
            "Created by",
            json!({"id": "cB%3Ay", "type": "created_by", "created_by": {"object": "user", "id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "name": "Grace Hopper"}}),
        ),
        (
            "Approve",
            json!({"id": "bT%3An", "type": "button", "button": {}}),
        ),
        (
            "Checked",
            json!({"id": "vR%3Af", "type": "verification", "verification": {"state": "unverified", "date": null, "verified_by": null}}),
        ),
    ]
}

/// [`data_source`] parsed.
pub fn schema() -> Schema {
    parse_schema(&data_source()).unwrap()
}

/// Replaces the page property named `name`.
pub fn set_property(page: &mut Value, name: &str, value: Value) {
    page["properties"][name] = value;
}
