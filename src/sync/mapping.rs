//! Notion data source schema and pages -> Framer CMS fields and field values.
//!
//! The schema (`GET /v1/data_sources/{id}`) is parsed into typed [`Property`]s. A [`Mapping`]
//! (stored per project as JSON) says which property feeds which Framer field and as what
//! [`FieldType`]. Framer field ids and enum case ids are derived from Notion's property and
//! option ids, never from names, so renaming in Notion never orphans a field or a value.
//!
//! Page JSON is read defensively: anything missing, null or odd becomes the empty value of the
//! field's type plus a warning, never a panic.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::framer::cms::{EnumCase, FieldDef, FieldType, FieldValue, Item};
use crate::notion::page_html::{escape_html, rich_text_html, rich_text_plain};

/// Why a JSON document could not be used at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapError {
    /// The data source JSON has no `properties` object.
    NotADataSource,
    /// The JSON is not a Notion page object.
    NotAPage,
    /// The page has no id, or one that is not a UUID.
    BadPageId(String),
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::NotADataSource => {
                f.write_str("Notion data source has no `properties` object")
            }
            MapError::NotAPage => f.write_str("Notion result is not a page object"),
            MapError::BadPageId(id) => write!(f, "Notion page id `{id}` is not a UUID"),
        }
    }
}

impl std::error::Error for MapError {}

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

/// One select, status or multi-select option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectOption {
    /// Notion's option id (stable across renames).
    pub id: String,
    /// Display name.
    pub name: String,
}

/// What a formula evaluates to; the schema does not say, pages do (see
/// [`Schema::learn_formula_results`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// Notion's property id (stable across renames; may be URL-encoded like `%3AUPp`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Type and configuration.
    pub kind: PropertyKind,
}

/// The properties of a data source: the title first, then the others by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    /// All properties, unsupported ones included.
    pub properties: Vec<Property>,
}

/// Parses a data source object (`GET /v1/data_sources/{id}`); only `properties` is read.
pub fn parse_schema(data_source: &Value) -> Result<Schema, MapError> {
    let properties = data_source
        .get("properties")
        .and_then(Value::as_object)
        .ok_or(MapError::NotADataSource)?;
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
    /// Call it with a few pages before [`default_mapping`] so that a numeric formula becomes a
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

// ---------------------------------------------------------------------------------------------
// Mapping
// ---------------------------------------------------------------------------------------------

/// Which Framer collection each synced Notion data source goes to: dashed lowercase data
/// source id -> Framer collection id. Relations into these become reference fields.
pub type SyncedCollections = BTreeMap<String, String>;

/// How one Notion property feeds one Framer field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMapping {
    /// Notion property id (the key everything is matched by).
    pub property_id: String,
    /// Notion property name when last reconciled.
    pub property_name: String,
    /// Notion property type when last reconciled (detects type changes).
    #[serde(default)]
    pub property_type: String,
    /// Framer field id, derived from the property id.
    pub field_id: String,
    /// Framer field name (follows Notion renames unless it was customised).
    pub field_name: String,
    /// Framer field type.
    pub kind: FieldType,
    /// Whether the field is synced at all.
    pub enabled: bool,
    /// The Framer collection a reference field points into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_id: Option<String>,
    /// Enum cases learned from page values that the schema's options did not list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_cases: Vec<EnumCase>,
}

/// A property the sync cannot map, listed once instead of being silently ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedProperty {
    /// Notion property id.
    pub property_id: String,
    /// Notion property name.
    pub property_name: String,
    /// Notion property type (why it was skipped).
    pub property_type: String,
}

/// The stored per-project mapping.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Mapping {
    /// Mapped properties, in Framer field order.
    pub fields: Vec<FieldMapping>,
    /// Properties of unsupported types.
    #[serde(default)]
    pub skipped: Vec<SkippedProperty>,
}

impl Mapping {
    /// The mapping of this Notion property.
    pub fn field_for_property(&self, property_id: &str) -> Option<&FieldMapping> {
        self.fields
            .iter()
            .find(|field| field.property_id == property_id)
    }

    /// Adds the enum cases rows needed but the fields did not have yet; returns how many.
    ///
    /// Call before [`field_defs`] so that Framer knows every case items refer to.
    pub fn learn_cases(&mut self, rows: &[MappedRow]) -> usize {
        let mut added = 0;
        for new_case in rows.iter().flat_map(|row| &row.new_cases) {
            let Some(field) = self
                .fields
                .iter_mut()
                .find(|f| f.field_id == new_case.field_id)
            else {
                continue;
            };
            if !field
                .extra_cases
                .iter()
                .any(|case| case.id == new_case.case.id)
            {
                field.extra_cases.push(new_case.case.clone());
                added += 1;
            }
        }
        added
    }
}

/// Case used for an enum field whose Notion value is empty (Framer enums always hold a case).
/// No sanitised Notion id can equal it: sanitising puts two hex digits after every `_`.
pub const NONE_CASE_ID: &str = "_none";
const NONE_CASE_NAME: &str = "None";

/// A Framer-safe id derived from a Notion id: ASCII letters and digits are kept, every other
/// byte becomes `_` plus two hex digits. Distinct inputs give distinct outputs.
pub fn sanitize_id(raw: &str) -> String {
    if raw.is_empty() {
        return "_".to_string();
    }
    let mut id = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() {
            id.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(id, "_{byte:02x}");
        }
    }
    id
}

/// The Framer field types a property can be mapped to; the first is the usual default.
pub fn allowed_kinds(kind: &PropertyKind) -> &'static [FieldType] {
    use FieldType as F;
    match kind {
        PropertyKind::Title => &[F::String, F::FormattedText],
        PropertyKind::RichText => &[F::FormattedText, F::String, F::Link, F::Color],
        PropertyKind::Number => &[F::Number, F::String],
        PropertyKind::Checkbox => &[F::Boolean, F::String],
        PropertyKind::Date | PropertyKind::CreatedTime | PropertyKind::LastEditedTime => {
            &[F::Date, F::String]
        }
        PropertyKind::Select { .. } | PropertyKind::Status { .. } => &[F::Enum, F::String],
        PropertyKind::MultiSelect { .. } => &[F::String, F::Enum],
        PropertyKind::Url => &[F::Link, F::String, F::Image, F::File],
        PropertyKind::Email | PropertyKind::PhoneNumber => &[F::String, F::Link],
        PropertyKind::Files => &[F::Image, F::File, F::Link, F::String],
        PropertyKind::Relation { .. } => &[
            F::MultiCollectionReference,
            F::CollectionReference,
            F::String,
        ],
        PropertyKind::UniqueId { .. } => &[F::String, F::Number],
        PropertyKind::Formula { .. } => &[
            F::String,
            F::Number,
            F::Boolean,
            F::Date,
            F::Link,
            F::Color,
            F::FormattedText,
            F::Image,
        ],
        PropertyKind::Rollup { .. } => &[F::String, F::Number, F::Date, F::FormattedText],
        PropertyKind::People | PropertyKind::CreatedBy | PropertyKind::LastEditedBy => &[F::String],
        PropertyKind::Unsupported(_) => &[],
    }
}

/// The Framer collection a relation property points into, if that data source is synced.
fn related_collection(property: &Property, synced: &SyncedCollections) -> Option<String> {
    match &property.kind {
        PropertyKind::Relation {
            data_source_id: Some(id),
        } => synced.get(id).cloned(),
        _ => None,
    }
}

/// The default field type for a property; `None` when it cannot be mapped.
fn default_kind(property: &Property, collection: Option<&str>) -> Option<FieldType> {
    let kind = match &property.kind {
        PropertyKind::Relation { .. } if collection.is_none() => FieldType::String,
        PropertyKind::Formula { result } => match result {
            Some(FormulaResult::Number) => FieldType::Number,
            Some(FormulaResult::Boolean) => FieldType::Boolean,
            Some(FormulaResult::Date) => FieldType::Date,
            Some(FormulaResult::Text) | None => FieldType::String,
        },
        PropertyKind::Rollup { function } => rollup_kind(function),
        other => *allowed_kinds(other).first()?,
    };
    Some(kind)
}

fn rollup_kind(function: &str) -> FieldType {
    match function {
        "earliest_date" | "latest_date" | "date_range" => FieldType::Date,
        "show_original" | "show_unique" | "count_per_group" | "percent_per_group" | "" => {
            FieldType::String
        }
        // Every other function (count, sum, average, percent_checked, ...) aggregates to a number.
        _ => FieldType::Number,
    }
}

/// Whether `kind` can hold this property's values (references also need a target collection).
fn kind_fits(kind: FieldType, property: &Property, collection: Option<&str>) -> bool {
    allowed_kinds(&property.kind).contains(&kind) && (!kind.is_reference() || collection.is_some())
}

fn field_name_for(property: &Property) -> String {
    let trimmed = property.name.trim();
    if trimmed.is_empty() {
        sanitize_id(&property.id)
    } else {
        trimmed.to_string()
    }
}

