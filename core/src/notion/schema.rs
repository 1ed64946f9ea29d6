//! A Notion data source's schema: its properties with their types and the configuration the
//! mapping needs (select options, relation targets, rollup functions, learned formula results).
//!
//! `GET /v1/data_sources/{id}` is read defensively: entries without an id are left out and
//! types this sync does not know become [`PropertyKind::Unsupported`].

use std::fmt;

use serde_json::Value;

use crate::notion::values::{find_property, str_at};

/// Why a data source JSON could not be read as a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaError {
    /// The data source JSON has no `properties` object.
    NotADataSource,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaError::NotADataSource => {
                f.write_str("Notion data source has no `properties` object")
            }
        }
    }
}

impl std::error::Error for SchemaError {}

/// One select, status or multi-select option.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SelectOption {
    /// Notion's option id (stable across renames).
    pub id: String,
    /// Display name.
    pub name: String,
}

/// What a formula evaluates to; the schema does not say, pages do (see
/// [`Schema::learn_formula_results`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FormulaResult {
    /// `string`.
    Text,
    /// `number`.
    Number,
    /// `boolean`.
    Boolean,
    /// `date`.
    Date,
}

/// A property's type with the configuration the mapping needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PropertyKind {
    /// The page title (exactly one per data source).
    Title,
    /// Rich text.
    RichText,
    /// Number.
    Number,
    /// Checkbox.
    Checkbox,
    /// Date or date range.
    Date,
    /// Select with its options.
    Select {
        /// Options in Notion's order.
        options: Vec<SelectOption>,
    },
    /// Status with its options.
    Status {
        /// Options in Notion's order.
        options: Vec<SelectOption>,
    },
    /// Multi-select with its options.
    MultiSelect {
        /// Options in Notion's order.
        options: Vec<SelectOption>,
    },
    /// URL.
    Url,
    /// Email address.
    Email,
    /// Phone number.
    PhoneNumber,
    /// Files and media.
    Files,
    /// Relation to pages of another data source.
    Relation {
        /// The related data source (dashed lowercase), when Notion says.
        data_source_id: Option<String>,
        /// Two-way (`dual_property`): Notion keeps a synced property on the related data
        /// source, whose pages change when this one's relation does, without being edited.
        #[serde(default)]
        dual: bool,
    },
    /// Auto-incrementing id such as `TASK-12`.
    UniqueId {
        /// The prefix, if any.
        prefix: Option<String>,
    },
    /// Formula; the result type is only known once a page has been seen.
    Formula {
        /// What the formula evaluates to, if learned.
        result: Option<FormulaResult>,
    },
    /// Rollup with its aggregation function (`sum`, `show_original`, ...).
    Rollup {
        /// Notion's rollup function name.
        function: String,
    },
    /// Creation time of the page.
    CreatedTime,
    /// Last edit time of the page.
    LastEditedTime,
    /// People.
    People,
    /// Creator of the page.
    CreatedBy,
    /// Last editor of the page.
    LastEditedBy,
    /// Any other type (button, verification, place, newer ones), named by Notion's type string.
    Unsupported(String),
}

impl PropertyKind {
    /// Notion's type string.
    pub fn notion_type(&self) -> &str {
        match self {
            PropertyKind::Title => "title",
            PropertyKind::RichText => "rich_text",
            PropertyKind::Number => "number",
            PropertyKind::Checkbox => "checkbox",
            PropertyKind::Date => "date",
            PropertyKind::Select { .. } => "select",
            PropertyKind::Status { .. } => "status",
            PropertyKind::MultiSelect { .. } => "multi_select",
            PropertyKind::Url => "url",
            PropertyKind::Email => "email",
            PropertyKind::PhoneNumber => "phone_number",
            PropertyKind::Files => "files",
            PropertyKind::Relation { .. } => "relation",
            PropertyKind::UniqueId { .. } => "unique_id",
            PropertyKind::Formula { .. } => "formula",
            PropertyKind::Rollup { .. } => "rollup",
            PropertyKind::CreatedTime => "created_time",
            PropertyKind::LastEditedTime => "last_edited_time",
            PropertyKind::People => "people",
            PropertyKind::CreatedBy => "created_by",
            PropertyKind::LastEditedBy => "last_edited_by",
            PropertyKind::Unsupported(name) => name,
        }
    }

