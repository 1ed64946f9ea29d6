//! The staging's SQL (`staging_sql`), run natively on an embedded SQLite exactly as the Durable
//! Object runs it, against the pure rules it implements.

use super::job::{RowState, StagedRow, StoredItem};
use super::memory::MemStaging;
use super::ports::Staging;
use crate::sync::reconcile::{self, PageFacts, RemovalSet};
use crate::sync::slug::Holder;
use proptest::prelude::*;

fn stored(page_id: &str, slug: &str) -> StoredItem {
    StoredItem {
        page_id: page_id.into(),
        slug: slug.into(),
        slug_source: String::new(),
        content_hash: "h".into(),
        last_edited_time: None,
        fields_hash: None,
    }
}

fn row(seq: u64, page_id: &str, state: RowState, slug: &str) -> StagedRow {
    StagedRow {
        slug: slug.into(),
        ..StagedRow::marker(seq, page_id.into(), state)
    }
}

fn any_state() -> impl Strategy<Value = Option<RowState>> {
    prop::option::of(prop_oneof![
        Just(RowState::Relations),
        Just(RowState::Body),
        Just(RowState::SlugWait),
        Just(RowState::Write),
        Just(RowState::Done),
        Just(RowState::Skipped),
        Just(RowState::Remove),
        Just(RowState::Removed),
    ])
}

/// Stages `pages` (staged state, in D1, in Framer) and returns their ids.
fn staged(staging: &MemStaging, pages: &[(Option<RowState>, bool, bool)]) -> Vec<String> {
    let ids: Vec<String> = (0..pages.len()).map(|i| format!("p{i:02}")).collect();
    for (n, (id, (state, in_d1, in_framer))) in ids.iter().zip(pages).enumerate() {
        if let Some(state) = state {
            staging.put_rows(&[row(n as u64, id, *state, "")]).unwrap();
        }
        if *in_d1 {
            staging
                .record_items(&[stored(id, &format!("s-{id}"))])
                .unwrap();
        }
        if *in_framer {
            staging.put_framer_ids(std::slice::from_ref(id)).unwrap();
        }
    }
    ids
}

#[test]
fn the_removal_statements_on_known_cases() {
    let staging = MemStaging::default();
    let ids = staged(
        &staging,
        &[
            (Some(RowState::Remove), true, false), // p00: deleted in Notion
            (Some(RowState::Remove), false, false), // p01: never written
            (None, true, false),                   // p02: not seen, in D1
            (None, false, true),                   // p03: not seen, in Framer only
            (Some(RowState::Done), true, true),    // p04: unchanged
            (Some(RowState::Skipped), true, true), // p05: Framer keeps it
            (Some(RowState::SlugWait), true, true), // p06: waits for its slug
        ],
    );
    assert_eq!(ids.len(), 7);
    let removals = |full, limit| ids_of(staging.removals(full, RemovalSet::All, None, limit));
    assert_eq!(removals(false, 100), vec!["p00"]);
    assert_eq!(removals(true, 100), vec!["p00", "p02", "p03"]);
    assert_eq!(removals(true, 2), vec!["p00", "p02"]);
    // Paged by page id; titles: the row's, else the stored slug.
    assert_eq!(
        staging
            .removals(true, RemovalSet::All, Some("p00"), 1)
            .unwrap(),
        vec![("p02".to_owned(), "s-p02".to_owned())]
    );
}

fn ids_of(found: Result<Vec<(String, String)>, super::failure::StepError>) -> Vec<String> {
    found.unwrap().into_iter().map(|(id, _)| id).collect()
}

fn any_review() -> impl Strategy<Value = Option<bool>> {
    prop::option::of(any::<bool>())
}

fn any_set() -> impl Strategy<Value = RemovalSet> {
    prop_oneof![
        Just(RemovalSet::All),
        Just(RemovalSet::AllButKept),
        Just(RemovalSet::Reviewed),
        Just(RemovalSet::Unreviewed),
    ]
}

