//! The per-project mapping: which Notion property feeds which Framer field, and as what
//! [`FieldType`]. It is stored as JSON per project, proposed from the schema by
//! [`default_mapping`], kept up to date with it by [`reconcile_schema`], and turned into Framer
//! field definitions by [`field_defs`].
//!
//! Framer field ids and enum case ids are derived from Notion's property and option ids, never
//! from names, so renaming in Notion never orphans a field or a value.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::framer::cms::{EnumCase, FieldDef, FieldType};
use crate::notion::schema::{FormulaResult, Property, PropertyKind, Schema};

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
    /// A relation's target data source (dashed, lowercase): the page shows whether the site
    /// syncs it even while the field is text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_data_source_id: Option<String>,
    /// Enum cases learned from page values that the schema's options did not list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_cases: Vec<EnumCase>,
}

impl FieldMapping {
    /// The field type actually used: a reference without a target collection degrades to text.
    pub fn effective_kind(&self) -> FieldType {
        if self.kind.is_reference() && self.collection_id.is_none() {
            FieldType::String
        } else {
            self.kind
        }
    }

    /// The enum cases of the field: the property's options in Notion's order, then learned ones.
    pub fn cases(&self, property: Option<&Property>) -> Vec<EnumCase> {
        let options = property.map(|p| p.kind.options()).unwrap_or_default();
        let mut cases: Vec<EnumCase> = options
            .iter()
            .map(|o| EnumCase {
                id: sanitize_id(&o.id),
                name: o.name.clone(),
            })
            .collect();
        for extra in &self.extra_cases {
            if !cases.iter().any(|case| case.id == extra.id) {
                cases.push(extra.clone());
            }
        }
        cases
    }
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
    pub fn learn_cases<'a>(&mut self, cases: impl IntoIterator<Item = &'a NewEnumCase>) -> usize {
        let mut added = 0;
        for new_case in cases {
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

/// An enum case a row needs that the field does not list yet (see [`Mapping::learn_cases`]): rows name
/// them as they are mapped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NewEnumCase {
    /// Framer field id.
    pub field_id: String,
    /// The case to add.
    pub case: EnumCase,
}

/// Why a mapping sent by a client cannot be stored. `path` names the offending part relative
/// to the mapping (`fields`, `fields[2].kind`; empty for the mapping itself) and `message`
/// completes a sentence about it ("is required").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingError {
    /// Where in the mapping.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl MappingError {
    fn at(path: String, message: impl Into<String>) -> Self {
        Self {
            path,
            message: message.into(),
        }
    }
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "the mapping {}", self.message)
        } else {
            write!(f, "`{}` {}", self.path, self.message)
        }
    }
}

impl std::error::Error for MappingError {}

impl Mapping {
    /// Reads a mapping a client sent: exactly the type the sync reads back (keys it does not
    /// know are ignored, as the sync ignores them), plus the rules the sync relies on that the
    /// type cannot say. The first problem found is reported.
    pub fn from_client(value: &Value) -> Result<Mapping, MappingError> {
        if !value.is_object() {
            return Err(MappingError::at(String::new(), "must be an object"));
        }
        let mapping: Mapping =
            serde_path_to_error::deserialize(value).map_err(|e| shape_error(&e))?;
        mapping.check_fields()?;
        Ok(mapping)
    }

    /// The canonical JSON stored for the project.
    pub fn to_json(&self) -> String {
        // Plain structs of strings, flags and lists: serialising them cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Every field names a Notion property once, under the Framer id derived from it (which is
    /// what keeps field ids stable and distinct), and synced fields have distinct, non-blank
    /// names; learned enum cases have ids.
    fn check_fields(&self) -> Result<(), MappingError> {
        let mut properties: BTreeMap<&str, usize> = BTreeMap::new();
        let mut names: BTreeMap<&str, usize> = BTreeMap::new();
        for (index, field) in self.fields.iter().enumerate() {
            let at = |key: &str| format!("fields[{index}].{key}");
            if field.property_id.is_empty() {
                return Err(MappingError::at(at("property_id"), "must not be empty"));
            }
            if let Some(first) = properties.insert(&field.property_id, index) {
                return Err(MappingError::at(
                    at("property_id"),
                    format!("maps the same Notion property as fields[{first}]"),
                ));
            }
            let derived = sanitize_id(&field.property_id);
            if field.field_id != derived {
                return Err(MappingError::at(
                    at("field_id"),
                    format!("must be `{derived}`, the Framer id derived from property_id"),
                ));
            }
            let name = field.field_name.trim();
            if name.is_empty() {
                return Err(MappingError::at(at("field_name"), "must not be blank"));
            }
            if field.enabled {
                if let Some(first) = names.insert(name, index) {
                    return Err(MappingError::at(
                        at("field_name"),
                        format!("is also the name of fields[{first}]; synced fields need distinct names"),
                    ));
                }
            }
            if let Some(case) = field.extra_cases.iter().position(|case| case.id.is_empty()) {
                return Err(MappingError::at(
                    at(&format!("extra_cases[{case}].id")),
                    "must not be empty",
                ));
            }
        }
        Ok(())
    }
}

/// A serde error with the path of the value that failed, as `fields[2].kind`. A missing key is
/// reported at the key itself rather than at the object that lacks it.
fn shape_error(error: &serde_path_to_error::Error<serde_json::Error>) -> MappingError {
    let mut path = String::new();
    for segment in error.path() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => {
                // Writing to a String cannot fail.
                let _ = write!(path, "[{index}]");
            }
            serde_path_to_error::Segment::Map { key }
            | serde_path_to_error::Segment::Enum { variant: key } => push_key(&mut path, key),
            serde_path_to_error::Segment::Unknown => push_key(&mut path, "?"),
        }
    }
    let message = error.inner().to_string();
    match message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        Some(key) => {
            push_key(&mut path, key);
            MappingError::at(path, "is required")
        }
        None => MappingError::at(path, format!("is invalid: {message}")),
    }
}

fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

/// Case used for an enum field whose Notion value is empty (Framer enums always hold a case).
/// No sanitised Notion id can equal it: sanitising puts two hex digits after every `_`.
pub const NONE_CASE_ID: &str = "_none";
/// The display name of [`NONE_CASE_ID`].
pub const NONE_CASE_NAME: &str = "None";

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
            ..
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
        related_data_source_id: related_data_source(property),
        extra_cases: Vec::new(),
    }
}

fn related_data_source(property: &Property) -> Option<String> {
    match &property.kind {
        PropertyKind::Relation { data_source_id, .. } => data_source_id.clone(),
        _ => None,
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
    /// A relation synced as text whose target joined the site: it becomes a reference field
    /// into the target's collection.
    BecameReference {
        /// Notion property id.
        property_id: String,
        /// Notion property name.
        property_name: String,
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
            SchemaChange::BecameReference { property_name, to, .. } => {
                write!(f, "relation \"{property_name}\" now points into a synced collection; synced as {to} instead of text")
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
    } else if field.kind == FieldType::String
        && field.collection_id.is_none()
        && collection.is_some()
        && matches!(property.kind, PropertyKind::Relation { .. })
    {
        // Text only because the target was not synced when the field was mapped: now that
        // the target is part of the site, the relation is what a new mapping would make it.
        let to = default_kind(property, collection.as_deref())?;
        changes.push(SchemaChange::BecameReference {
            property_id: property.id.clone(),
            property_name: property.name.clone(),
            to,
        });
        field.kind = to;
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
    field.related_data_source_id = related_data_source(property);
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
                field.effective_kind(),
            );
            match def.kind {
                FieldType::Enum => {
                    def.cases = field.cases(schema.property(&field.property_id));
                }
                kind if kind.is_reference() => def.collection_id.clone_from(&field.collection_id),
                _ => {}
            }
            def
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notion::fixtures::{data_source, page, schema};
    use crate::notion::schema::parse_schema;
    use crate::sync::fixtures::{field, mapping, synced};
    use serde_json::json;

    #[test]
    fn a_relation_becomes_a_reference_once_its_target_joins_the_site() {
        // Mapped while Authors was not synced: text, with the target remembered.
        let (alone, _) = reconcile_schema(&schema(), None, &SyncedCollections::new());
        let authors = field(&alone, "au%3Ch");
        assert_eq!(authors.kind, FieldType::String);
        assert_eq!(authors.collection_id, None);
        assert_eq!(
            authors.related_data_source_id.as_deref(),
            Some(crate::notion::fixtures::AUTHORS_DS)
        );
        // Authors joins the site: the next reconcile makes it a reference, and says so.
        let (joined, changes) = reconcile_schema(&schema(), Some(&alone), &synced());
        let authors = field(&joined, "au%3Ch");
        assert_eq!(authors.kind, FieldType::MultiCollectionReference);
        assert_eq!(authors.collection_id.as_deref(), Some("authorsColl"));
        assert!(
            changes.iter().any(|c| matches!(c, SchemaChange::BecameReference { property_name, .. } if property_name == "Authors")),
            "{changes:?}"
        );
        assert!(changes.iter().any(|c| c
            .to_string()
            .contains("now points into a synced collection")));
        // An owner who then chooses text keeps text: the target is known to be synced.
        let mut chosen = joined.clone();
        let at = chosen
            .fields
            .iter()
            .position(|f| f.property_id == "au%3Ch")
            .unwrap();
        chosen.fields[at].kind = FieldType::String;
        let (kept, changes) = reconcile_schema(&schema(), Some(&chosen), &synced());
        assert_eq!(field(&kept, "au%3Ch").kind, FieldType::String);
        assert!(changes.is_empty(), "{changes:?}");
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
    fn learned_formula_types_pick_the_field_type() {
        let mut schema = schema();
        assert_eq!(field(&mapping(), "sC%3Fr").kind, FieldType::String);
        schema.learn_formula_results(&[json!({"properties": {}}), page()]);
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

    fn client_error(value: &Value) -> MappingError {
        Mapping::from_client(value).expect_err("the mapping should be refused")
    }

    #[test]
    fn client_mappings_of_the_stored_shape_are_read() {
        let proposed = mapping();
        let sent = serde_json::to_value(&proposed).unwrap();
        assert_eq!(Mapping::from_client(&sent), Ok(proposed.clone()));
        // Optional keys may be left out or null, unknown ones are dropped like the sync drops them.
        let mut minimal = json!({"fields": [{
            "property_id": "title", "property_name": "Name", "field_id": "title",
            "field_name": "Name", "kind": "string", "enabled": true,
            "collection_id": null, "note": "ignored"
        }], "extra": 1});
        let read = Mapping::from_client(&minimal).unwrap();
        assert_eq!(read.fields[0].kind, FieldType::String);
        assert!(read.skipped.is_empty());
        assert_eq!(
            serde_json::from_str::<Value>(&read.to_json()).unwrap(),
            json!({"fields": [{
                "property_id": "title", "property_name": "Name", "property_type": "",
                "field_id": "title", "field_name": "Name", "kind": "string", "enabled": true
            }], "skipped": []})
        );
        // A disabled field may share a name: it never reaches Framer.
        minimal["fields"].as_array_mut().unwrap().push(json!({
            "property_id": "b%5Dx%3F", "property_name": "Views", "field_id": "b_255Dx_253F",
            "field_name": "Name", "kind": "number", "enabled": false
        }));
        assert!(Mapping::from_client(&minimal).is_ok());
        let stored: Mapping = serde_json::from_str(&proposed.to_json()).unwrap();
        assert_eq!(stored, proposed);
    }

    #[test]
    fn client_mappings_name_the_bad_part() {
        let good = serde_json::to_value(mapping()).unwrap();
        let with = |edit: &dyn Fn(&mut Value)| {
            let mut value = good.clone();
            edit(&mut value);
            value
        };
        let cases: Vec<(Value, &str, &str)> = vec![
            (json!(7), "", "must be an object"),
            (json!([[], []]), "", "must be an object"),
            (json!({}), "fields", "is required"),
            (
                json!({"fields": 7}),
                "fields",
                "is invalid: invalid type: integer `7`, expected a sequence",
            ),
            (
                json!({"fields": [7]}),
                "fields[0]",
                "is invalid: invalid type: integer `7`",
            ),
            (
                with(&|m| m["fields"][2]["kind"] = json!("colour")),
                "fields[2].kind",
                "is invalid: unknown variant `colour`",
            ),
            (
                with(&|m| m["fields"][1]["enabled"] = json!("yes")),
                "fields[1].enabled",
                "is invalid: invalid type: string",
            ),
            (
                with(&|m| {
                    m["fields"][3].as_object_mut().unwrap().remove("field_id");
                }),
                "fields[3].field_id",
                "is required",
            ),
            (
                with(&|m| m["fields"][0]["extra_cases"] = json!([{"id": "x"}])),
                "fields[0].extra_cases[0].name",
                "is required",
            ),
            (
                with(&|m| m["skipped"] = json!([{"property_id": "x"}])),
                "skipped[0].property_name",
                "is required",
            ),
            (
                with(&|m| m["fields"][4]["property_id"] = json!("")),
                "fields[4].property_id",
                "must not be empty",
            ),
            (
                with(&|m| m["fields"][4]["property_id"] = m["fields"][1]["property_id"].clone()),
                "fields[4].property_id",
                "maps the same Notion property as fields[1]",
            ),
            (
                with(&|m| m["fields"][4]["field_id"] = json!("page_body")),
                "fields[4].field_id",
                "must be `_253AUPp`",
            ),
            (
                with(&|m| m["fields"][4]["field_name"] = json!("  ")),
                "fields[4].field_name",
                "must not be blank",
            ),
            (
                with(&|m| m["fields"][4]["field_name"] = json!(" Name ")),
                "fields[4].field_name",
                "is also the name of fields[0]",
            ),
            (
                with(&|m| {
                    m["fields"][2]["extra_cases"] =
                        json!([{"id": "a", "name": "A"}, {"id": "", "name": "B"}]);
                }),
                "fields[2].extra_cases[1].id",
                "must not be empty",
            ),
        ];
        for (value, path, message) in cases {
            let error = client_error(&value);
            assert_eq!(error.path, path, "{value}");
            assert!(
                error.message.starts_with(message),
                "{value}: {} does not start with {message}",
                error.message
            );
        }
    }
}
