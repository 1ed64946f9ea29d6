//! References that never dangle: a reference field may only point at items its target
//! collection holds. What a row wants to reference is read from its item; ids the target does
//! not hold (not synced yet, held back by its publish filter, trashed) are dropped from the item
//! and returned, so that the run remembers them for the row and the target's run, once it adds
//! them, asks for the row again.

use std::collections::{BTreeMap, BTreeSet};

use crate::framer::cms::FieldValue;
use crate::notion::schema::{PropertyKind, Schema};
use crate::sync::mapping::Mapping;

/// Reference fields of a mapping: Framer field id -> the collection it points into.
pub fn reference_fields(mapping: &Mapping) -> BTreeMap<String, String> {
    mapping
        .fields
        .iter()
        .filter(|f| f.enabled && f.effective_kind().is_reference())
        .filter_map(|f| Some((f.field_id.clone(), f.collection_id.clone()?)))
        .collect()
}

/// The page ids a row's reference fields point at, per target collection.
pub fn wanted(
    fields: &BTreeMap<String, FieldValue>,
    references: &BTreeMap<String, String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (field_id, collection) in references {
        let ids: Vec<&String> = match fields.get(field_id) {
            Some(FieldValue::MultiCollectionReference(ids)) => ids.iter().collect(),
            Some(FieldValue::CollectionReference(Some(id))) => vec![id],
            _ => continue,
        };
        wanted
            .entry(collection.clone())
            .or_default()
            .extend(ids.into_iter().cloned());
    }
    wanted
}

