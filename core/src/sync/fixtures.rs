//! Test fixtures: the mapping a project over [`crate::notion::fixtures`] starts with.

use std::collections::BTreeMap;

use crate::notion::fixtures::{schema, AUTHORS_DS};
use crate::sync::mapping::{default_mapping, FieldMapping, Mapping, SyncedCollections};

/// The Authors data source is synced into the `authorsColl` collection.
pub fn synced() -> SyncedCollections {
    BTreeMap::from([(AUTHORS_DS.to_string(), "authorsColl".to_string())])
}

/// The default mapping of the fixture schema.
pub fn mapping() -> Mapping {
    default_mapping(&schema(), &synced())
}

/// The field of `property_id` (which must be mapped).
pub fn field<'a>(mapping: &'a Mapping, property_id: &str) -> &'a FieldMapping {
    mapping.field_for_property(property_id).unwrap()
}
