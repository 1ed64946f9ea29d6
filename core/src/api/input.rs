//! Validation of project create/update bodies. Every error names the offending field.

use crate::api::error::ApiError;
use crate::notion::ids;
pub use crate::project::{PublishFilter, UnpublishedMode};
use crate::sync::mapping::{Mapping, MappingError};
use serde_json::Value;

/// A validated patch: `None` leaves a field as it is. Create uses the same type with the
/// required fields checked present.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectInput {
    pub name: Option<String>,
    pub notion_token: Option<String>,
    pub notion_database_id: Option<String>,
    pub framer_project_url: Option<String>,
    pub framer_api_key: Option<String>,
    pub framer_collection_name: Option<String>,
    /// `Some(None)` clears the value; a mapping is checked as the sync will read it.
    pub mapping: Option<Option<Mapping>>,
    pub slug_property: Option<Option<String>>,
    pub publish_filter: Option<Option<PublishFilter>>,
    pub unpublished_mode: Option<UnpublishedMode>,
    pub page_body: Option<bool>,
    pub auto_sync: Option<bool>,
    pub auto_publish: Option<bool>,
    pub deletion_guard: Option<DeletionGuardInput>,
    /// Create only: the data sources to sync as sibling projects of the same site.
    pub siblings: SiblingsInput,
}

/// `data_sources` (other sources of the chosen database) and `related` (sources the chosen one
/// relates to, directly or not) in a create request: canonical ids, each once, in the order
/// given. Whether Notion offers them is checked against the graph by the Worker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiblingsInput {
    pub data_sources: Vec<String>,
    pub related: Vec<String>,
}

impl SiblingsInput {
    /// `POST .../siblings`: `{"data_sources": [...], "related": [...]}`, at least one id.
    pub fn parse(body: &Value) -> Result<Self, ApiError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ApiError::validation("body", "expected a JSON object"))?;
        if let Some(unknown) = obj
            .keys()
            .find(|k| !["data_sources", "related"].contains(&k.as_str()))
        {
            return Err(ApiError::validation(
                unknown,
                format!("unknown field `{unknown}`"),
            ));
        }
        let siblings = Self::from_lists(obj.get("data_sources"), obj.get("related"))?;
        if siblings.is_empty() {
            return Err(ApiError::validation(
                "related",
                "tick at least one data source (`data_sources` or `related`)",
            ));
        }
        Ok(siblings)
    }

    fn from_lists(data_sources: Option<&Value>, related: Option<&Value>) -> Result<Self, ApiError> {
        let siblings = Self {
            data_sources: id_list(data_sources, "data_sources")?,
            related: id_list(related, "related")?,
        };
        let mut seen = std::collections::BTreeSet::new();
        for (field, id) in siblings.all() {
            if !seen.insert(id.to_owned()) {
                return Err(ApiError::validation(
                    &field,
                    format!("`{field}` names a data source already ticked"),
                ));
            }
        }
        if seen.len() > MAX_SIBLINGS {
            let field = if siblings.related.is_empty() {
                "data_sources"
            } else {
                "related"
            };
            return Err(ApiError::validation(
                field,
                format!("at most {MAX_SIBLINGS} data sources may be ticked in one request"),
            ));
        }
        Ok(siblings)
    }

    pub fn is_empty(&self) -> bool {
        self.data_sources.is_empty() && self.related.is_empty()
    }

    /// Every ticked id with the field that named it (`related[1]`), for errors.
    pub fn all(&self) -> impl Iterator<Item = (String, &str)> {
        self.data_sources
            .iter()
            .enumerate()
            .map(|(i, id)| (format!("data_sources[{i}]"), id.as_str()))
            .chain(
                self.related
                    .iter()
                    .enumerate()
                    .map(|(i, id)| (format!("related[{i}]"), id.as_str())),
            )
    }
}

/// At most this many siblings per create request: each is a project, and checking them reads
/// the graph within one invocation's subrequest budget.
pub const MAX_SIBLINGS: usize = 19;

/// `deletion_guard`: `{"enabled": bool, "percent": 1..100 | null}`; `percent: null` goes back
/// to the operator's `DELETION_GUARD_PERCENT`. Missing keys leave their setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletionGuardInput {
    pub enabled: Option<bool>,
    pub percent: Option<Option<u32>>,
}

