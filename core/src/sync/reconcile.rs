//! What a run writes besides the rows themselves: which pages it takes out of Framer (the
//! deletion rule, run as SQL by the object's staging and checked against this function in
//! `sync/engine/staging_sql_tests.rs`), and how rows are cut into batches.
//!
//! Framer item ids are Notion page ids, so one id space covers Notion, D1 and Framer.

use crate::sync::engine::job::RowState;

/// What a run knows of one page once it has read Notion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageFacts {
    /// The state of the row the run staged for it; `None` when the run did not stage it.
    pub staged: Option<RowState>,
    /// D1 recorded it as written to Framer.
    pub stored: bool,
    /// Framer listed it among the collection's items (read on full runs only).
    pub in_framer: bool,
    /// The deletion guard held its removal earlier: `Some(kept)`, kept when the owner chose
    /// "Keep them".
    pub reviewed: Option<bool>,
}

/// Which of a run's removals a query asks for (the deletion guard splits them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalSet {
    /// Every removal but those the owner chose to keep.
    AllButKept,
    /// Every removal, reviewed or not (the owner asked for the held ones).
    All,
    /// Removals the owner reviewed (held or kept).
    Reviewed,
    /// Removals nobody reviewed yet.
    Unreviewed,
}

impl RemovalSet {
    pub fn contains(self, page: &PageFacts) -> bool {
        match self {
            Self::All => true,
            Self::AllButKept => page.reviewed != Some(true),
            Self::Reviewed => page.reviewed.is_some(),
            Self::Unreviewed => page.reviewed.is_none(),
        }
    }
}

/// What the deletion guard decides on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemovalCounts {
    /// Pages Framer holds for the project (recorded in D1, or listed by Framer on full runs).
    pub known: usize,
    /// Removals nobody reviewed.
    pub unreviewed: usize,
    /// Removals held by an earlier run, not decided on yet.
    pub held: usize,
    /// Removals the owner chose to keep.
    pub kept: usize,
}

/// The counts of [`is_removal`] over `pages`, by review.
pub fn removal_counts<'a>(
    pages: impl IntoIterator<Item = &'a PageFacts>,
    full: bool,
) -> RemovalCounts {
    let mut counts = RemovalCounts::default();
    for page in pages {
        if page.stored || page.in_framer {
            counts.known += 1;
        }
        if is_removal(page, full) {
            match page.reviewed {
                None => counts.unreviewed += 1,
                Some(false) => counts.held += 1,
                Some(true) => counts.kept += 1,
            }
        }
    }
    counts
}

/// The deletion rule: a page leaves Framer when D1 or Framer has it (removing what nobody ever
/// wrote would be a wasted call) and either its row was staged to be removed (deleted in Notion,
/// or held back by the publish filter) or, in a full run, the run did not see it at all. A row
/// staged in any other state (written, unchanged, skipped, waiting) is never removed.
pub fn is_removal(page: &PageFacts, full: bool) -> bool {
    let known = page.stored || page.in_framer;
    known
        && match page.staged {
            Some(RowState::Remove) => true,
            Some(_) => false,
            None => full,
        }
}