/// Keeps in each reference field only the ids its collection holds (`held`: collection -> ids,
/// a collection missing from it holds nothing), in their order; returns what was dropped as
/// `(collection, page id)`, each once.
pub fn keep_held(
    fields: &mut BTreeMap<String, FieldValue>,
    references: &BTreeMap<String, String>,
    held: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeSet<(String, String)> {
    let mut dropped = BTreeSet::new();
    let empty = BTreeSet::new();
    for (field_id, collection) in references {
        let holds = held.get(collection).unwrap_or(&empty);
        let mut keep = |id: &String| {
            let kept = holds.contains(id);
            if !kept {
                dropped.insert((collection.clone(), id.clone()));
            }
            kept
        };
        match fields.get_mut(field_id) {
            Some(FieldValue::MultiCollectionReference(ids)) => ids.retain(&mut keep),
            Some(FieldValue::CollectionReference(slot))
                if slot.as_ref().is_some_and(|id| !keep(id)) =>
            {
                *slot = None;
            }
            _ => {}
        }
    }
    dropped
}

/// Whether a row should wait before it is written: some page it references in a collection of
/// `running` (whose project has a run in flight that may still add it) is not held yet.
/// Written now, the reference would be left out and the row written twice.
pub fn waits_for(
    fields: &BTreeMap<String, FieldValue>,
    references: &BTreeMap<String, String>,
    held: &BTreeMap<String, BTreeSet<String>>,
    running: &BTreeSet<String>,
) -> bool {
    wanted(fields, references)
        .into_iter()
        .filter(|(collection, _)| running.contains(collection))
        .any(|(collection, ids)| {
            let holds = held.get(&collection);
            ids.iter().any(|id| !holds.is_some_and(|h| h.contains(id)))
        })
}

/// Reference fields of two-way relations (Notion's `dual_property`): field id -> collection.
/// When one side changes, Notion changes the other side's pages without editing them, so a
/// run that sees a row's relation change asks for the pages it gained or lost.
pub fn two_way_fields(mapping: &Mapping, schema: &Schema) -> BTreeMap<String, String> {
    let references = reference_fields(mapping);
    mapping
        .fields
        .iter()
        .filter(|f| {
            matches!(
                schema.property(&f.property_id).map(|p| &p.kind),
                Some(PropertyKind::Relation { dual: true, .. })
            )
        })
        .filter_map(|f| Some((f.field_id.clone(), references.get(&f.field_id)?.clone())))
        .collect()
}

/// The related pages a relation gained or lost, each once.
pub fn changed(before: &[String], now: &[String]) -> BTreeSet<String> {
    let before: BTreeSet<&String> = before.iter().collect();
    let now: BTreeSet<&String> = now.iter().collect();
    before
        .symmetric_difference(&now)
        .map(|id| (*id).clone())
        .collect()
}

/// The ids a reference value holds.
pub fn ids_of(value: Option<&FieldValue>) -> Vec<String> {
    match value {
        Some(FieldValue::MultiCollectionReference(ids)) => ids.clone(),
        Some(FieldValue::CollectionReference(Some(id))) => vec![id.clone()],
        _ => Vec::new(),
    }
}

/// Pages another project should read again, by project: what a run owes once it is over.
pub type Refreshes = BTreeMap<String, BTreeSet<String>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn refs() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("tags".to_owned(), "c-tags".to_owned()),
            ("author".to_owned(), "c-people".to_owned()),
        ])
    }

    fn fields(tags: &[&str], author: Option<&str>) -> BTreeMap<String, FieldValue> {
        BTreeMap::from([
            (
                "tags".to_owned(),
                FieldValue::MultiCollectionReference(
                    tags.iter().map(|s| (*s).to_owned()).collect(),
                ),
            ),
            (
                "author".to_owned(),
                FieldValue::CollectionReference(author.map(str::to_owned)),
            ),
            ("title".to_owned(), FieldValue::String("t".into())),
        ])
    }

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn wanted_ids_are_grouped_by_target_collection() {
        let got = wanted(&fields(&["a", "b"], Some("p")), &refs());
        assert_eq!(got["c-tags"], set(&["a", "b"]));
        assert_eq!(got["c-people"], set(&["p"]));
        assert!(!wanted(&fields(&[], None), &refs()).contains_key("c-people"));
    }

    #[test]
    fn a_row_waits_only_for_a_running_target_that_lacks_one_of_its_pages() {
        let row = fields(&["a", "b"], Some("p"));
        let held = BTreeMap::from([("c-tags".to_owned(), set(&["a"]))]);
        // Tags still lacks "b" and its run may add it.
        assert!(waits_for(&row, &refs(), &held, &set(&["c-tags"])));
        // Only People runs, and it lacks "p".
        assert!(waits_for(&row, &refs(), &held, &set(&["c-people"])));
        // Nothing runs: the row is written with what is held.
        assert!(!waits_for(&row, &refs(), &held, &BTreeSet::new()));
        // Tags runs but holds every tag the row wants.
        let all = BTreeMap::from([("c-tags".to_owned(), set(&["a", "b"]))]);
        assert!(!waits_for(&row, &refs(), &all, &set(&["c-tags"])));
        // A row with no reference into the running collection never waits for it.
        assert!(!waits_for(
            &fields(&[], Some("p")),
            &refs(),
            &held,
            &set(&["c-tags"])
        ));
    }

    #[test]
    fn ids_the_target_does_not_hold_are_dropped_in_order_and_returned() {
        let mut row = fields(&["a", "x", "b", "y"], Some("gone"));
        let held = BTreeMap::from([("c-tags".to_owned(), set(&["a", "b", "c"]))]);
        let dropped = keep_held(&mut row, &refs(), &held);
        assert_eq!(
            row["tags"],
            FieldValue::MultiCollectionReference(vec!["a".into(), "b".into()])
        );
        assert_eq!(row["author"], FieldValue::CollectionReference(None));
        assert_eq!(row["title"], FieldValue::String("t".into()));
        let dropped: Vec<(&str, &str)> = dropped
            .iter()
            .map(|(c, p)| (c.as_str(), p.as_str()))
            .collect();
        assert_eq!(
            dropped,
            vec![("c-people", "gone"), ("c-tags", "x"), ("c-tags", "y")]
        );
    }

    #[test]
    fn a_relation_change_is_what_it_gained_and_what_it_lost() {
        let ids = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            changed(&ids(&["a", "b"]), &ids(&["b", "c"])),
            set(&["a", "c"])
        );
        assert!(
            changed(&ids(&["a", "b"]), &ids(&["b", "a"])).is_empty(),
            "order is no change"
        );
        assert_eq!(changed(&[], &ids(&["x"])), set(&["x"]));
    }

    #[test]
    fn a_row_whose_targets_hold_everything_is_left_as_it_was() {
        let mut row = fields(&["a"], Some("p"));
        let before = row.clone();
        let held = BTreeMap::from([
            ("c-tags".to_owned(), set(&["a"])),
            ("c-people".to_owned(), set(&["p"])),
        ]);
        assert!(keep_held(&mut row, &refs(), &held).is_empty());
        assert_eq!(row, before);
    }
}