#[test]
fn the_guards_statements_on_known_cases() {
    let staging = MemStaging::default();
    staged(
        &staging,
        &[
            (None, true, false),                // p00: gone, held earlier
            (None, true, false),                // p01: gone, kept by the owner
            (None, true, false),                // p02: gone, never reviewed
            (Some(RowState::Done), true, true), // p03: back in Notion, was held
        ],
    );
    staging
        .put_reviewed(&[
            ("p00".into(), false),
            ("p01".into(), true),
            ("p03".into(), false),
        ])
        .unwrap();
    let set = |set| ids_of(staging.removals(true, set, None, 100));
    assert_eq!(set(RemovalSet::AllButKept), vec!["p00", "p02"]);
    assert_eq!(set(RemovalSet::Reviewed), vec!["p00", "p01"]);
    assert_eq!(set(RemovalSet::Unreviewed), vec!["p02"]);
    let counts = staging.removal_counts(true).unwrap();
    assert_eq!(
        (counts.known, counts.unreviewed, counts.held, counts.kept),
        (4, 1, 1, 1)
    );
    assert_eq!(staging.reviewed_moot(true).unwrap(), vec!["p03"]);
}

proptest! {
    #[test]
    fn the_removal_statements_implement_the_deletion_rule(
        pages in prop::collection::vec((any_state(), any::<bool>(), any::<bool>(), any_review()), 0..16),
        full in any::<bool>(),
        set in any_set(),
        after in prop::option::of(0usize..16),
        limit in 1usize..20,
    ) {
        let staging = MemStaging::default();
        let plain: Vec<_> = pages.iter().map(|(s, d, f, _)| (*s, *d, *f)).collect();
        let ids = staged(&staging, &plain);
        let reviewed: Vec<(String, bool)> = ids
            .iter()
            .zip(&pages)
            .filter_map(|(id, (_, _, _, review))| review.map(|kept| (id.clone(), kept)))
            .collect();
        staging.put_reviewed(&reviewed).unwrap();
        let facts: Vec<(&str, PageFacts)> = ids.iter().zip(&pages).map(|(id, (state, in_d1, in_framer, reviewed))| {
            (id.as_str(), PageFacts { staged: *state, stored: *in_d1, in_framer: *in_framer, reviewed: *reviewed })
        }).collect();
        let after = after.map(|n| format!("p{n:02}"));
        let expected = reconcile::removals(facts.iter().copied(), full, set, after.as_deref(), limit);
        prop_assert_eq!(ids_of(staging.removals(full, set, after.as_deref(), limit)), expected);
        let counts = staging.removal_counts(full).unwrap();
        prop_assert_eq!(counts, reconcile::removal_counts(facts.iter().map(|(_, f)| f), full));
    }
}

#[test]
fn slug_holders_while_reading_and_once_reading_is_over() {
    let staging = MemStaging::default();
    staging
        .record_items(&[
            stored("renamed", "old"),
            stored("written", "was"),
            stored("skipped", "kept"),
            stored("unseen", "there"),
            stored("waiting", "mine"),
            stored("removed", "gone"),
            stored("to-remove", "held"),
        ])
        .unwrap();
    staging
        .put_rows(&[
            row(1, "renamed", RowState::Write, "new"),
            row(2, "written", RowState::Done, "now"),
            row(3, "skipped", RowState::Skipped, ""),
            row(4, "waiting", RowState::SlugWait, "wanted"),
            row(5, "removed", RowState::Removed, ""),
            row(6, "to-remove", RowState::Remove, ""),
        ])
        .unwrap();
    let holder = |slug: &str, final_: bool| staging.slug_holder(slug, "me", final_).unwrap();
    for final_ in [false, true] {
        assert_eq!(holder("new", final_), Some(Holder::Given));
        assert_eq!(holder("now", final_), Some(Holder::Given));
        assert_eq!(holder("wanted", final_), Some(Holder::Wanted));
        // Written this run with another slug, or removed: the old one is free.
        assert_eq!(holder("was", final_), None);
        assert_eq!(holder("gone", final_), None);
        // Framer keeps a skipped row, an unseen page and a page still to remove as they are.
        assert_eq!(holder("kept", final_), Some(Holder::Item));
        assert_eq!(holder("there", final_), Some(Holder::Item));
        assert_eq!(holder("held", final_), Some(Holder::Item));
        assert_eq!(holder("free", final_), None);
    }
    // A row not written yet, or waiting, still holds its old slug in Framer while reading; once
    // reading is over it is written in the batches to come.
    assert_eq!(holder("old", false), Some(Holder::Item));
    assert_eq!(holder("mine", false), Some(Holder::Item));
    assert_eq!(holder("old", true), None);
    assert_eq!(holder("mine", true), None);
    // A page never holds a slug against itself; a given slug wins over the rest.
    assert_eq!(staging.slug_holder("new", "renamed", false).unwrap(), None);
    staging
        .put_rows(&[row(7, "other", RowState::Write, "kept")])
        .unwrap();
    assert_eq!(holder("kept", false), Some(Holder::Given));
}