    /// The options of a select, status or multi-select property (empty for other kinds).
    pub fn options(&self) -> &[SelectOption] {
        match self {
            PropertyKind::Select { options }
            | PropertyKind::Status { options }
            | PropertyKind::MultiSelect { options } => options,
            _ => &[],
        }
    }
}

/// One property of a data source.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Property {
    /// Notion's property id (stable across renames; may be URL-encoded like `%3AUPp`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Type and configuration.
    pub kind: PropertyKind,
}

/// The properties of a data source: the title first, then the others by name.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Schema {
    /// All properties, unsupported ones included.
    pub properties: Vec<Property>,
}

/// Parses a data source object (`GET /v1/data_sources/{id}`); only `properties` is read.
pub fn parse_schema(data_source: &Value) -> Result<Schema, SchemaError> {
    let properties = data_source
        .get("properties")
        .and_then(Value::as_object)
        .ok_or(SchemaError::NotADataSource)?;
    let mut parsed: Vec<Property> = properties
        .iter()
        .filter_map(|(key, config)| parse_property(key, config))
        .collect();
    parsed.sort_by(|a, b| {
        let a_key = (a.kind != PropertyKind::Title, &a.name, &a.id);
        let b_key = (b.kind != PropertyKind::Title, &b.name, &b.id);
        a_key.cmp(&b_key)
    });
    Ok(Schema { properties: parsed })
}

fn parse_property(key: &str, config: &Value) -> Option<Property> {
    let id = config.get("id").and_then(Value::as_str)?;
    let name = config.get("name").and_then(Value::as_str).unwrap_or(key);
    let notion_type = config.get("type").and_then(Value::as_str).unwrap_or("");
    let kind = parse_kind(notion_type, config.get(notion_type).unwrap_or(&Value::Null));
    Some(Property {
        id: id.to_string(),
        name: name.to_string(),
        kind,
    })
}

fn parse_kind(notion_type: &str, config: &Value) -> PropertyKind {
    match notion_type {
        "title" => PropertyKind::Title,
        "rich_text" => PropertyKind::RichText,
        "number" => PropertyKind::Number,
        "checkbox" => PropertyKind::Checkbox,
        "date" => PropertyKind::Date,
        "select" => PropertyKind::Select {
            options: parse_options(config),
        },
        "status" => PropertyKind::Status {
            options: parse_options(config),
        },
        "multi_select" => PropertyKind::MultiSelect {
            options: parse_options(config),
        },
        "url" => PropertyKind::Url,
        "email" => PropertyKind::Email,
        "phone_number" => PropertyKind::PhoneNumber,
        "files" => PropertyKind::Files,
        "relation" => PropertyKind::Relation {
            data_source_id: str_at(config, "data_source_id").map(crate::notion::ids::canonical),
            dual: str_at(config, "type") == Some("dual_property"),
        },
        "unique_id" => PropertyKind::UniqueId {
            prefix: str_at(config, "prefix").map(str::to_string),
        },
        "formula" => PropertyKind::Formula { result: None },
        "rollup" => PropertyKind::Rollup {
            function: str_at(config, "function").unwrap_or("").to_string(),
        },
        "created_time" => PropertyKind::CreatedTime,
        "last_edited_time" => PropertyKind::LastEditedTime,
        "people" => PropertyKind::People,
        "created_by" => PropertyKind::CreatedBy,
        "last_edited_by" => PropertyKind::LastEditedBy,
        other => PropertyKind::Unsupported(other.to_string()),
    }
}

fn parse_options(config: &Value) -> Vec<SelectOption> {
    let options = config
        .get("options")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    options
        .iter()
        .filter_map(|option| {
            let id = str_at(option, "id")?;
            let name = str_at(option, "name").unwrap_or(id);
            Some(SelectOption {
                id: id.to_string(),
                name: name.to_string(),
            })
        })
        .collect()
}

impl Schema {
    /// The property with this Notion id.
    pub fn property(&self, id: &str) -> Option<&Property> {
        self.properties.iter().find(|property| property.id == id)
    }