/// The first `limit` pages of `set` that [`is_removal`] takes out, in page id order, after
/// `after`.
pub fn removals<'a>(
    pages: impl IntoIterator<Item = (&'a str, PageFacts)>,
    full: bool,
    set: RemovalSet,
    after: Option<&str>,
    limit: usize,
) -> Vec<String> {
    let mut ids: Vec<String> = pages
        .into_iter()
        .filter(|(id, facts)| {
            is_removal(facts, full) && set.contains(facts) && after.is_none_or(|a| *id > a)
        })
        .map(|(id, _)| id.to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    ids.truncate(limit);
    ids
}

/// Splits items into batches of at most `max_items` items and `max_bytes` bytes (by `size_of`),
/// keeping their order. Never yields an empty batch; an item larger than `max_bytes` goes alone.
/// A `max_items` of 0 is treated as 1.
pub fn batches<T>(
    items: Vec<T>,
    size_of: impl Fn(&T) -> usize,
    max_items: usize,
    max_bytes: usize,
) -> Vec<Vec<T>> {
    let max_items = max_items.max(1);
    let mut result = Vec::new();
    let mut current: Vec<T> = Vec::new();
    let mut current_bytes = 0usize;
    for item in items {
        let size = size_of(&item);
        let full = current.len() >= max_items || current_bytes.saturating_add(size) > max_bytes;
        if full && !current.is_empty() {
            result.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current_bytes = current_bytes.saturating_add(size);
        current.push(item);
    }
    if !current.is_empty() {
        result.push(current);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn facts(staged: Option<RowState>, stored: bool, in_framer: bool) -> PageFacts {
        PageFacts {
            staged,
            stored,
            in_framer,
            reviewed: None,
        }
    }

    #[test]
    fn a_staged_removal_is_removed_when_known() {
        for full in [false, true] {
            assert!(is_removal(
                &facts(Some(RowState::Remove), true, false),
                full
            ));
            assert!(is_removal(
                &facts(Some(RowState::Remove), false, true),
                full
            ));
            assert!(!is_removal(
                &facts(Some(RowState::Remove), false, false),
                full
            ));
        }
    }

    #[test]
    fn an_unseen_page_is_removed_by_a_full_run_only() {
        assert!(is_removal(&facts(None, true, false), true));
        assert!(is_removal(&facts(None, false, true), true));
        assert!(!is_removal(&facts(None, true, true), false));
        assert!(!is_removal(&facts(None, false, false), true));
    }

    #[test]
    fn rows_staged_otherwise_are_kept() {
        for state in [
            RowState::Relations,
            RowState::Body,
            RowState::SlugWait,
            RowState::Write,
            RowState::Done,
            RowState::Skipped,
            RowState::Removed,
        ] {
            for full in [false, true] {
                assert!(
                    !is_removal(&facts(Some(state), true, true), full),
                    "{state:?}"
                );
            }
        }
    }

    #[test]
    fn removals_are_sorted_and_limited() {
        let pages = [
            ("c", facts(None, true, false)),
            ("a", facts(Some(RowState::Remove), true, false)),
            ("b", facts(None, false, true)),
            ("d", facts(Some(RowState::Done), true, true)),
        ];
        let all = RemovalSet::All;
        assert_eq!(removals(pages, true, all, None, 10), vec!["a", "b", "c"]);
        assert_eq!(removals(pages, true, all, None, 2), vec!["a", "b"]);
        assert_eq!(removals(pages, true, all, Some("a"), 2), vec!["b", "c"]);
        assert_eq!(removals(pages, false, all, None, 10), vec!["a"]);
    }

    #[test]
    fn the_guard_splits_removals_by_review() {
        let review = |reviewed| PageFacts {
            reviewed,
            ..facts(None, true, false)
        };
        let pages = [
            ("held", review(Some(false))),
            ("kept", review(Some(true))),
            ("new", review(None)),
            (
                "stays",
                PageFacts {
                    reviewed: Some(true),
                    ..facts(Some(RowState::Done), true, true)
                },
            ),
        ];
        let ids = |set| removals(pages, true, set, None, 10);
        assert_eq!(ids(RemovalSet::All), vec!["held", "kept", "new"]);
        assert_eq!(ids(RemovalSet::AllButKept), vec!["held", "new"]);
        assert_eq!(ids(RemovalSet::Reviewed), vec!["held", "kept"]);
        assert_eq!(ids(RemovalSet::Unreviewed), vec!["new"]);
        assert_eq!(
            removal_counts(pages.iter().map(|(_, p)| p), true),
            RemovalCounts {
                known: 4,
                unreviewed: 1,
                held: 1,
                kept: 1
            }
        );
        // An incremental run does not see unstaged pages: no removal, still known.
        assert_eq!(
            removal_counts(pages.iter().map(|(_, p)| p), false),
            RemovalCounts {
                known: 4,
                ..RemovalCounts::default()
            }
        );
    }

    #[test]
    fn batches_respect_count_and_byte_limits() {
        let items = vec![3usize, 3, 3, 10, 1, 1, 1, 1, 1];
        let result = batches(items, |n| *n, 3, 6);
        assert_eq!(
            result,
            vec![vec![3, 3], vec![3], vec![10], vec![1, 1, 1], vec![1, 1]]
        );
        assert!(batches(Vec::<usize>::new(), |n| *n, 3, 6).is_empty());
        assert_eq!(batches(vec![1, 2], |_| 0, 0, 0), vec![vec![1], vec![2]]);
    }

    pub(crate) fn any_state() -> impl Strategy<Value = Option<RowState>> {
        prop::option::of(prop_oneof![
            Just(RowState::Relations),
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

    proptest! {
        #[test]
        fn after_a_full_run_framer_holds_only_what_was_staged_to_stay(
            pages in prop::collection::vec((any_state(), any::<bool>(), any::<bool>()), 0..12),
        ) {
            let ids: Vec<String> = (0..pages.len()).map(|i| format!("p{i:02}")).collect();
            let all: Vec<(&str, PageFacts)> = ids
                .iter()
                .zip(&pages)
                .map(|(id, (staged, stored, in_framer))| (id.as_str(), facts(*staged, *stored, *in_framer)))
                .collect();
            let removed = removals(all.iter().copied(), true, RemovalSet::All, None, usize::MAX);
            for (id, page) in &all {
                let left = (page.stored || page.in_framer) && !removed.iter().any(|r| r == id);
                let stays = matches!(page.staged, Some(s) if s != RowState::Remove);
                // What is left in Framer was staged to stay; nothing staged to stay is removed.
                prop_assert!(!left || stays, "{id} left in Framer: {page:?}");
                prop_assert!(!(stays && removed.iter().any(|r| r == id)));
            }
            // An incremental run removes a subset: only rows it staged to remove.
            let incremental = removals(all.iter().copied(), false, RemovalSet::All, None, usize::MAX);
            prop_assert!(incremental.iter().all(|id| removed.contains(id)));
            for id in &incremental {
                let page = all.iter().find(|(i, _)| i == id).unwrap().1;
                prop_assert_eq!(page.staged, Some(RowState::Remove));
            }
        }

        #[test]
        fn batches_keep_order_and_limits(
            sizes in prop::collection::vec(0usize..20, 0..40),
            max_items in 0usize..6,
            max_bytes in 0usize..30,
        ) {
            let result = batches(sizes.clone(), |n| *n, max_items, max_bytes);
            let flat: Vec<usize> = result.iter().flatten().copied().collect();
            prop_assert_eq!(&flat, &sizes);
            for batch in &result {
                prop_assert!(!batch.is_empty());
                prop_assert!(batch.len() <= max_items.max(1));
                prop_assert!(batch.len() == 1 || batch.iter().sum::<usize>() <= max_bytes);
            }
            // Greedy: a batch was only closed because the next item did not fit.
            for pair in result.windows(2) {
                let closed_by_count = pair[0].len() == max_items.max(1);
                let closed_by_bytes = pair[0].iter().sum::<usize>() + pair[1][0] > max_bytes;
                prop_assert!(closed_by_count || closed_by_bytes);
            }
        }
    }
}
