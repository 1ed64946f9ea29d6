//! Notion webhook payloads: telling a verification request from an event, and deciding what an
//! event means for a synced database. Payload content is never trusted beyond routing: the sync
//! always re-reads Notion.

use crate::notion::ids::canonical;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a webhook POST carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// The one-time subscription verification: `{"verification_token": "secret_..."}`.
    Verification {
        token: String,
    },
    Event(Event),
}

/// The parts of an event envelope routing needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub attempt_number: Option<u32>,
    #[serde(default)]
    pub entity: Option<Entity>,
    #[serde(default)]
    pub data: Option<EventData>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Entity {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
pub struct EventData {
    #[serde(default)]
    pub parent: Option<Parent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Parent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub data_source_id: Option<String>,
}

/// Why a body is not a webhook payload we understand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    NotJson(String),
    NotAnObject,
    MissingField(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotJson(why) => write!(f, "the body is not valid JSON: {why}"),
            Self::NotAnObject => f.write_str("the body must be a JSON object"),
            Self::MissingField(name) => write!(f, "the event has no valid `{name}` field"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses a webhook body. A body with `verification_token` and no `type` is the verification
/// request; anything else must be an event envelope with an `id` and a `type`.
pub fn parse(body: &[u8]) -> Result<Incoming, ParseError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    let object = value.as_object().ok_or(ParseError::NotAnObject)?;
    if !object.contains_key("type") {
        if let Some(token) = object.get("verification_token").and_then(|t| t.as_str()) {
            if token.is_empty() {
                return Err(ParseError::MissingField("verification_token"));
            }
            return Ok(Incoming::Verification {
                token: token.to_owned(),
            });
        }
    }
    match object.get("id") {
        Some(serde_json::Value::String(id)) if !id.is_empty() => {}
        _ => return Err(ParseError::MissingField("id")),
    }
    if !object.get("type").is_some_and(serde_json::Value::is_string) {
        return Err(ParseError::MissingField("type"));
    }
    serde_json::from_value(value)
        .map(Incoming::Event)
        .map_err(|e| ParseError::NotJson(e.to_string()))
}

/// The ids of the databases and data sources an event may concern, canonicalised.
/// Routing looks these up among connected projects.
pub fn database_refs(event: &Event) -> Vec<String> {
    let mut refs = Vec::new();
    if let Some(parent) = event.data.as_ref().and_then(|d| d.parent.as_ref()) {
        if matches!(parent.kind.as_str(), "database" | "data_source") {
            refs.push(canonical(&parent.id));
        }
        if let Some(ds) = &parent.data_source_id {
            refs.push(canonical(ds));
        }
    }
    if let Some(entity) = &event.entity {
        if matches!(entity.kind.as_str(), "database" | "data_source") {
            refs.push(canonical(&entity.id));
        }
    }
    refs.dedup();
    refs
}

/// What an event asks of the sync, once it is known to concern a connected database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// A row may have changed: the incremental sync picks it up by its edit time.
    PageChanged { page_id: String },
    /// A row may be gone (deleted, or moved out of the database): the sync re-checks it.
    PageGone { page_id: String },
    /// Something database-wide changed (schema, bulk content, the database itself): reconcile all.
    Everything,
}

/// The event types a sync acts on. Everything else is acknowledged and counted only.
pub fn effect(event: &Event) -> Option<Effect> {
    let entity_id = || {
        event
            .entity
            .as_ref()
            .map(|e| canonical(&e.id))
            .unwrap_or_default()
    };
    match event.kind.as_str() {
        "page.created" | "page.properties_updated" | "page.content_updated" | "page.undeleted" => {
            Some(Effect::PageChanged {
                page_id: entity_id(),
            })
        }
        "page.deleted" | "page.moved" => Some(Effect::PageGone {
            page_id: entity_id(),
        }),
        "data_source.content_updated"
        | "data_source.schema_updated"
        | "data_source.deleted"
        | "data_source.undeleted"
        | "database.content_updated"
        | "database.schema_updated"
        | "database.deleted"
        | "database.undeleted" => Some(Effect::Everything),
        _ => None,
    }
}

/// Decides whether `event` is work for a project connected to `database_id` and its data sources.
pub fn effect_for(event: &Event, database_id: &str, data_source_ids: &[String]) -> Option<Effect> {
    let ours = canonical(database_id);
    let concerns_us = database_refs(event)
        .iter()
        .any(|r| *r == ours || data_source_ids.iter().any(|ds| canonical(ds) == *r));
    if concerns_us {
        effect(event)
    } else {
        None
    }
}

/// The data source a `data_source.created` event adds to the project's database: offered to
/// the owner, never synced silently (a project syncs one data source).
pub fn new_data_source(event: &Event, database_id: &str) -> Option<String> {
    if event.kind != "data_source.created" {
        return None;
    }
    let ours = canonical(database_id);
    let entity = event.entity.as_ref()?;
    (entity.kind == "data_source" && database_refs(event).contains(&ours))
        .then(|| canonical(&entity.id))
}

/// A `page.moved` event names the page's new parent: one moved *out* of the project's data
/// source does not concern it by its parent. Such an event gives the page id, so the caller can
/// ask whether the project holds that page (then it is gone from the source).
pub fn moved_page(event: &Event) -> Option<String> {
    (event.kind == "page.moved")
        .then(|| event.entity.as_ref().map(|e| canonical(&e.id)))
        .flatten()
        .filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const DB: &str = "36cc9195-760f-4fff-a67e-3a46c559b176";
    const DS: &str = "98024f3c-b1d3-4aec-a301-f01e0dacf023";
    const PAGE: &str = "153104cd-477e-809d-8dc4-ff2d96ae3090";

    fn event_json(kind: &str, entity_type: &str, entity_id: &str, parent: &str) -> String {
        format!(
            r#"{{"id":"1782edd6-a853-4d4a-b02c-9c8c16f28e53","timestamp":"2024-12-05T23:57:05.379Z","type":"{kind}","attempt_number":2,"entity":{{"id":"{entity_id}","type":"{entity_type}"}},"data":{{"parent":{parent}}}}}"#
        )
    }

    fn row_parent() -> String {
        format!(r#"{{"id":"{DB}","type":"database","data_source_id":"{DS}"}}"#)
    }

    fn parse_event(text: &str) -> Event {
        match parse(text.as_bytes()).unwrap() {
            Incoming::Event(e) => e,
            Incoming::Verification { .. } => panic!("not an event"),
        }
    }

    #[test]
    fn tells_verification_from_events() {
        let v = parse(br#"{"verification_token":"secret_abc"}"#).unwrap();
        assert_eq!(
            v,
            Incoming::Verification {
                token: "secret_abc".into()
            }
        );
        let sdk_vector = include_str!("../../../vectors/notion-signatures.json");
        let cases: serde_json::Value = serde_json::from_str(sdk_vector).unwrap();
        let event = parse_event(cases["cases"][1]["body"].as_str().unwrap());
        assert_eq!(event.kind, "page.properties_updated");
        assert_eq!(event.attempt_number, Some(1));
        assert_eq!(database_refs(&event), vec![DB.to_string(), DS.to_string()]);
    }

    #[test]
    fn rejects_what_is_not_a_payload() {
        assert!(matches!(parse(b"not json"), Err(ParseError::NotJson(_))));
        assert_eq!(parse(b"[1,2]"), Err(ParseError::NotAnObject));
        assert_eq!(parse(b"{}"), Err(ParseError::MissingField("id")));
        assert_eq!(
            parse(br#"{"id":"x"}"#),
            Err(ParseError::MissingField("type"))
        );
        assert_eq!(
            parse(br#"{"id":"x","type":7}"#),
            Err(ParseError::MissingField("type"))
        );
        assert_eq!(
            parse(br#"{"verification_token":""}"#),
            Err(ParseError::MissingField("verification_token"))
        );
        assert!(matches!(
            parse(br#"{"id":"x","type":"page.created","entity":"oops"}"#),
            Err(ParseError::NotJson(_))
        ));
    }

    #[test]
    fn routes_row_events_by_database_or_data_source() {
        let e = parse_event(&event_json(
            "page.properties_updated",
            "page",
            PAGE,
            &row_parent(),
        ));
        assert_eq!(
            effect_for(&e, DB, &[]),
            Some(Effect::PageChanged {
                page_id: PAGE.into()
            })
        );
        assert_eq!(
            effect_for(&e, "aaaaaaaa-760f-4fff-a67e-3a46c559b176", &[DS.into()]),
            Some(Effect::PageChanged {
                page_id: PAGE.into()
            })
        );
        assert_eq!(
            effect_for(&e, "aaaaaaaa-760f-4fff-a67e-3a46c559b176", &[]),
            None
        );
        let gone = parse_event(&event_json("page.deleted", "page", PAGE, &row_parent()));
        assert_eq!(
            effect_for(&gone, DB, &[]),
            Some(Effect::PageGone {
                page_id: PAGE.into()
            })
        );
    }

    #[test]
    fn a_moved_page_is_named_whatever_its_new_parent() {
        let elsewhere = r#"{"id":"aaaaaaaa-760f-4fff-a67e-3a46c559b176","type":"database"}"#;
        let moved = parse_event(&event_json("page.moved", "page", PAGE, elsewhere));
        assert_eq!(effect_for(&moved, DB, &[DS.into()]), None);
        assert_eq!(moved_page(&moved).as_deref(), Some(PAGE));
        let edited = parse_event(&event_json(
            "page.properties_updated",
            "page",
            PAGE,
            elsewhere,
        ));
        assert_eq!(moved_page(&edited), None);
    }

    #[test]
    fn database_wide_events_reconcile_everything() {
        let e = parse_event(&event_json(
            "data_source.schema_updated",
            "data_source",
            DS,
            &format!(r#"{{"id":"{DB}","type":"database"}}"#),
        ));
        assert_eq!(effect_for(&e, DB, &[DS.into()]), Some(Effect::Everything));
        let legacy = parse_event(&event_json(
            "database.content_updated",
            "database",
            &DB.replace('-', ""),
            r#"{"id":"w","type":"workspace"}"#,
        ));
        assert_eq!(effect_for(&legacy, DB, &[]), Some(Effect::Everything));
    }

    #[test]
    fn ignores_other_types_and_other_parents() {
        let comment = parse_event(&event_json(
            "comment.created",
            "comment",
            PAGE,
            &row_parent(),
        ));
        assert_eq!(effect_for(&comment, DB, &[]), None);
        let unknown = parse_event(&event_json(
            "view.shiny_new_thing",
            "view",
            PAGE,
            &row_parent(),
        ));
        assert_eq!(effect_for(&unknown, DB, &[]), None);
        let loose_page = parse_event(&event_json(
            "page.created",
            "page",
            PAGE,
            r#"{"id":"p","type":"page"}"#,
        ));
        assert!(database_refs(&loose_page).is_empty());
    }

    /// The canonical ids `parse` must find for an event that names these.
    #[derive(Debug, Clone)]
    struct Generated {
        id: String,
        kind: String,
        entity_type: &'static str,
        entity_id: String,
        parent_type: &'static str,
        parent_id: String,
        data_source_id: Option<String>,
    }

    impl Generated {
        fn json(&self) -> serde_json::Value {
            let mut parent = json!({"id": self.parent_id, "type": self.parent_type});
            if let Some(ds) = &self.data_source_id {
                parent["data_source_id"] = json!(ds);
            }
            json!({
                "id": self.id,
                "timestamp": "2024-12-05T23:57:05.379Z",
                "workspace_id": "13950b26-c203-4f3b-b97d-93ec06319565",
                "type": self.kind,
                "attempt_number": 1,
                "entity": {"id": self.entity_id, "type": self.entity_type},
                "data": {"parent": parent}
            })
        }

        /// The databases and data sources the event names, canonicalised.
        fn named(&self) -> Vec<String> {
            let mut named = Vec::new();
            if matches!(self.parent_type, "database" | "data_source") {
                named.push(canonical(&self.parent_id));
            }
            named.extend(self.data_source_id.iter().map(|ds| canonical(ds)));
            if matches!(self.entity_type, "database" | "data_source") {
                named.push(canonical(&self.entity_id));
            }
            named
        }
    }

    /// A Notion id as it may arrive: dashed or not, any case.
    fn notion_id() -> impl Strategy<Value = String> {
        ("[0-9a-f]{32}", any::<bool>(), any::<bool>()).prop_map(|(hex, dashed, upper)| {
            let id = if dashed { canonical(&hex) } else { hex };
            if upper {
                id.to_uppercase()
            } else {
                id
            }
        })
    }

    #[test]
    fn a_new_data_source_of_the_database_is_offered_not_synced() {
        let created = |parent: &str| {
            let Ok(Incoming::Event(event)) = parse(&serde_json::to_vec(&json!({
                "id": "e1", "timestamp": "2025-09-03T10:00:00.000Z", "workspace_id": "w", "subscription_id": "s",
                "integration_id": "i", "type": "data_source.created", "attempt_number": 1,
                "authors": [], "entity": {"id": DS.replace('-', ""), "type": "data_source"},
                "data": {"parent": {"id": parent, "type": "database"}}
            })).unwrap()) else { panic!("not an event") };
            event
        };
        let event = created(DB);
        assert_eq!(new_data_source(&event, DB).as_deref(), Some(DS));
        assert_eq!(effect_for(&event, DB, &[]), None, "never synced silently");
        assert_eq!(
            new_data_source(&created(PAGE), DB),
            None,
            "another database's"
        );
    }

    const ROW_TYPES: [&str; 4] = [
        "page.created",
        "page.properties_updated",
        "page.content_updated",
        "page.undeleted",
    ];
    const GONE_TYPES: [&str; 2] = ["page.deleted", "page.moved"];
    const WIDE_TYPES: [&str; 8] = [
        "data_source.content_updated",
        "data_source.schema_updated",
        "data_source.deleted",
        "data_source.undeleted",
        "database.content_updated",
        "database.schema_updated",
        "database.deleted",
        "database.undeleted",
    ];

    fn event_kind() -> impl Strategy<Value = String> {
        let known: Vec<&str> = ROW_TYPES
            .iter()
            .chain(&GONE_TYPES)
            .chain(&WIDE_TYPES)
            .copied()
            .chain(["comment.created", "page.locked", "file_upload.completed"])
            .collect();
        prop_oneof![
            proptest::sample::select(known).prop_map(str::to_owned),
            "[a-z_]{1,12}\\.[a-z_]{1,16}",
        ]
    }

    fn generated() -> impl Strategy<Value = Generated> {
        (
            "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
            event_kind(),
            proptest::sample::select(vec!["page", "database", "data_source", "comment"]),
            notion_id(),
            proptest::sample::select(vec!["database", "data_source", "page", "workspace"]),
            notion_id(),
            proptest::option::of(notion_id()),
        )
            .prop_map(
                |(id, kind, entity_type, entity_id, parent_type, parent_id, data_source_id)| {
                    Generated {
                        id,
                        kind,
                        entity_type,
                        entity_id,
                        parent_type,
                        parent_id,
                        data_source_id,
                    }
                },
            )
    }

    /// What `effect` must say for an event of this type about this entity.
    fn expected_effect(kind: &str, entity_id: &str) -> Option<Effect> {
        let page_id = canonical(entity_id);
        if ROW_TYPES.contains(&kind) {
            Some(Effect::PageChanged { page_id })
        } else if GONE_TYPES.contains(&kind) {
            Some(Effect::PageGone { page_id })
        } else if WIDE_TYPES.contains(&kind) {
            Some(Effect::Everything)
        } else {
            None
        }
    }

    /// JSON texts near the payload shape: the envelope's keys, each present or not, holding
    /// texts (often empty), other scalars, or small nested values.
    fn payload_like() -> impl Strategy<Value = Vec<u8>> {
        let leaf = prop_oneof![
            2 => Just(serde_json::Value::from("")),
            3 => "[a-z.]{1,8}".prop_map(serde_json::Value::from),
            1 => Just(serde_json::Value::Null),
            1 => any::<bool>().prop_map(serde_json::Value::from),
            1 => any::<i32>().prop_map(serde_json::Value::from),
        ];
        let nested = leaf.clone().prop_recursive(2, 12, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map("(id|type)", inner, 0..3)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        });
        let value = prop_oneof![3 => leaf, 1 => nested];
        let keys = [
            "id",
            "type",
            "verification_token",
            "entity",
            "data",
            "other",
        ];
        let object = proptest::collection::vec(proptest::option::of(value.clone()), keys.len())
            .prop_map(move |values| {
                let entries = keys.iter().zip(values);
                serde_json::Value::Object(
                    entries
                        .filter_map(|(key, value)| Some(((*key).to_owned(), value?)))
                        .collect(),
                )
            });
        prop_oneof![3 => object, 1 => value].prop_map(|v| v.to_string().into_bytes())
    }

    /// One way to spoil a well-formed event, and the error `parse` must give for it.
    fn spoil(event: &mut serde_json::Value, how: usize) -> ParseError {
        let object = event.as_object_mut().unwrap();
        match how {
            0 => {
                object.remove("id");
                ParseError::MissingField("id")
            }
            1 => {
                object.insert("id".into(), json!(""));
                ParseError::MissingField("id")
            }
            2 => {
                object.insert("id".into(), json!(42));
                ParseError::MissingField("id")
            }
            3 => {
                object.remove("type");
                ParseError::MissingField("type")
            }
            4 => {
                object.insert("type".into(), json!(["page.created"]));
                ParseError::MissingField("type")
            }
            5 => {
                object.insert("entity".into(), json!("oops"));
                ParseError::NotJson(String::new())
            }
            6 => {
                object["entity"].as_object_mut().unwrap().remove("id");
                ParseError::NotJson(String::new())
            }
            _ => {
                object["data"]["parent"] = json!(7);
                ParseError::NotJson(String::new())
            }
        }
    }

    /// Errors compared by variant and field; `NotJson`'s text is serde's.
    fn same_error(got: &ParseError, want: &ParseError) -> bool {
        match (got, want) {
            (ParseError::NotJson(_), ParseError::NotJson(_)) => true,
            _ => got == want,
        }
    }

    proptest::proptest! {
        #[test]
        fn any_body_is_read_only_as_what_its_json_says(
            body in prop_oneof![proptest::collection::vec(proptest::num::u8::ANY, 0..512), payload_like()],
        ) {
            let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
            let object = json.as_ref().and_then(serde_json::Value::as_object);
            let text = |key: &str| object.and_then(|o| o.get(key)).and_then(serde_json::Value::as_str);
            let has_type = object.is_some_and(|o| o.contains_key("type"));
            let good_id = text("id").is_some_and(|id| !id.is_empty());
            match parse(&body) {
                Ok(Incoming::Verification { token }) => {
                    prop_assert!(!has_type);
                    prop_assert_eq!(text("verification_token"), Some(token.as_str()));
                    prop_assert!(!token.is_empty());
                }
                Ok(Incoming::Event(event)) => {
                    prop_assert!(good_id);
                    prop_assert_eq!(text("id"), Some(event.id.as_str()));
                    prop_assert_eq!(text("type"), Some(event.kind.as_str()));
                }
                // Either not JSON at all, or an envelope whose parts have the wrong shape.
                Err(ParseError::NotJson(_)) => {
                    prop_assert!(json.is_none() || (good_id && text("type").is_some()));
                }
                Err(ParseError::NotAnObject) => prop_assert!(json.is_some() && object.is_none()),
                Err(ParseError::MissingField("verification_token")) => {
                    prop_assert!(!has_type && text("verification_token") == Some(""));
                }
                Err(ParseError::MissingField("id")) => prop_assert!(object.is_some() && !good_id),
                Err(ParseError::MissingField("type")) => {
                    prop_assert!(good_id && text("type").is_none());
                }
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
            }
        }

        #[test]
        fn well_formed_events_parse_and_route_to_what_they_name(
            generated in generated(),
            unrelated in notion_id(),
        ) {
            let body = generated.json().to_string();
            let event = match parse(body.as_bytes()) {
                Ok(Incoming::Event(event)) => event,
                other => return Err(TestCaseError::fail(format!("{other:?} for {body}"))),
            };
            prop_assert_eq!(&event.id, &generated.id);
            prop_assert_eq!(&event.kind, &generated.kind);
            prop_assert_eq!(event.attempt_number, Some(1));
            let expected = expected_effect(&generated.kind, &generated.entity_id);
            prop_assert_eq!(effect(&event), expected.clone());
            let named = generated.named();
            for id in &named {
                prop_assert_eq!(effect_for(&event, id, &[]), expected.clone(), "database {}", id);
                prop_assert_eq!(effect_for(&event, &unrelated, std::slice::from_ref(id)), expected.clone(), "data source {}", id);
            }
            let other = canonical(&unrelated);
            if !named.contains(&other) {
                prop_assert_eq!(effect_for(&event, &other, &[]), None);
            }
        }

        #[test]
        fn spoiled_events_are_refused_with_the_reason(
            generated in generated(),
            how in 0usize..9,
            cut in 0usize..400,
        ) {
            let mut event = generated.json();
            let (body, want) = if how == 8 {
                // A cut-off body is never JSON.
                let text = event.to_string();
                (text[..cut.min(text.len() - 1)].to_owned(), ParseError::NotJson(String::new()))
            } else {
                let want = spoil(&mut event, how);
                (event.to_string(), want)
            };
            match parse(body.as_bytes()) {
                Err(got) => prop_assert!(same_error(&got, &want), "{:?} instead of {:?} for {}", got, want, body),
                Ok(incoming) => prop_assert!(false, "{:?} accepted: {}", incoming, body),
            }
        }
    }
}