fn new_field_mapping(
    property: &Property,
    kind: FieldType,
    collection: Option<String>,
) -> FieldMapping {
    FieldMapping {
        property_id: property.id.clone(),
        property_name: property.name.clone(),
        property_type: property.kind.notion_type().to_string(),
        field_id: sanitize_id(&property.id),
        field_name: field_name_for(property),
        kind,
        enabled: true,
        collection_id: collection,
        extra_cases: Vec::new(),
    }
}

fn skipped_property(property: &Property) -> SkippedProperty {
    SkippedProperty {
        property_id: property.id.clone(),
        property_name: property.name.clone(),
        property_type: property.kind.notion_type().to_string(),
    }
}

/// The mapping a new project starts with: every supported property enabled with its default
/// type (title -> string, `rich_text` -> formattedText, select/status -> enum, `multi_select` ->
/// comma-joined string, files -> image, relation -> multi-reference when the related data source
/// is synced else a string of ids, ...). Unsupported properties are listed in `skipped`.
pub fn default_mapping(schema: &Schema, synced_collections: &SyncedCollections) -> Mapping {
    let mut mapping = Mapping::default();
    for property in &schema.properties {
        let collection = related_collection(property, synced_collections);
        match default_kind(property, collection.as_deref()) {
            Some(kind) => mapping
                .fields
                .push(new_field_mapping(property, kind, collection)),
            None => mapping.skipped.push(skipped_property(property)),
        }
    }
    mapping
}

/// What changed in the Notion schema since the mapping was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaChange {
    /// A new property, mapped with its default type.
    Added {
        /// Notion property id.
        property_id: String,
        /// Notion property name.
        property_name: String,
        /// The Framer field type chosen.
        kind: FieldType,
    },
    /// A property was renamed; its mapping (and Framer field id) is kept.
    Renamed {
        /// Notion property id.
        property_id: String,
        /// Name before.
        old_name: String,
        /// Name now.
        new_name: String,
    },
    /// A mapped property no longer exists; its field is dropped.
    Removed {
        /// Notion property id.
        property_id: String,
        /// Its last known name.
        property_name: String,
    },
    /// A property's Notion type changed.
    TypeChanged {
        /// Notion property id.
        property_id: String,
        /// Notion property name.
        property_name: String,
        /// Notion type before.
        old_type: String,
        /// Notion type now.
        new_type: String,
        /// The Framer type now used, or `None` when the new type cannot be mapped.
        kind: Option<FieldType>,
    },
    /// The chosen Framer type no longer fits (e.g. the related data source stopped syncing).
    KindReset {
        /// Notion property id.
        property_id: String,
        /// Notion property name.
        property_name: String,
        /// Framer type before.
        from: FieldType,
        /// Framer type now.
        to: FieldType,
    },
    /// A newly seen property of an unsupported type (reported once, then kept in `skipped`).
    Skipped {
        /// Notion property id.
        property_id: String,
        /// Notion property name.
        property_name: String,
        /// Its Notion type.
        property_type: String,
    },
}

impl fmt::Display for SchemaChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaChange::Added { property_name, kind, .. } => {
                write!(f, "new property \"{property_name}\" synced as {kind}")
            }
            SchemaChange::Renamed { old_name, new_name, .. } => {
                write!(f, "property \"{old_name}\" renamed to \"{new_name}\"")
            }
            SchemaChange::Removed { property_name, .. } => {
                write!(f, "property \"{property_name}\" was removed; its field is dropped")
            }
            SchemaChange::TypeChanged { property_name, old_type, new_type, kind, .. } => match kind {
                Some(kind) => write!(f, "property \"{property_name}\" changed from {old_type} to {new_type}; synced as {kind}"),
                None => write!(f, "property \"{property_name}\" changed from {old_type} to {new_type}, which cannot be synced"),
            },
            SchemaChange::KindReset { property_name, from, to, .. } => {
                write!(f, "property \"{property_name}\" can no longer be synced as {from}; synced as {to}")
            }
            SchemaChange::Skipped { property_name, property_type, .. } => {
                write!(f, "property \"{property_name}\" has unsupported type {property_type} and is skipped")
            }
        }
    }
}

/// Brings a stored mapping up to date with the current schema, matching by property id.
///
/// Renames keep the mapping (and follow into the Framer field name unless it was customised),
/// removed properties are dropped, type changes keep the chosen Framer type when it still fits,
/// and new properties are appended with their default type. With no stored mapping this is
/// [`default_mapping`] with every property reported as added.
pub fn reconcile_schema(
    schema: &Schema,
    stored: Option<&Mapping>,
    synced_collections: &SyncedCollections,
) -> (Mapping, Vec<SchemaChange>) {
    let stored = stored.cloned().unwrap_or_default();
    let mut changes = Vec::new();
    let mut reported = BTreeSet::new();
    let mut mapping = Mapping::default();
    for field in stored.fields {
        match schema.property(&field.property_id) {
            None => changes.push(SchemaChange::Removed {
                property_id: field.property_id,
                property_name: field.property_name,
            }),
            Some(property) => {
                reported.insert(property.id.clone());
                let collection = related_collection(property, synced_collections);
                if let Some(updated) = reconcile_field(field, property, collection, &mut changes) {
                    mapping.fields.push(updated);
                }
            }
        }
    }
    let previously_skipped: BTreeSet<(String, String)> = stored
        .skipped
        .into_iter()
        .map(|s| (s.property_id, s.property_type))
        .collect();
    for property in &schema.properties {
        if mapping.field_for_property(&property.id).is_some() {
            continue;
        }
        let collection = related_collection(property, synced_collections);
        if let Some(kind) = default_kind(property, collection.as_deref()) {
            changes.push(SchemaChange::Added {
                property_id: property.id.clone(),
                property_name: property.name.clone(),
                kind,
            });
            mapping
                .fields
                .push(new_field_mapping(property, kind, collection));
            continue;
        }
        let skipped = skipped_property(property);
        let known = previously_skipped
            .contains(&(skipped.property_id.clone(), skipped.property_type.clone()));
        if !known && !reported.contains(&property.id) {
            changes.push(SchemaChange::Skipped {
                property_id: skipped.property_id.clone(),
                property_name: skipped.property_name.clone(),
                property_type: skipped.property_type.clone(),
            });
        }
        mapping.skipped.push(skipped);
    }
    (mapping, changes)
}

/// Updates one stored field for its property; `None` when it can no longer be synced.
fn reconcile_field(
    mut field: FieldMapping,
    property: &Property,
    collection: Option<String>,
    changes: &mut Vec<SchemaChange>,
) -> Option<FieldMapping> {
    if field.property_name != property.name {
        changes.push(SchemaChange::Renamed {
            property_id: property.id.clone(),
            old_name: field.property_name.clone(),
            new_name: property.name.clone(),
        });
        if field.field_name == field.property_name.trim() {
            field.field_name = field_name_for(property);
        }
        field.property_name.clone_from(&property.name);
    }
    let new_type = property.kind.notion_type().to_string();
    let type_changed = !field.property_type.is_empty() && field.property_type != new_type;
    let fits = kind_fits(field.kind, property, collection.as_deref());
    if type_changed {
        let kind = if fits {
            Some(field.kind)
        } else {
            default_kind(property, collection.as_deref())
        };
        changes.push(SchemaChange::TypeChanged {
            property_id: property.id.clone(),
            property_name: property.name.clone(),
            old_type: std::mem::take(&mut field.property_type),
            new_type: new_type.clone(),
            kind,
        });
        field.kind = kind?;
        field.extra_cases.clear();
    } else if !fits {
        let to = default_kind(property, collection.as_deref())?;
        changes.push(SchemaChange::KindReset {
            property_id: property.id.clone(),
            property_name: property.name.clone(),
            from: field.kind,
            to,
        });
        field.kind = to;
    }
    field.property_type = new_type;
    field.collection_id = collection;
    let option_ids: BTreeSet<String> = property
        .kind
        .options()
        .iter()
        .map(|o| sanitize_id(&o.id))
        .collect();
    field
        .extra_cases
        .retain(|case| !option_ids.contains(&case.id));
    Some(field)
}

/// The field type actually used: a reference without a target collection degrades to text.
fn effective_kind(field: &FieldMapping) -> FieldType {
    if field.kind.is_reference() && field.collection_id.is_none() {
        FieldType::String
    } else {
        field.kind
    }
}

/// The enum cases of a field: the property's options in Notion's order, then learned ones.
fn field_cases(field: &FieldMapping, property: Option<&Property>) -> Vec<EnumCase> {
    let options = property.map(|p| p.kind.options()).unwrap_or_default();
    let mut cases: Vec<EnumCase> = options
        .iter()
        .map(|o| EnumCase {
            id: sanitize_id(&o.id),
            name: o.name.clone(),
        })
        .collect();
    for extra in &field.extra_cases {
        if !cases.iter().any(|case| case.id == extra.id) {
            cases.push(extra.clone());
        }
    }
    cases
}