const KNOWN: &[&str] = &[
    "name",
    "notion",
    "framer",
    "mapping",
    "slug_property",
    "publish_filter",
    "unpublished_mode",
    "page_body",
    "auto_sync",
    "auto_publish",
    "deletion_guard",
];

impl ProjectInput {
    /// Parses a PATCH body (every field optional).
    pub fn parse_patch(body: &Value) -> Result<Self, ApiError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ApiError::validation("body", "expected a JSON object"))?;
        if let Some(unknown) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(ApiError::validation(
                unknown,
                format!("unknown field `{unknown}`"),
            ));
        }
        let notion = section(body, "notion", &["token", "database_id"])?;
        let framer = section(
            body,
            "framer",
            &["project_url", "api_key", "collection_name"],
        )?;
        Ok(Self {
            name: text(body.get("name"), "name", 100)?,
            notion_token: secret(notion.and_then(|n| n.get("token")), "notion.token")?,
            notion_database_id: text(
                notion.and_then(|n| n.get("database_id")),
                "notion.database_id",
                300,
            )?
            .map(|id| {
                ids::normalize(&id)
                    .map_err(|e| ApiError::validation("notion.database_id", e.to_string()))
            })
            .transpose()?,
            framer_project_url: text(
                framer.and_then(|f| f.get("project_url")),
                "framer.project_url",
                300,
            )?
            .map(|u| framer_project(&u))
            .transpose()?,
            framer_api_key: secret(framer.and_then(|f| f.get("api_key")), "framer.api_key")?,
            framer_collection_name: text(
                framer.and_then(|f| f.get("collection_name")),
                "framer.collection_name",
                100,
            )?,
            mapping: nullable(body.get("mapping"), "mapping", |v| {
                Mapping::from_client(v).map_err(|e| mapping_error(&e))
            })?,
            slug_property: nullable(body.get("slug_property"), "slug_property", |v| {
                v.as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        ApiError::validation("slug_property", "expected a Notion property id")
                    })
            })?,
            publish_filter: nullable(body.get("publish_filter"), "publish_filter", |v| {
                serde_json::from_value(v.clone()).map_err(|e| ApiError::validation("publish_filter", format!("expected {{\"kind\":\"checkbox\",\"property_id\"}} or {{\"kind\":\"status\",\"property_id\",\"values\"}}: {e}")))
            })?,
            unpublished_mode: body
                .get("unpublished_mode")
                .map(|v| {
                    serde_json::from_value(v.clone()).map_err(|_| {
                        ApiError::validation("unpublished_mode", "expected \"remove\" or \"draft\"")
                    })
                })
                .transpose()?,
            page_body: flag(body.get("page_body"), "page_body")?,
            auto_sync: flag(body.get("auto_sync"), "auto_sync")?,
            auto_publish: flag(body.get("auto_publish"), "auto_publish")?,
            deletion_guard: deletion_guard(body)?,
            siblings: SiblingsInput::default(),
        })
    }

    /// Parses a create body: the patch rules plus the required fields, and the siblings.
    pub fn parse_create(body: &Value) -> Result<Self, ApiError> {
        let mut rest = body.clone();
        let (data_sources, related) = match rest.as_object_mut() {
            Some(obj) => (obj.remove("data_sources"), obj.remove("related")),
            None => (None, None),
        };
        let mut input = Self::parse_patch(&rest)?;
        input.siblings = SiblingsInput {
            data_sources: id_list(data_sources.as_ref(), "data_sources")?,
            related: id_list(related.as_ref(), "related")?,
        };
        let mut seen = std::collections::BTreeSet::new();
        for (field, id) in input.siblings.all() {
            if !seen.insert(id.to_owned()) {
                return Err(ApiError::validation(
                    &field,
                    format!("`{field}` names a data source already ticked"),
                ));
            }
        }
        if seen.len() > MAX_SIBLINGS {
            let field = if input.siblings.related.is_empty() {
                "data_sources"
            } else {
                "related"
            };
            return Err(ApiError::validation(
                field,
                format!("at most {MAX_SIBLINGS} data sources may be ticked in one request"),
            ));
        }
        let required: [(&str, bool); 6] = [
            ("name", input.name.is_some()),
            ("notion.token", input.notion_token.is_some()),
            ("notion.database_id", input.notion_database_id.is_some()),
            ("framer.project_url", input.framer_project_url.is_some()),
            ("framer.api_key", input.framer_api_key.is_some()),
            (
                "framer.collection_name",
                input.framer_collection_name.is_some(),
            ),
        ];
        match required.iter().find(|(_, present)| !present) {
            Some((field, _)) => Err(ApiError::validation(
                field,
                format!("`{field}` is required"),
            )),
            None => Ok(input),
        }
    }
}