    /// The title property, if the schema has one.
    pub fn title_property(&self) -> Option<&Property> {
        self.properties
            .iter()
            .find(|property| property.kind == PropertyKind::Title)
    }

    /// Fills in formula result types from page values (the schema only has the expression).
    ///
    /// Call it with a few pages before the sync's `default_mapping` so that a numeric formula becomes a
    /// number field rather than text. Formulas no page has a value for stay unknown.
    pub fn learn_formula_results(&mut self, pages: &[Value]) {
        for property in &mut self.properties {
            if let PropertyKind::Formula {
                result: result @ None,
            } = &mut property.kind
            {
                *result = pages
                    .iter()
                    .find_map(|page| formula_result_in(page, &property.id));
            }
        }
    }
}

fn formula_result_in(page: &Value, property_id: &str) -> Option<FormulaResult> {
    let value = find_property(page.get("properties")?.as_object()?, property_id)?;
    let formula = value.get("formula")?;
    let result_type = str_at(formula, "type")?;
    if formula.get(result_type).is_none_or(Value::is_null) {
        return None;
    }
    match result_type {
        "string" => Some(FormulaResult::Text),
        "number" => Some(FormulaResult::Number),
        "boolean" => Some(FormulaResult::Boolean),
        "date" => Some(FormulaResult::Date),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notion::fixtures::{data_source, page, schema, AUTHORS_DS};
    use serde_json::json;

    #[test]
    fn parses_schema_title_first_then_by_name() {
        let schema = schema();
        assert_eq!(schema.properties.len(), 25);
        assert_eq!(schema.properties[0].id, "title");
        assert_eq!(schema.properties[1].name, "Approve");
        assert_eq!(schema.properties[2].name, "Attachment");
        let status = schema.property("S%60nF").unwrap();
        assert_eq!(
            status.kind.options(),
            &[
                SelectOption {
                    id: "not-started".into(),
                    name: "Not started".into()
                },
                SelectOption {
                    id: "c7d8e9f0".into(),
                    name: "Live".into()
                },
            ]
        );
        assert_eq!(
            schema.property("au%3Ch").unwrap().kind,
            PropertyKind::Relation {
                data_source_id: Some(AUTHORS_DS.to_string()),
                dual: true,
            }
        );
        assert_eq!(
            schema.property("iD%3F%3F").unwrap().kind,
            PropertyKind::UniqueId {
                prefix: Some("POST".into())
            }
        );
        assert_eq!(
            schema.property("tW%3Cw").unwrap().kind,
            PropertyKind::Rollup {
                function: "sum".into()
            }
        );
        assert_eq!(
            schema.property("bT%3An").unwrap().kind,
            PropertyKind::Unsupported("button".into())
        );
        assert_eq!(schema.title_property().unwrap().name, "Name");
    }

    #[test]
    fn schema_without_properties_is_an_error() {
        assert_eq!(
            parse_schema(&json!({"object": "data_source"})),
            Err(SchemaError::NotADataSource)
        );
        assert_eq!(
            parse_schema(&json!([1, 2])),
            Err(SchemaError::NotADataSource)
        );
        // Entries without an id cannot be matched later, so they are left out.
        let odd =
            parse_schema(&json!({"properties": {"X": {"name": "X", "type": "number"}, "Y": 3}}))
                .unwrap();
        assert!(odd.properties.is_empty());
    }

    #[test]
    fn formula_types_are_learned_from_pages() {
        let mut schema = schema();
        assert_eq!(
            schema.property("sC%3Fr").unwrap().kind,
            PropertyKind::Formula { result: None }
        );
        schema.learn_formula_results(&[json!({"properties": {}}), page()]);
        assert_eq!(
            schema.property("sC%3Fr").unwrap().kind,
            PropertyKind::Formula {
                result: Some(FormulaResult::Number)
            }
        );
    }

    #[test]
    fn formulas_without_a_value_stay_unknown() {
        let mut schema = schema();
        let mut null_result = page();
        null_result["properties"]["Score"]["formula"] = json!({"type": "number", "number": null});
        schema.learn_formula_results(&[null_result]);
        assert_eq!(
            schema.property("sC%3Fr").unwrap().kind,
            PropertyKind::Formula { result: None }
        );
        assert_eq!(parse_schema(&data_source()).unwrap(), schema);
    }
}