/// The Framer field definitions for the enabled fields, in mapping order.
pub fn field_defs(mapping: &Mapping, schema: &Schema) -> Vec<FieldDef> {
    mapping
        .fields
        .iter()
        .filter(|field| field.enabled)
        .map(|field| {
            let mut def = FieldDef::new(
                field.field_id.clone(),
                field.field_name.clone(),
                effective_kind(field),
            );
            match def.kind {
                FieldType::Enum => {
                    def.cases = field_cases(field, schema.property(&field.property_id));
                }
                kind if kind.is_reference() => def.collection_id.clone_from(&field.collection_id),
                _ => {}
            }
            def
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------

/// Decides whether a row is published (otherwise it is sent as a Framer draft).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishKind {
    /// Published when the checkbox (or boolean formula) is ticked.
    Checkbox,
    /// Published when the status/select value's name or option id is one of these
    /// (for multi-select: when any value is).
    StatusIn(Vec<String>),
}

/// A property that gates publishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishFilter {
    /// Notion property id.
    pub property_id: String,
    /// How its value is read.
    pub kind: PublishKind,
}

/// Per-project options for turning pages into rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowOptions {
    /// Property the slug is made from; the title when `None`.
    pub slug_property: Option<String>,
    /// Publishing gate; every row is published when `None`.
    pub publish_filter: Option<PublishFilter>,
}

/// An enum case a row needs that the field does not list yet (see [`Mapping::learn_cases`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEnumCase {
    /// Framer field id.
    pub field_id: String,
    /// The case to add.
    pub case: EnumCase,
}

/// One page mapped to Framer field values.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedRow {
    /// Dashed lowercase page UUID (the Framer item id).
    pub page_id: String,
    /// The page's `last_edited_time` as Notion sent it ("" if absent).
    pub last_edited_time: String,
    /// Text to build the slug from (see [`crate::sync::slug::assign_slugs`]).
    pub slug_source: String,
    /// Whether the publish filter lets the row through.
    pub publish: bool,
    /// Values of every enabled field, keyed by Framer field id.
    pub field_data: BTreeMap<String, FieldValue>,
    /// Things worth telling the user (missing properties, files that are not images, ...).
    pub warnings: Vec<String>,
    /// Enum cases this row uses that the fields do not list yet.
    pub new_cases: Vec<NewEnumCase>,
}

impl MappedRow {
    /// The Framer item for this row with its assigned slug; unpublished rows become drafts.
    pub fn to_item(&self, slug: String) -> Item {
        Item {
            id: self.page_id.clone(),
            slug,
            draft: !self.publish,
            field_data: self.field_data.clone(),
        }
    }
}

/// Maps one page (an element of a data source query's `results`) to Framer field values.
pub fn map_page(
    page: &Value,
    mapping: &Mapping,
    schema: &Schema,
    opts: &RowOptions,
) -> Result<MappedRow, MapError> {
    let page_object = page.as_object().ok_or(MapError::NotAPage)?;
    if page_object
        .get("object")
        .and_then(Value::as_str)
        .is_some_and(|object| object != "page")
    {
        return Err(MapError::NotAPage);
    }
    let raw_id = page_object.get("id").and_then(Value::as_str).unwrap_or("");
    let page_id =
        crate::notion::ids::uuid(raw_id).ok_or_else(|| MapError::BadPageId(raw_id.to_string()))?;
    let empty = Map::new();
    let properties = page_object
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut row = MappedRow {
        page_id,
        last_edited_time: str_at(page, "last_edited_time").unwrap_or("").to_string(),
        slug_source: String::new(),
        publish: true,
        field_data: BTreeMap::new(),
        warnings: Vec::new(),
        new_cases: Vec::new(),
    };
    for field in mapping.fields.iter().filter(|field| field.enabled) {
        let value = extract_property(
            properties,
            &field.property_id,
            &field.property_name,
            &mut row.warnings,
        );
        warn_if_truncated(&value, field, &mut row.warnings);
        let converted = convert(&value, field, schema, &mut row);
        row.field_data.insert(field.field_id.clone(), converted);
    }
    row.slug_source = slug_source(properties, schema, opts);
    if let Some(filter) = &opts.publish_filter {
        row.publish = passes_filter(properties, filter, &mut row.warnings);
    }
    Ok(row)
}

fn slug_source(properties: &Map<String, Value>, schema: &Schema, opts: &RowOptions) -> String {
    let property_id = opts
        .slug_property
        .as_deref()
        .or_else(|| schema.title_property().map(|p| p.id.as_str()));
    let Some(property_id) = property_id else {
        return String::new();
    };
    let value = find_property(properties, property_id).map_or(Extracted::Missing, extract);
    value.plain_text().trim().to_string()
}

fn passes_filter(
    properties: &Map<String, Value>,
    filter: &PublishFilter,
    warnings: &mut Vec<String>,
) -> bool {
    let Some(raw) = find_property(properties, &filter.property_id) else {
        warnings.push(format!(
            "publish property {} is missing from the page; kept as draft",
            filter.property_id
        ));
        return false;
    };
    let value = extract(raw);
    match &filter.kind {
        PublishKind::Checkbox => value.boolean(),
        PublishKind::StatusIn(accepted) => {
            let matches = |choice: &Choice| {
                accepted
                    .iter()
                    .any(|a| *a == choice.name || choice.id.as_deref() == Some(a.as_str()))
            };
            match &value {
                Extracted::Choice(Some(choice)) => matches(choice),
                Extracted::Choices(choices) => choices.iter().any(matches),
                other => {
                    let text = other.plain_text();
                    !text.is_empty() && accepted.contains(&text)
                }
            }
        }
    }
}

/// A property value read out of page JSON, before it is shaped for a Framer field type.
#[derive(Debug, Clone, PartialEq)]
enum Extracted {
    Missing,
    Text { plain: String, html: String },
    Contact { text: String, link: String },
    Number(Option<f64>),
    Bool(Option<bool>),
    Date(Option<String>),
    Choice(Option<Choice>),
    Choices(Vec<Choice>),
    Url(Option<String>),
    Files(Vec<FileRef>),
    Relation { ids: Vec<String>, truncated: bool },
    Names(Vec<String>),
    UniqueId { text: String, number: Option<f64> },
}

#[derive(Debug, Clone, PartialEq)]
struct Choice {
    id: Option<String>,
    name: String,
}

#[derive(Debug, Clone, PartialEq)]
struct FileRef {
    name: String,
    url: String,
}

/// Page `properties` are keyed by name; the id is the stable key, so look inside.
fn find_property<'a>(properties: &'a Map<String, Value>, property_id: &str) -> Option<&'a Value> {
    properties
        .values()
        .find(|value| str_at(value, "id") == Some(property_id))
}

fn extract_property(
    properties: &Map<String, Value>,
    property_id: &str,
    property_name: &str,
    warnings: &mut Vec<String>,
) -> Extracted {
    if let Some(value) = find_property(properties, property_id) {
        return extract(value);
    }
    warnings.push(format!(
        "property \"{property_name}\" is missing from the page; left empty"
    ));
    Extracted::Missing
}

fn extract(value: &Value) -> Extracted {
    let notion_type = str_at(value, "type").unwrap_or("");
    let inner = value.get(notion_type).unwrap_or(&Value::Null);
    match notion_type {
        "title" | "rich_text" => Extracted::Text {
            plain: rich_text_plain(inner),
            html: rich_text_html(inner),
        },
        "number" => Extracted::Number(inner.as_f64()),
        "checkbox" => Extracted::Bool(inner.as_bool()),
        "date" => Extracted::Date(date_start(inner)),
        "created_time" | "last_edited_time" => {
            Extracted::Date(inner.as_str().and_then(normalize_date))
        }
        "select" | "status" => Extracted::Choice(parse_choice(inner)),
        "multi_select" => Extracted::Choices(
            inner
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(parse_choice)
                .collect(),
        ),
        "url" => Extracted::Url(non_empty(inner.as_str())),
        "email" => contact(inner, "mailto:"),
        "phone_number" => contact(inner, "tel:"),
        "files" => Extracted::Files(
            inner
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(parse_file)
                .collect(),
        ),
        "relation" => Extracted::Relation {
            ids: inner
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| str_at(r, "id"))
                .map(crate::notion::ids::canonical)
                .collect(),
            truncated: value
                .get("has_more")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        },
        "people" => Extracted::Names(
            inner
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(user_name)
                .collect(),
        ),
        "created_by" | "last_edited_by" => Extracted::Names(user_name(inner).into_iter().collect()),
        "unique_id" => unique_id(inner),
        "formula" => extract_formula(inner),
        "rollup" => extract_rollup(inner),
        _ => Extracted::Missing,
    }
}