/// `POST /api/v1/notion/graph`: the credentials and id of the Connect step, before the project
/// exists; `framer.project_url` (optional) marks what the site already syncs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphQuery {
    pub notion_token: String,
    pub database_id: String,
    pub framer_project_url: Option<String>,
}

impl GraphQuery {
    pub fn parse(body: &Value) -> Result<Self, ApiError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ApiError::validation("body", "expected a JSON object"))?;
        if let Some(unknown) = obj
            .keys()
            .find(|k| !["notion", "framer"].contains(&k.as_str()))
        {
            return Err(ApiError::validation(
                unknown,
                format!("unknown field `{unknown}`"),
            ));
        }
        let notion = section(body, "notion", &["token", "database_id"])?;
        let framer = section(body, "framer", &["project_url"])?;
        let required = |field: &str| ApiError::validation(field, format!("`{field}` is required"));
        let notion_token = secret(notion.and_then(|n| n.get("token")), "notion.token")?
            .ok_or_else(|| required("notion.token"))?;
        let database_id = text(
            notion.and_then(|n| n.get("database_id")),
            "notion.database_id",
            300,
        )?
        .ok_or_else(|| required("notion.database_id"))?;
        let database_id = ids::normalize(&database_id)
            .map_err(|e| ApiError::validation("notion.database_id", e.to_string()))?;
        let framer_project_url = text(
            framer.and_then(|f| f.get("project_url")),
            "framer.project_url",
            300,
        )?
        .map(|u| framer_project(&u))
        .transpose()?;
        Ok(Self {
            notion_token,
            database_id,
            framer_project_url,
        })
    }
}

/// A list of Notion data source ids (URLs and undashed forms accepted).
fn id_list(value: Option<&Value>, field: &str) -> Result<Vec<String>, ApiError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let list = value.as_array().ok_or_else(|| {
        ApiError::validation(
            field,
            format!("`{field}` must be a list of Notion data source ids"),
        )
    })?;
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let field = format!("{field}[{i}]");
            item.as_str()
                .and_then(|s| ids::normalize(s).ok())
                .ok_or_else(|| {
                    ApiError::validation(
                        &field,
                        format!("`{field}` is not a Notion data source id"),
                    )
                })
        })
        .collect()
}

fn deletion_guard(body: &Value) -> Result<Option<DeletionGuardInput>, ApiError> {
    let Some(guard) = section(body, "deletion_guard", &["enabled", "percent"])? else {
        return Ok(None);
    };
    let percent = nullable(guard.get("percent"), "deletion_guard.percent", |v| {
        v.as_u64()
            .filter(|p| (1..=100).contains(p))
            .and_then(|p| u32::try_from(p).ok())
            .ok_or_else(|| {
                ApiError::validation(
                    "deletion_guard.percent",
                    "expected a whole percentage from 1 to 100, or null for the default",
                )
            })
    })?;
    Ok(Some(DeletionGuardInput {
        enabled: flag(guard.get("enabled"), "deletion_guard.enabled")?,
        percent,
    }))
}

fn section<'a>(body: &'a Value, name: &str, keys: &[&str]) -> Result<Option<&'a Value>, ApiError> {
    let Some(value) = body.get(name) else {
        return Ok(None);
    };
    let obj = value
        .as_object()
        .ok_or_else(|| ApiError::validation(name, "expected an object"))?;
    if let Some(unknown) = obj.keys().find(|k| !keys.contains(&k.as_str())) {
        let field = format!("{name}.{unknown}");
        return Err(ApiError::validation(
            &field,
            format!("unknown field `{field}`"),
        ));
    }
    Ok(Some(value))
}

fn text(value: Option<&Value>, field: &str, max: usize) -> Result<Option<String>, ApiError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= max => {
            Ok(Some(s.trim().to_owned()))
        }
        Some(Value::String(s)) if s.trim().is_empty() => Err(ApiError::validation(
            field,
            format!("`{field}` must not be empty"),
        )),
        Some(Value::String(_)) => Err(ApiError::validation(
            field,
            format!("`{field}` is longer than {max} characters"),
        )),
        Some(_) => Err(ApiError::validation(
            field,
            format!("`{field}` must be a string"),
        )),
    }
}

fn secret(value: Option<&Value>, field: &str) -> Result<Option<String>, ApiError> {
    let s = text(value, field, 500)?;
    if s.as_deref()
        .is_some_and(|s| s.chars().any(char::is_whitespace))
    {
        return Err(ApiError::validation(
            field,
            format!("`{field}` must not contain spaces"),
        ));
    }
    Ok(s)
}

fn flag(value: Option<&Value>, field: &str) -> Result<Option<bool>, ApiError> {
    match value {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::validation(
            field,
            format!("`{field}` must be true or false"),
        )),
    }
}

/// A mapping problem as a validation error naming its path in the body (`mapping.fields[2].kind`).
fn mapping_error(error: &MappingError) -> ApiError {
    let field = if error.path.is_empty() {
        "mapping".to_owned()
    } else {
        format!("mapping.{}", error.path)
    };
    let message = format!("`{field}` {}", error.message);
    ApiError::validation(&field, message)
}

fn nullable<T>(
    value: Option<&Value>,
    _field: &str,
    parse: impl Fn(&Value) -> Result<T, ApiError>,
) -> Result<Option<Option<T>>, ApiError> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => parse(v).map(|t| Some(Some(t))),
    }
}