fn contact(inner: &Value, scheme: &str) -> Extracted {
    match non_empty(inner.as_str()) {
        Some(text) => Extracted::Contact {
            link: format!("{scheme}{}", text.replace(' ', "")),
            text,
        },
        None => Extracted::Missing,
    }
}

fn parse_choice(value: &Value) -> Option<Choice> {
    let name = str_at(value, "name")?;
    Some(Choice {
        id: str_at(value, "id").map(str::to_string),
        name: name.to_string(),
    })
}

/// Notion-hosted (`file`) and `external` files both give a URL.
fn parse_file(value: &Value) -> Option<FileRef> {
    let url = str_at(value, "file/url")
        .or_else(|| str_at(value, "external/url"))
        .filter(|url| !url.is_empty())?;
    let name = str_at(value, "name").unwrap_or("");
    Some(FileRef {
        name: name.to_string(),
        url: url.to_string(),
    })
}

fn user_name(value: &Value) -> Option<String> {
    non_empty(str_at(value, "name")).or_else(|| non_empty(str_at(value, "id")))
}

fn unique_id(inner: &Value) -> Extracted {
    let Some(number) = inner.get("number").and_then(Value::as_f64) else {
        return Extracted::Missing;
    };
    let digits = format_number(number);
    let text = match non_empty(str_at(inner, "prefix")) {
        Some(prefix) => format!("{prefix}-{digits}"),
        None => digits,
    };
    Extracted::UniqueId {
        text,
        number: Some(number),
    }
}

fn extract_formula(inner: &Value) -> Extracted {
    let result_type = str_at(inner, "type").unwrap_or("");
    let result = inner.get(result_type).unwrap_or(&Value::Null);
    match result_type {
        "string" => {
            let plain = result.as_str().unwrap_or("").to_string();
            Extracted::Text {
                html: escape_html(&plain),
                plain,
            }
        }
        "number" => Extracted::Number(result.as_f64()),
        "boolean" => Extracted::Bool(result.as_bool()),
        "date" => Extracted::Date(date_start(result)),
        _ => Extracted::Missing,
    }
}

fn extract_rollup(inner: &Value) -> Extracted {
    let result_type = str_at(inner, "type").unwrap_or("");
    let result = inner.get(result_type).unwrap_or(&Value::Null);
    match result_type {
        "number" => Extracted::Number(result.as_f64()),
        "date" => Extracted::Date(date_start(result)),
        "array" => {
            let items = result.as_array().into_iter().flatten().map(extract);
            Extracted::Names(
                items
                    .map(|item| item.plain_text())
                    .filter(|text| !text.is_empty())
                    .collect(),
            )
        }
        _ => Extracted::Missing,
    }
}

impl Extracted {
    /// Plain-text rendering, used for string fields and slugs.
    fn plain_text(&self) -> String {
        match self {
            Extracted::Missing | Extracted::Bool(None) => String::new(),
            Extracted::Text { plain, .. } => plain.clone(),
            Extracted::Contact { text, .. } | Extracted::UniqueId { text, .. } => text.clone(),
            Extracted::Number(number) => number.map(format_number).unwrap_or_default(),
            Extracted::Bool(Some(flag)) => flag.to_string(),
            Extracted::Date(date) | Extracted::Url(date) => date.clone().unwrap_or_default(),
            Extracted::Choice(choice) => {
                choice.as_ref().map(|c| c.name.clone()).unwrap_or_default()
            }
            Extracted::Choices(choices) => join(choices.iter().map(|c| c.name.as_str())),
            // Notion file URLs expire within the hour: names are the useful text.
            Extracted::Files(files) => join(files.iter().map(|f| {
                if f.name.is_empty() {
                    f.url.as_str()
                } else {
                    f.name.as_str()
                }
            })),
            Extracted::Relation { ids, .. } => join(ids.iter().map(String::as_str)),
            Extracted::Names(names) => join(names.iter().map(String::as_str)),
        }
    }

    fn html(&self) -> String {
        let inline = match self {
            Extracted::Text { html, .. } => html.clone(),
            other => escape_html(&other.plain_text()),
        };
        if inline.is_empty() {
            inline
        } else {
            format!("<p>{inline}</p>")
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Extracted::Number(number) | Extracted::UniqueId { number, .. } => *number,
            Extracted::Bool(flag) => flag.map(|f| if f { 1.0 } else { 0.0 }),
            Extracted::Text { plain, .. } => {
                plain.trim().parse::<f64>().ok().filter(|n| n.is_finite())
            }
            _ => None,
        }
    }

    fn boolean(&self) -> bool {
        match self {
            Extracted::Bool(flag) => flag.unwrap_or(false),
            Extracted::Number(number) => number.is_some_and(|n| n != 0.0),
            Extracted::Text { plain, .. } => {
                matches!(plain.trim().to_ascii_lowercase().as_str(), "true" | "yes")
            }
            _ => false,
        }
    }

    fn date(&self) -> Option<String> {
        match self {
            Extracted::Date(date) => date.clone(),
            Extracted::Text { plain, .. } => normalize_date(plain.trim()),
            _ => None,
        }
    }

    fn url(&self) -> Option<String> {
        match self {
            Extracted::Url(url) => url.clone(),
            Extracted::Contact { link, .. } => Some(link.clone()),
            Extracted::Text { plain, .. } => non_empty(Some(plain.trim())),
            Extracted::Files(files) => files.first().map(|f| f.url.clone()),
            _ => None,
        }
    }
}

fn join<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    parts
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Shapes an extracted value for the field's Framer type.
fn convert(
    value: &Extracted,
    field: &FieldMapping,
    schema: &Schema,
    row: &mut MappedRow,
) -> FieldValue {
    match effective_kind(field) {
        FieldType::String => FieldValue::String(value.plain_text()),
        FieldType::FormattedText => FieldValue::FormattedText(value.html()),
        FieldType::Number => FieldValue::Number(value.number().unwrap_or(0.0)),
        FieldType::Boolean => FieldValue::Boolean(value.boolean()),
        FieldType::Date => FieldValue::Date(value.date()),
        FieldType::Enum => FieldValue::Enum(enum_case_id(value, field, schema, row)),
        FieldType::Color => FieldValue::Color(non_empty(Some(value.plain_text().trim()))),
        FieldType::Link => FieldValue::Link(value.url()),
        FieldType::Image => FieldValue::Image {
            url: image_url(value, field, &mut row.warnings),
            alt: None,
        },
        FieldType::File => FieldValue::File { url: value.url() },
        FieldType::CollectionReference => {
            FieldValue::CollectionReference(relation_ids(value).into_iter().next())
        }
        FieldType::MultiCollectionReference => {
            FieldValue::MultiCollectionReference(relation_ids(value))
        }
    }
}

const IMAGE_EXTENSIONS: [&str; 10] = [
    "png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "bmp", "tif", "tiff",
];

/// The first file that looks like an image, judged by its name or URL path extension.
fn image_url(
    value: &Extracted,
    field: &FieldMapping,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let Extracted::Files(files) = value else {
        return value.url();
    };
    let image = files
        .iter()
        .find(|file| looks_like_image(&file.name) || looks_like_image(url_path(&file.url)));
    if image.is_none() && !files.is_empty() {
        warnings.push(format!(
            "\"{}\" has files but none is an image; image left empty",
            field.field_name
        ));
    }
    image.map(|file| file.url.clone())
}

fn url_path(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn looks_like_image(name: &str) -> bool {
    let Some((_, extension)) = name.rsplit_once('.') else {
        return false;
    };
    IMAGE_EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str())
}

fn relation_ids(value: &Extracted) -> Vec<String> {
    match value {
        Extracted::Relation { ids, .. } => ids.clone(),
        _ => Vec::new(),
    }
}

/// Notion returns at most 25 related pages per query row; say so rather than link silently less.
fn warn_if_truncated(value: &Extracted, field: &FieldMapping, warnings: &mut Vec<String>) {
    if let Extracted::Relation {
        ids,
        truncated: true,
    } = value
    {
        warnings.push(format!(
            "\"{}\" has more related pages than Notion returns in a query; only the first {} are synced",
            field.field_name,
            ids.len()
        ));
    }
}

/// The case id for a select/status value (the first one of a multi-select), recording a new
/// case when the field does not list it yet.
fn enum_case_id(
    value: &Extracted,
    field: &FieldMapping,
    schema: &Schema,
    row: &mut MappedRow,
) -> String {
    let choice = match value {
        Extracted::Choice(choice) => choice.clone(),
        Extracted::Choices(choices) => choices.first().cloned(),
        _ => None,
    };
    let known = field_cases(field, schema.property(&field.property_id));
    let case = match choice {
        Some(Choice { id: Some(id), name }) => EnumCase {
            id: sanitize_id(&id),
            name,
        },
        Some(Choice { id: None, name }) => known
            .iter()
            .find(|case| case.name == name)
            .cloned()
            .unwrap_or_else(|| EnumCase {
                id: sanitize_id(&format!("name:{name}")),
                name,
            }),
        None => EnumCase {
            id: NONE_CASE_ID.to_string(),
            name: NONE_CASE_NAME.to_string(),
        },
    };
    let already_recorded = row
        .new_cases
        .iter()
        .any(|n| n.field_id == field.field_id && n.case.id == case.id);
    if !known.iter().any(|k| k.id == case.id) && !already_recorded {
        row.new_cases.push(NewEnumCase {
            field_id: field.field_id.clone(),
            case: case.clone(),
        });
    }
    case.id
}