/// Accepts `https://framer.com/projects/<Name>--<id>` (any path after it) or a bare project id.
fn framer_project(input: &str) -> Result<String, ApiError> {
    let id_ok = |id: &str| {
        id.len() >= 10
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let valid = match input.strip_prefix("https://framer.com/projects/") {
        Some(rest) => {
            let segment = rest.split(['/', '?', '#']).next().unwrap_or_default();
            id_ok(segment.rsplit("--").next().unwrap_or_default())
        }
        None => !input.contains('/') && id_ok(input),
    };
    if valid {
        Ok(input.to_owned())
    } else {
        Err(ApiError::validation(
            "framer.project_url",
            "expected a Framer project URL (https://framer.com/projects/Name--id) or its id",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create_body() -> Value {
        json!({
            "name": "Blog",
            "notion": {"token": "ntn_abc123", "database_id": "https://www.notion.so/acme/Posts-36cc9195760f4fffa67e3a46c559b176?v=1"},
            "framer": {"project_url": "https://framer.com/projects/Site--AbCdEfGhIjKlMnOpQrSt", "api_key": "fr_key", "collection_name": "Posts"}
        })
    }

    #[test]
    fn accepts_a_complete_create_body() {
        let input = ProjectInput::parse_create(&create_body()).unwrap();
        assert_eq!(
            input.notion_database_id.as_deref(),
            Some("36cc9195-760f-4fff-a67e-3a46c559b176")
        );
        assert_eq!(input.framer_collection_name.as_deref(), Some("Posts"));
        assert_eq!(input.auto_sync, None);
    }

    #[test]
    fn create_takes_siblings_and_patch_does_not() {
        let mut body = create_body();
        body["data_sources"] = json!(["36cc9195760f4fffa67e3a46c559b177"]);
        body["related"] = json!([
            "https://www.notion.so/acme/Authors-36cc9195760f4fffa67e3a46c559b178",
            "36cc9195-760f-4fff-a67e-3a46c559b179"
        ]);
        let input = ProjectInput::parse_create(&body).unwrap();
        assert_eq!(
            input.siblings.data_sources,
            ["36cc9195-760f-4fff-a67e-3a46c559b177"]
        );
        assert_eq!(
            input.siblings.all().map(|(f, _)| f).collect::<Vec<_>>(),
            ["data_sources[0]", "related[0]", "related[1]"]
        );
        assert!(ProjectInput::parse_create(&create_body())
            .unwrap()
            .siblings
            .is_empty());
        let field_of = |body: &Value| match ProjectInput::parse_create(body) {
            Err(ApiError::Validation { field, .. }) => field,
            other => panic!("{body}: {other:?}"),
        };
        let with = |key: &str, value: Value| {
            let mut body = create_body();
            body[key] = value;
            body
        };
        assert_eq!(field_of(&with("related", json!("x"))), "related");
        assert_eq!(
            field_of(&with(
                "related",
                json!(["36cc9195760f4fffa67e3a46c559b178", 4])
            )),
            "related[1]"
        );
        assert_eq!(
            field_of(&with("data_sources", json!(["nope"]))),
            "data_sources[0]"
        );
        let mut twice = with("data_sources", json!(["36cc9195760f4fffa67e3a46c559b178"]));
        twice["related"] = json!(["36cc9195-760f-4fff-a67e-3a46c559b178"]);
        assert_eq!(field_of(&twice), "related[0]");
        let many: Vec<String> = (0..20)
            .map(|i| format!("36cc9195760f4fffa67e3a46c559b1{i:02}"))
            .collect();
        assert_eq!(field_of(&with("related", json!(many))), "related");
        match ProjectInput::parse_patch(&json!({"related": []})) {
            Err(ApiError::Validation { field, .. }) => assert_eq!(field, "related"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_graph_query_needs_a_token_and_an_id() {
        let query = GraphQuery::parse(&json!({"notion": {"token": "ntn_x", "database_id": "36cc9195760f4fffa67e3a46c559b176"}})).unwrap();
        assert_eq!(query.database_id, "36cc9195-760f-4fff-a67e-3a46c559b176");
        assert_eq!(query.framer_project_url, None);
        let field_of = |body: Value| match GraphQuery::parse(&body) {
            Err(ApiError::Validation { field, .. }) => field,
            other => panic!("{body}: {other:?}"),
        };
        assert_eq!(
            field_of(json!({"notion": {"database_id": "36cc9195760f4fffa67e3a46c559b176"}})),
            "notion.token"
        );
        assert_eq!(
            field_of(json!({"notion": {"token": "ntn_x"}})),
            "notion.database_id"
        );
        assert_eq!(
            field_of(json!({"notion": {"token": "ntn_x", "database_id": "x"}})),
            "notion.database_id"
        );
        assert_eq!(
            field_of(
                json!({"notion": {"token": "ntn_x", "database_id": "36cc9195760f4fffa67e3a46c559b176"}, "framer": {"project_url": "/x"}})
            ),
            "framer.project_url"
        );
        assert_eq!(field_of(json!({"name": "x"})), "name");
    }

    #[test]
    fn names_the_bad_field() {
        let cases: Vec<(Value, &str)> = vec![
            (json!({"name": ""}), "name"),
            (json!({"name": 3}), "name"),
            (
                json!({"notion": {"database_id": "nope"}}),
                "notion.database_id",
            ),
            (json!({"notion": {"token": "has space"}}), "notion.token"),
            (json!({"notion": {"tokn": "x"}}), "notion.tokn"),
            (
                json!({"framer": {"project_url": "https://evil.example/x"}}),
                "framer.project_url",
            ),
            (json!({"auto_sync": "yes"}), "auto_sync"),
            (
                json!({"publish_filter": {"kind": "colour"}}),
                "publish_filter",
            ),
            (json!({"unpublished_mode": "hide"}), "unpublished_mode"),
            (json!({"surprise": 1}), "surprise"),
            (json!({"mapping": []}), "mapping"),
        ];
        for (body, field) in cases {
            match ProjectInput::parse_patch(&body) {
                Err(ApiError::Validation { field: got, .. }) => assert_eq!(got, field, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        let mut missing = create_body();
        missing["framer"].as_object_mut().unwrap().remove("api_key");
        match ProjectInput::parse_create(&missing) {
            Err(ApiError::Validation { field, .. }) => assert_eq!(field, "framer.api_key"),
            other => panic!("{other:?}"),
        }
    }

    fn mapping_body() -> Value {
        json!({"fields": [{
            "property_id": "title", "property_name": "Name", "property_type": "title",
            "field_id": "title", "field_name": "Headline", "kind": "string", "enabled": true
        }, {
            "property_id": "b%5Dx%3F", "property_name": "Views", "property_type": "number",
            "field_id": "b_255Dx_253F", "field_name": "Views", "kind": "number", "enabled": false
        }], "skipped": []})
    }

    #[test]
    fn mappings_are_read_as_the_sync_reads_them() {
        let p = ProjectInput::parse_patch(&json!({"mapping": mapping_body()})).unwrap();
        let mapping = p.mapping.unwrap().unwrap();
        assert_eq!(mapping.fields.len(), 2);
        assert_eq!(mapping.fields[0].field_name, "Headline");
        assert_eq!(
            serde_json::from_str::<Value>(&mapping.to_json()).unwrap(),
            mapping_body()
        );
        let cleared = ProjectInput::parse_patch(&json!({"mapping": null})).unwrap();
        assert_eq!(cleared.mapping, Some(None));
        let mut create = create_body();
        create["mapping"] = mapping_body();
        let input = ProjectInput::parse_create(&create).unwrap();
        assert_eq!(input.mapping, Some(Some(mapping)));
    }

    #[test]
    fn bad_mappings_name_the_path() {
        let with = |edit: &dyn Fn(&mut Value)| {
            let mut mapping = mapping_body();
            edit(&mut mapping);
            json!({ "mapping": mapping })
        };
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                json!({"mapping": 7}),
                "mapping",
                "`mapping` must be an object",
            ),
            (
                json!({"mapping": {}}),
                "mapping.fields",
                "`mapping.fields` is required",
            ),
            (
                json!({"mapping": {"fields": 7}}),
                "mapping.fields",
                "`mapping.fields` is invalid: invalid type: integer `7`, expected a sequence",
            ),
            (
                with(&|m| m["fields"][1]["kind"] = json!("text")),
                "mapping.fields[1].kind",
                "`mapping.fields[1].kind` is invalid: unknown variant `text`",
            ),
            (
                with(&|m| {
                    m["fields"][0].as_object_mut().unwrap().remove("enabled");
                }),
                "mapping.fields[0].enabled",
                "`mapping.fields[0].enabled` is required",
            ),
            (
                with(&|m| m["fields"][1]["field_id"] = json!("views")),
                "mapping.fields[1].field_id",
                "`mapping.fields[1].field_id` must be `b_255Dx_253F`",
            ),
            (
                with(&|m| m["fields"][1]["property_id"] = json!("title")),
                "mapping.fields[1].property_id",
                "`mapping.fields[1].property_id` maps the same Notion property as fields[0]",
            ),
            (
                with(&|m| m["skipped"] = json!({})),
                "mapping.skipped",
                "`mapping.skipped` is invalid: invalid type: map",
            ),
        ];
        for (body, field, message) in cases {
            match ProjectInput::parse_patch(&body) {
                Err(ApiError::Validation {
                    field: got,
                    message: text,
                }) => {
                    assert_eq!(got, field, "{body}");
                    assert!(text.starts_with(message), "{body}: {text}");
                }
                other => panic!("{body}: {other:?}"),
            }
        }
        let mut create = create_body();
        create["mapping"] = json!({"fields": 7});
        match ProjectInput::parse_create(&create) {
            Err(ApiError::Validation { field, .. }) => assert_eq!(field, "mapping.fields"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn null_clears_and_filters_parse() {
        let p = ProjectInput::parse_patch(&json!({"slug_property": null, "publish_filter": {"kind": "status", "property_id": "st", "values": ["Live"]}})).unwrap();
        assert_eq!(p.slug_property, Some(None));
        assert_eq!(
            p.publish_filter,
            Some(Some(PublishFilter::Status {
                property_id: "st".into(),
                values: vec!["Live".into()],
                option_ids: Vec::new(),
            }))
        );
        assert_eq!(
            ProjectInput::parse_patch(&json!({})).unwrap(),
            ProjectInput::default()
        );
    }
}