// ---------------------------------------------------------------------------------------------
// Small readers
// ---------------------------------------------------------------------------------------------

/// A string at a `/`-separated path of object keys.
fn str_at<'a>(value: &'a Value, path: &str) -> Option<&'a str> {
    path.split('/')
        .try_fold(value, |node, key| node.get(key))?
        .as_str()
}

fn non_empty(text: Option<&str>) -> Option<String> {
    text.filter(|text| !text.is_empty()).map(str::to_string)
}

/// Numbers as a person writes them: `12`, `2.5`, `-0.125` (no trailing `.0`).
fn format_number(number: f64) -> String {
    if number.fract() == 0.0 && number.abs() < 1e15 {
        format!("{number:.0}")
    } else {
        number.to_string()
    }
}

/// The start of a Notion date value as an ISO string (`None` for null or unreadable dates).
fn date_start(date: &Value) -> Option<String> {
    str_at(date, "start").and_then(normalize_date)
}

/// Any ISO 8601 date or date-time Notion sends -> `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC.
///
/// A bare date is midnight UTC; a time without an offset is taken as UTC.
fn normalize_date(text: &str) -> Option<String> {
    let (date, time) = match text.split_once(['T', 't', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let days = parse_civil_date(date)?;
    let millis_of_day = match time {
        Some(time) => parse_time_utc_ms(time)?,
        None => 0,
    };
    Some(format_utc_ms(days * 86_400_000 + millis_of_day))
}

fn parse_civil_date(date: &str) -> Option<i64> {
    let mut parts = date.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let year: i64 = year.parse().ok()?;
    let month: i64 = month.parse().ok()?;
    let day: i64 = day.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// `HH:MM[:SS[.fff]][Z|±HH:MM]` -> milliseconds since that day's UTC midnight (may be negative
/// or exceed a day once the offset is applied).
fn parse_time_utc_ms(time: &str) -> Option<i64> {
    let offset_at = time.find(['Z', 'z', '+', '-']).unwrap_or(time.len());
    let (clock, offset) = time.split_at(offset_at);
    let mut fields = clock.splitn(3, ':');
    let hours: i64 = two_digits(fields.next()?)?;
    let minutes: i64 = two_digits(fields.next()?)?;
    let (seconds, millis) = match fields.next() {
        Some(rest) => parse_seconds(rest)?,
        None => (0, 0),
    };
    if hours > 23 || minutes > 59 || seconds > 60 {
        return None;
    }
    let local = ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis;
    Some(local - parse_offset_ms(offset)?)
}

fn two_digits(text: &str) -> Option<i64> {
    (text.len() == 2 && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok())?
}

fn parse_seconds(text: &str) -> Option<(i64, i64)> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let seconds = two_digits(whole)?;
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis = format!("{:0<3}", &fraction[..fraction.len().min(3)])
        .parse()
        .ok()?;
    Some((seconds, millis))
}

fn parse_offset_ms(offset: &str) -> Option<i64> {
    if offset.is_empty() || offset.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let body = &offset[1..];
    let (hours, minutes) = body
        .split_once(':')
        .unwrap_or_else(|| body.split_at(body.len().min(2)));
    let minutes = if minutes.is_empty() {
        0
    } else {
        two_digits(minutes)?
    };
    Some(sign * (two_digits(hours)? * 60 + minutes) * 60_000)
}

fn format_utc_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let (hours, minutes) = (rest / 3_600_000, rest / 60_000 % 60);
    let (seconds, millis) = (rest / 1000 % 60, rest % 1000);
    format!("{year:04}-{month:02}-{day:02}T{hours:02}:{minutes:02}:{seconds:02}.{millis:03}Z")
}

// Howard Hinnant's days <-> civil date algorithms (proleptic Gregorian, exact).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const PAGE_ID: &str = "153104cd-477e-809d-8dc4-ff2d96ae3090";
    const AUTHORS_DS: &str = "1f2104cd-477e-80c1-9a0e-000b6f2a9b11";
    const OTHER_DS: &str = "2a3104cd-477e-8044-b3a2-000c1d2e3f40";
    const SIGNED_COVER: &str = "https://prod-files-secure.s3.us-west-2.amazonaws.com/4f1c2a3b-0000-4c4c-9d9d-1a2b3c4d5e6f/9a2e7c1d-2b3c-4d5e-8f90-a1b2c3d4e5f6/cover.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAZI2LB466%2F20241205%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Date=20241205T100000Z&X-Amz-Expires=3600&X-Amz-Signature=1111aaaa&X-Amz-SignedHeaders=host&x-id=GetObject";

    /// `GET /v1/data_sources/{id}` as Notion 2025-09-03 returns it (trimmed to `properties`
    /// plus a few envelope keys).
    fn data_source() -> Value {
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

    fn rich(text: &str) -> Value {
        json!({
            "type": "text",
            "text": {"content": text, "link": null},
            "annotations": {"bold": false, "italic": false, "strikethrough": false, "underline": false, "code": false, "color": "default"},
            "plain_text": text,
            "href": null
        })
    }

    fn bold(text: &str) -> Value {
        let mut segment = rich(text);
        segment["annotations"]["bold"] = json!(true);
        segment
    }

    /// One row of `POST /v1/data_sources/{id}/query`.
    fn page() -> Value {
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

    fn schema() -> Schema {
        parse_schema(&data_source()).unwrap()
    }

    fn synced() -> SyncedCollections {
        BTreeMap::from([(AUTHORS_DS.to_string(), "authorsColl".to_string())])
    }

    fn mapping() -> Mapping {
        default_mapping(&schema(), &synced())
    }

    fn field<'a>(mapping: &'a Mapping, property_id: &str) -> &'a FieldMapping {
        mapping.field_for_property(property_id).unwrap()
    }

    fn value_of(row: &MappedRow, property_id: &str) -> FieldValue {
        row.field_data[&sanitize_id(property_id)].clone()
    }

    fn map_default(page: &Value) -> MappedRow {
        map_page(page, &mapping(), &schema(), &RowOptions::default()).unwrap()
    }

    fn set_property(page: &mut Value, name: &str, value: Value) {
        page["properties"][name] = value;
    }

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
                data_source_id: Some(AUTHORS_DS.to_string())
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
            Err(MapError::NotADataSource)
        );
        assert_eq!(parse_schema(&json!([1, 2])), Err(MapError::NotADataSource));
        // Entries without an id cannot be matched later, so they are left out.
        let odd =
            parse_schema(&json!({"properties": {"X": {"name": "X", "type": "number"}, "Y": 3}}))
                .unwrap();
        assert!(odd.properties.is_empty());
    }

    #[test]
    fn sanitized_ids_are_safe_and_distinct() {
        assert_eq!(sanitize_id("title"), "title");
        assert_eq!(sanitize_id("%3AUPp"), "_253AUPp");
        assert_eq!(sanitize_id("a_b"), "a_5fb");
        assert_eq!(sanitize_id("not-started"), "not_2dstarted");
        assert_eq!(sanitize_id(""), "_");
        assert_ne!(sanitize_id("a_"), sanitize_id("a%5F"));
        assert_ne!(sanitize_id("_none"), NONE_CASE_ID);
    }

    #[test]
    fn default_mapping_picks_documented_types() {
        let mapping = mapping();
        let kinds: Vec<(&str, FieldType)> = mapping
            .fields
            .iter()
            .map(|f| (f.property_name.as_str(), f.kind))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("Name", FieldType::String),
                ("Attachment", FieldType::Image),
                ("Author names", FieldType::String),
                ("Authors", FieldType::MultiCollectionReference),
                ("Body", FieldType::FormattedText),
                ("Category", FieldType::Enum),
                ("Contact", FieldType::String),
                ("Cover", FieldType::Image),
                ("Created", FieldType::Date),
                ("Created by", FieldType::String),
                ("Edited", FieldType::Date),
                ("Featured", FieldType::Boolean),
                ("ID", FieldType::String),
                ("Owner", FieldType::String),
                ("Phone", FieldType::String),
                ("Published on", FieldType::Date),
                ("Related", FieldType::String),
                ("Score", FieldType::String),
                ("Status", FieldType::Enum),
                ("Tags", FieldType::String),
                ("Total words", FieldType::Number),
                ("Views", FieldType::Number),
                ("Website", FieldType::Link),
            ]
        );
        let authors = field(&mapping, "au%3Ch");
        assert_eq!(authors.field_id, "au_253Ch");
        assert_eq!(authors.collection_id.as_deref(), Some("authorsColl"));
        assert_eq!(field(&mapping, "rL%3At").collection_id, None);
        assert!(mapping.fields.iter().all(|f| f.enabled));
        let skipped: Vec<(&str, &str)> = mapping
            .skipped
            .iter()
            .map(|s| (s.property_name.as_str(), s.property_type.as_str()))
            .collect();
        assert_eq!(
            skipped,
            vec![("Approve", "button"), ("Checked", "verification")]
        );
    }

    #[test]
    fn formula_types_are_learned_from_pages() {
        let mut schema = schema();
        schema.learn_formula_results(&[json!({"properties": {}}), page()]);
        assert_eq!(
            schema.property("sC%3Fr").unwrap().kind,
            PropertyKind::Formula {
                result: Some(FormulaResult::Number)
            }
        );
        let mapping = default_mapping(&schema, &synced());
        assert_eq!(field(&mapping, "sC%3Fr").kind, FieldType::Number);
    }

    #[test]
    fn field_defs_carry_cases_and_collections() {
        let mut mapping = mapping();
        mapping
            .fields
            .iter_mut()
            .find(|f| f.property_id == "Wq%7Bn")
            .unwrap()
            .enabled = false;
        let defs = field_defs(&mapping, &schema());
        assert_eq!(defs.len(), mapping.fields.len() - 1);
        assert!(defs.iter().all(|d| d.id != sanitize_id("Wq%7Bn")));
        let category = defs.iter().find(|d| d.name == "Category").unwrap();
        assert_eq!(
            category.cases,
            vec![
                EnumCase {
                    id: "3f1c9a2e_2d0a4b_2d4c2d_2d9e1f_2d7a6b5c4d3e2f".into(),
                    name: "News".into()
                },
                EnumCase {
                    id: "8b2d4e6f_2d1a3c_2d4e5f_2d8a9b_2d0c1d2e3f4a5b".into(),
                    name: "Guides".into()
                },
            ]
        );
        let authors = defs.iter().find(|d| d.name == "Authors").unwrap();
        assert_eq!(authors.kind, FieldType::MultiCollectionReference);
        assert_eq!(authors.collection_id.as_deref(), Some("authorsColl"));
        assert_eq!(
            defs[0].to_wire(),
            json!({"id": "title", "name": "Name", "type": "string"})
        );
    }

    #[test]
    fn maps_a_full_page() {
        let row = map_default(&page());
        assert_eq!(row.page_id, PAGE_ID);
        assert_eq!(row.last_edited_time, "2024-12-06T08:15:00.000Z");
        assert_eq!(row.slug_source, "Hello world");
        assert!(row.publish);
        assert_eq!(
            value_of(&row, "title"),
            FieldValue::String("Hello world".into())
        );
        assert_eq!(
            value_of(&row, "%3AUPp"),
            FieldValue::FormattedText("<p>Hi <strong>there</strong></p>".into())
        );
        assert_eq!(value_of(&row, "b%5Dx%3F"), FieldValue::Number(12.0));
        assert_eq!(value_of(&row, "Wq%7Bn"), FieldValue::Boolean(true));
        assert_eq!(
            value_of(&row, "a%3Bxz"),
            FieldValue::Date(Some("2024-12-05T00:00:00.000Z".into()))
        );
        assert_eq!(
            value_of(&row, "K%3DqV"),
            FieldValue::Enum(sanitize_id("8b2d4e6f-1a3c-4e5f-8a9b-0c1d2e3f4a5b"))
        );
        assert_eq!(
            value_of(&row, "S%60nF"),
            FieldValue::Enum("c7d8e9f0".into())
        );
        assert_eq!(
            value_of(&row, "tg%40A"),
            FieldValue::String("Rust, Wasm".into())
        );
        assert_eq!(
            value_of(&row, "U%5Ei%3D"),
            FieldValue::Link(Some("https://example.com".into()))
        );
        assert_eq!(
            value_of(&row, "eM%3Ai"),
            FieldValue::String("editor@example.com".into())
        );
        assert_eq!(
            value_of(&row, "pH%3Dn"),
            FieldValue::String("+1 555 0100".into())
        );
        assert_eq!(
            value_of(&row, "cV%7Br"),
            FieldValue::Image {
                url: Some(SIGNED_COVER.into()),
                alt: None
            }
        );
        assert_eq!(
            value_of(&row, "aT%7Bc"),
            FieldValue::Image {
                url: None,
                alt: None
            }
        );
        assert_eq!(
            value_of(&row, "au%3Ch"),
            FieldValue::MultiCollectionReference(vec![
                "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f".into(),
                "6d7e8f9a-0b1c-4d2e-8f3a-4b5c6d7e8f90".into(),
            ])
        );
        assert_eq!(
            value_of(&row, "rL%3At"),
            FieldValue::String("7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b".into())
        );
        assert_eq!(
            value_of(&row, "iD%3F%3F"),
            FieldValue::String("POST-12".into())
        );
        assert_eq!(value_of(&row, "sC%3Fr"), FieldValue::String("24".into()));
        assert_eq!(value_of(&row, "tW%3Cw"), FieldValue::Number(1830.5));
        assert_eq!(
            value_of(&row, "aN%3Am"),
            FieldValue::String("Ada Lovelace, Alan Turing".into())
        );
        assert_eq!(
            value_of(&row, "cR%3At"),
            FieldValue::Date(Some("2024-12-05T10:30:00.000Z".into()))
        );
        assert_eq!(
            value_of(&row, "oW%3Ar"),
            FieldValue::String("Grace Hopper, 0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e".into())
        );
        assert_eq!(
            value_of(&row, "cB%3Ay"),
            FieldValue::String("Grace Hopper".into())
        );
        assert_eq!(row.field_data.len(), 23);
        assert!(row.new_cases.is_empty());
        assert_eq!(
            row.warnings,
            vec![
                "\"Attachment\" has files but none is an image; image left empty".to_string(),
                "\"Related\" has more related pages than Notion returns in a query; only the first 1 are synced".to_string(),
            ]
        );
    }

    #[test]
    fn row_becomes_an_item() {
        let row = map_default(&page());
        let item = row.to_item("hello-world".into());
        assert_eq!(item.id, PAGE_ID);
        assert_eq!(item.slug, "hello-world");
        assert!(!item.draft);
        assert_eq!(
            item.to_wire()["fieldData"]["title"],
            json!({"type": "string", "value": "Hello world"})
        );
        assert_eq!(
            item.to_wire()["fieldData"]["b_255Dx_253F"],
            json!({"type": "number", "value": 12})
        );
    }

    #[test]
    fn chosen_alternative_types_convert() {
        let mut mapping = mapping();
        let mut set = |property_id: &str, kind: FieldType| {
            mapping
                .fields
                .iter_mut()
                .find(|f| f.property_id == property_id)
                .unwrap()
                .kind = kind;
        };
        set("%3AUPp", FieldType::String);
        set("tg%40A", FieldType::Enum);
        set("aT%7Bc", FieldType::File);
        set("eM%3Ai", FieldType::Link);
        set("pH%3Dn", FieldType::Link);
        set("iD%3F%3F", FieldType::Number);
        set("au%3Ch", FieldType::CollectionReference);
        set("b%5Dx%3F", FieldType::String);
        set("Wq%7Bn", FieldType::String);
        let row = map_page(&page(), &mapping, &schema(), &RowOptions::default()).unwrap();
        assert_eq!(
            value_of(&row, "%3AUPp"),
            FieldValue::String("Hi there".into())
        );
        assert_eq!(
            value_of(&row, "tg%40A"),
            FieldValue::Enum("t_2drust".into())
        );
        assert_eq!(
            value_of(&row, "aT%7Bc"),
            FieldValue::File {
                url: Some("https://example.com/brief.pdf".into())
            }
        );
        assert_eq!(
            value_of(&row, "eM%3Ai"),
            FieldValue::Link(Some("mailto:editor@example.com".into()))
        );
        assert_eq!(
            value_of(&row, "pH%3Dn"),
            FieldValue::Link(Some("tel:+15550100".into()))
        );
        assert_eq!(value_of(&row, "iD%3F%3F"), FieldValue::Number(12.0));
        assert_eq!(
            value_of(&row, "au%3Ch"),
            FieldValue::CollectionReference(Some("5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f".into()))
        );
        assert_eq!(value_of(&row, "b%5Dx%3F"), FieldValue::String("12".into()));
        assert_eq!(value_of(&row, "Wq%7Bn"), FieldValue::String("true".into()));
    }

    #[test]
    fn empty_and_null_values_become_empty_field_values() {
        let mut page = page();
        set_property(
            &mut page,
            "Name",
            json!({"id": "title", "type": "title", "title": []}),
        );
        set_property(
            &mut page,
            "Body",
            json!({"id": "%3AUPp", "type": "rich_text", "rich_text": []}),
        );
        set_property(
            &mut page,
            "Views",
            json!({"id": "b%5Dx%3F", "type": "number", "number": null}),
        );
        set_property(
            &mut page,
            "Published on",
            json!({"id": "a%3Bxz", "type": "date", "date": null}),
        );
        set_property(
            &mut page,
            "Category",
            json!({"id": "K%3DqV", "type": "select", "select": null}),
        );
        set_property(
            &mut page,
            "Website",
            json!({"id": "U%5Ei%3D", "type": "url", "url": null}),
        );
        set_property(
            &mut page,
            "Cover",
            json!({"id": "cV%7Br", "type": "files", "files": []}),
        );
        set_property(
            &mut page,
            "Authors",
            json!({"id": "au%3Ch", "type": "relation", "relation": [], "has_more": false}),
        );
        set_property(
            &mut page,
            "Score",
            json!({"id": "sC%3Fr", "type": "formula", "formula": {"type": "string", "string": null}}),
        );
        page["properties"]
            .as_object_mut()
            .unwrap()
            .remove("Featured");
        let row = map_default(&page);
        assert_eq!(value_of(&row, "title"), FieldValue::String(String::new()));
        assert_eq!(
            value_of(&row, "%3AUPp"),
            FieldValue::FormattedText(String::new())
        );
        assert_eq!(value_of(&row, "b%5Dx%3F"), FieldValue::Number(0.0));
        assert_eq!(value_of(&row, "Wq%7Bn"), FieldValue::Boolean(false));
        assert_eq!(value_of(&row, "a%3Bxz"), FieldValue::Date(None));
        assert_eq!(
            value_of(&row, "K%3DqV"),
            FieldValue::Enum(NONE_CASE_ID.into())
        );
        assert_eq!(value_of(&row, "U%5Ei%3D"), FieldValue::Link(None));
        assert_eq!(
            value_of(&row, "cV%7Br"),
            FieldValue::Image {
                url: None,
                alt: None
            }
        );
        assert_eq!(
            value_of(&row, "au%3Ch"),
            FieldValue::MultiCollectionReference(Vec::new())
        );
        assert_eq!(value_of(&row, "sC%3Fr"), FieldValue::String(String::new()));
        assert_eq!(row.slug_source, "");
        assert!(row
            .warnings
            .contains(&"property \"Featured\" is missing from the page; left empty".to_string()));
        assert_eq!(
            row.new_cases,
            vec![NewEnumCase {
                field_id: sanitize_id("K%3DqV"),
                case: EnumCase {
                    id: NONE_CASE_ID.into(),
                    name: "None".into()
                },
            }]
        );
    }

    #[test]
    fn files_first_item_external_or_hosted() {
        let mut page = page();
        set_property(
            &mut page,
            "Cover",
            json!({"id": "cV%7Br", "type": "files", "files": [
                {"name": "https://cdn.example.com/photo", "type": "external", "external": {"url": "https://cdn.example.com/photo.JPG?w=800"}}
            ]}),
        );
        let row = map_default(&page);
        assert_eq!(
            value_of(&row, "cV%7Br"),
            FieldValue::Image {
                url: Some("https://cdn.example.com/photo.JPG?w=800".into()),
                alt: None
            }
        );
    }

    #[test]
    fn dates_normalise_to_utc_iso() {
        assert_eq!(
            normalize_date("2024-12-05").as_deref(),
            Some("2024-12-05T00:00:00.000Z")
        );
        assert_eq!(
            normalize_date("2024-12-05T10:30:00.000+02:00").as_deref(),
            Some("2024-12-05T08:30:00.000Z")
        );
        assert_eq!(
            normalize_date("2024-12-05T23:57:05.379Z").as_deref(),
            Some("2024-12-05T23:57:05.379Z")
        );
        assert_eq!(
            normalize_date("2024-01-01T01:00:00-03:30").as_deref(),
            Some("2024-01-01T04:30:00.000Z")
        );
        assert_eq!(
            normalize_date("2024-01-01T00:30+01:00").as_deref(),
            Some("2023-12-31T23:30:00.000Z")
        );
        assert_eq!(
            normalize_date("2024-02-29T12:00:00.5Z").as_deref(),
            Some("2024-02-29T12:00:00.500Z")
        );
        assert_eq!(
            normalize_date("2024-12-05T10:30:00").as_deref(),
            Some("2024-12-05T10:30:00.000Z")
        );
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "2024-12-05T25:00:00Z",
            "2024-1-5",
            "2024-12-05T10:30:00+2",
        ] {
            assert_eq!(normalize_date(bad), None, "{bad}");
        }
        let mut page = page();
        set_property(
            &mut page,
            "Published on",
            json!({"id": "a%3Bxz", "type": "date", "date": {
                "start": "2024-12-05T10:30:00.000+02:00", "end": "2024-12-07T10:30:00.000+02:00", "time_zone": null
            }}),
        );
        assert_eq!(
            value_of(&map_default(&page), "a%3Bxz"),
            FieldValue::Date(Some("2024-12-05T08:30:00.000Z".into()))
        );
    }

    #[test]
    fn unknown_options_become_new_cases_once_learned() {
        let mut page = page();
        set_property(
            &mut page,
            "Category",
            json!({"id": "K%3DqV", "type": "select", "select": {"id": "new-opt", "name": "Opinion", "color": "red"}}),
        );
        let mut mapping = mapping();
        let schema = schema();
        let row = map_page(&page, &mapping, &schema, &RowOptions::default()).unwrap();
        assert_eq!(
            value_of(&row, "K%3DqV"),
            FieldValue::Enum("new_2dopt".into())
        );
        let expected_case = EnumCase {
            id: "new_2dopt".into(),
            name: "Opinion".into(),
        };
        assert_eq!(
            row.new_cases,
            vec![NewEnumCase {
                field_id: "K_253DqV".into(),
                case: expected_case.clone()
            }]
        );
        assert_eq!(mapping.learn_cases(&[row.clone(), row]), 1);
        let defs = field_defs(&mapping, &schema);
        let category = defs.iter().find(|d| d.id == "K_253DqV").unwrap();
        assert_eq!(category.cases.len(), 3);
        assert_eq!(category.cases[2], expected_case);
        let again = map_page(&page, &mapping, &schema, &RowOptions::default()).unwrap();
        assert!(again.new_cases.is_empty());
    }

    #[test]
    fn slug_source_from_chosen_property() {
        let opts = RowOptions {
            slug_property: Some("iD%3F%3F".into()),
            publish_filter: None,
        };
        let row = map_page(&page(), &mapping(), &schema(), &opts).unwrap();
        assert_eq!(row.slug_source, "POST-12");
    }

    #[test]
    fn publish_filters() {
        let checkbox = RowOptions {
            slug_property: None,
            publish_filter: Some(PublishFilter {
                property_id: "Wq%7Bn".into(),
                kind: PublishKind::Checkbox,
            }),
        };
        assert!(
            map_page(&page(), &mapping(), &schema(), &checkbox)
                .unwrap()
                .publish
        );
        let mut unticked = page();
        set_property(
            &mut unticked,
            "Featured",
            json!({"id": "Wq%7Bn", "type": "checkbox", "checkbox": false}),
        );
        let row = map_page(&unticked, &mapping(), &schema(), &checkbox).unwrap();
        assert!(!row.publish);
        assert!(row.to_item("s".into()).draft);

        let status = |names: &[&str]| RowOptions {
            slug_property: None,
            publish_filter: Some(PublishFilter {
                property_id: "S%60nF".into(),
                kind: PublishKind::StatusIn(names.iter().map(|n| (*n).to_string()).collect()),
            }),
        };
        assert!(
            map_page(&page(), &mapping(), &schema(), &status(&["Live", "Done"]))
                .unwrap()
                .publish
        );
        assert!(
            map_page(&page(), &mapping(), &schema(), &status(&["c7d8e9f0"]))
                .unwrap()
                .publish
        );
        assert!(
            !map_page(&page(), &mapping(), &schema(), &status(&["Done"]))
                .unwrap()
                .publish
        );

        let mut missing = page();
        missing["properties"]
            .as_object_mut()
            .unwrap()
            .remove("Status");
        let row = map_page(&missing, &mapping(), &schema(), &status(&["Live"])).unwrap();
        assert!(!row.publish);
        assert!(row
            .warnings
            .iter()
            .any(|w| w.starts_with("publish property S%60nF is missing")));
    }

    #[test]
    fn rejects_what_is_not_a_page() {
        let opts = RowOptions::default();
        assert_eq!(
            map_page(&json!("page"), &mapping(), &schema(), &opts),
            Err(MapError::NotAPage)
        );
        assert_eq!(
            map_page(
                &json!({"object": "data_source", "id": PAGE_ID}),
                &mapping(),
                &schema(),
                &opts
            ),
            Err(MapError::NotAPage)
        );
        assert_eq!(
            map_page(
                &json!({"object": "page", "id": "nope"}),
                &mapping(),
                &schema(),
                &opts
            ),
            Err(MapError::BadPageId("nope".into()))
        );
        let undashed = map_page(
            &json!({"object": "page", "id": "153104CD477E809D8DC4FF2D96AE3090"}),
            &mapping(),
            &schema(),
            &opts,
        )
        .unwrap();
        assert_eq!(undashed.page_id, PAGE_ID);
        assert_eq!(undashed.field_data.len(), 23);
    }

    #[test]
    fn reconcile_without_stored_mapping_adds_everything() {
        let (mapping, changes) = reconcile_schema(&schema(), None, &synced());
        assert_eq!(mapping, default_mapping(&schema(), &synced()));
        let added = changes
            .iter()
            .filter(|c| matches!(c, SchemaChange::Added { .. }))
            .count();
        assert_eq!(added, 23);
        let skipped: Vec<String> = changes
            .iter()
            .filter(|c| matches!(c, SchemaChange::Skipped { .. }))
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            skipped,
            vec![
                "property \"Approve\" has unsupported type button and is skipped",
                "property \"Checked\" has unsupported type verification and is skipped",
            ]
        );
        let (_, again) = reconcile_schema(&schema(), Some(&mapping), &synced());
        assert!(again.is_empty(), "{again:?}");
    }

    fn schema_with(edit: impl FnOnce(&mut Value)) -> Schema {
        let mut source = data_source();
        edit(&mut source["properties"]);
        parse_schema(&source).unwrap()
    }

    #[test]
    fn reconcile_follows_renames_by_id() {
        let mut stored = mapping();
        stored
            .fields
            .iter_mut()
            .find(|f| f.property_id == "b%5Dx%3F")
            .unwrap()
            .field_name = "Page views".into();
        let renamed = schema_with(|props| {
            let name = props.as_object_mut().unwrap().remove("Name").unwrap();
            props["Headline"] = name;
            props["Headline"]["name"] = json!("Headline");
            props["Views"]["name"] = json!("Visits");
        });
        let (mapping, changes) = reconcile_schema(&renamed, Some(&stored), &synced());
        assert_eq!(
            changes,
            vec![
                SchemaChange::Renamed {
                    property_id: "title".into(),
                    old_name: "Name".into(),
                    new_name: "Headline".into()
                },
                SchemaChange::Renamed {
                    property_id: "b%5Dx%3F".into(),
                    old_name: "Views".into(),
                    new_name: "Visits".into()
                },
            ]
        );
        let title = field(&mapping, "title");
        assert_eq!(
            (title.field_id.as_str(), title.field_name.as_str()),
            ("title", "Headline")
        );
        let views = field(&mapping, "b%5Dx%3F");
        assert_eq!(
            (views.field_id.as_str(), views.field_name.as_str()),
            ("b_255Dx_253F", "Page views")
        );
        assert_eq!(views.property_name, "Visits");
        assert_eq!(mapping.fields.len(), stored.fields.len());
    }

    #[test]
    fn reconcile_reports_added_and_removed() {
        let stored = mapping();
        let edited_schema = schema_with(|props| {
            let props = props.as_object_mut().unwrap();
            props.remove("Phone");
            props.insert(
                "Summary".into(),
                json!({"id": "sM%3Ay", "name": "Summary", "type": "rich_text", "rich_text": {}}),
            );
        });
        let (mapping, changes) = reconcile_schema(&edited_schema, Some(&stored), &synced());
        assert_eq!(
            changes,
            vec![
                SchemaChange::Removed {
                    property_id: "pH%3Dn".into(),
                    property_name: "Phone".into()
                },
                SchemaChange::Added {
                    property_id: "sM%3Ay".into(),
                    property_name: "Summary".into(),
                    kind: FieldType::FormattedText
                },
            ]
        );
        assert!(mapping.field_for_property("pH%3Dn").is_none());
        assert_eq!(mapping.fields.last().unwrap().field_id, "sM_253Ay");
    }

    #[test]
    fn reconcile_handles_type_changes() {
        let mut stored = mapping();
        stored
            .fields
            .iter_mut()
            .find(|f| f.property_id == "tg%40A")
            .unwrap()
            .kind = FieldType::Enum;
        let edited_schema = schema_with(|props| {
            // multi_select -> select keeps the chosen enum; number -> button cannot be synced.
            props["Tags"]["type"] = json!("select");
            props["Tags"]["select"] = props["Tags"]["multi_select"].clone();
            props["Views"] =
                json!({"id": "b%5Dx%3F", "name": "Views", "type": "button", "button": {}});
            // rich_text -> number: formattedText no longer fits, the default is used.
            props["Body"] = json!({"id": "%3AUPp", "name": "Body", "type": "number", "number": {"format": "number"}});
        });
        let (mapping, changes) = reconcile_schema(&edited_schema, Some(&stored), &synced());
        assert_eq!(
            changes,
            vec![
                SchemaChange::TypeChanged {
                    property_id: "%3AUPp".into(),
                    property_name: "Body".into(),
                    old_type: "rich_text".into(),
                    new_type: "number".into(),
                    kind: Some(FieldType::Number),
                },
                SchemaChange::TypeChanged {
                    property_id: "tg%40A".into(),
                    property_name: "Tags".into(),
                    old_type: "multi_select".into(),
                    new_type: "select".into(),
                    kind: Some(FieldType::Enum),
                },
                SchemaChange::TypeChanged {
                    property_id: "b%5Dx%3F".into(),
                    property_name: "Views".into(),
                    old_type: "number".into(),
                    new_type: "button".into(),
                    kind: None,
                },
            ]
        );
        assert!(mapping.field_for_property("b%5Dx%3F").is_none());
        assert!(mapping.skipped.iter().any(|s| s.property_id == "b%5Dx%3F"));
        assert_eq!(field(&mapping, "%3AUPp").property_type, "number");
        assert_eq!(field(&mapping, "%3AUPp").field_id, "_253AUPp");
    }

    #[test]
    fn reconcile_degrades_reference_when_target_stops_syncing() {
        let stored = mapping();
        let (mapping, changes) =
            reconcile_schema(&schema(), Some(&stored), &SyncedCollections::new());
        assert_eq!(
            changes,
            vec![SchemaChange::KindReset {
                property_id: "au%3Ch".into(),
                property_name: "Authors".into(),
                from: FieldType::MultiCollectionReference,
                to: FieldType::String,
            }]
        );
        assert_eq!(field(&mapping, "au%3Ch").kind, FieldType::String);
        assert_eq!(field(&mapping, "au%3Ch").collection_id, None);
    }

    #[test]
    fn mapping_round_trips_as_json() {
        let mut mapping = mapping();
        mapping.fields[0].extra_cases.push(EnumCase {
            id: NONE_CASE_ID.into(),
            name: "None".into(),
        });
        let text = serde_json::to_string(&mapping).unwrap();
        let back: Mapping = serde_json::from_str(&text).unwrap();
        assert_eq!(back, mapping);
        let stored = json!({"fields": [{
            "property_id": "title", "property_name": "Name", "field_id": "title",
            "field_name": "Name", "kind": "string", "enabled": true
        }]});
        let old: Mapping = serde_json::from_value(stored).unwrap();
        assert_eq!(old.fields[0].kind, FieldType::String);
        assert!(old.skipped.is_empty() && old.fields[0].extra_cases.is_empty());
        let (reconciled, _) = reconcile_schema(&schema(), Some(&old), &synced());
        assert_eq!(field(&reconciled, "title").property_type, "title");
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|n| serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)),
            "[a-z_:+\\-.T0-9]{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn never_panics_on_odd_property_values(values in proptest::collection::vec(arbitrary_json(), 25)) {
            let mut page = page();
            let names: Vec<String> = page["properties"].as_object().unwrap().keys().cloned().collect();
            for (name, junk) in names.iter().zip(values) {
                let id = page["properties"][name]["id"].clone();
                let notion_type = page["properties"][name]["type"].clone();
                let kind = notion_type.as_str().unwrap_or("").to_string();
                page["properties"][name] = json!({"id": id, "type": notion_type, kind: junk});
            }
            let row = map_page(&page, &mapping(), &schema(), &RowOptions::default()).unwrap();
            prop_assert_eq!(row.field_data.len(), 23);
        }

        #[test]
        fn never_panics_on_any_page(junk in arbitrary_json()) {
            let _ = map_page(&junk, &mapping(), &schema(), &RowOptions::default());
            let mut page = json!({"object": "page", "id": PAGE_ID});
            page["properties"] = junk;
            prop_assert!(map_page(&page, &mapping(), &schema(), &RowOptions::default()).is_ok());
        }

        #[test]
        fn dates_never_panic(text in "\\PC{0,40}") {
            let _ = normalize_date(&text);
        }
    }
}
