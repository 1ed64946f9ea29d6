//! What to send to Framer: compares the rows wanted this run with what D1 believes Framer holds
//! (and, after a full read, what Framer really holds) and plans adds, updates and removals.
//!
//! Framer item ids are Notion page ids, so one id space covers Notion, D1 and Framer.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A Notion page id, which is also the Framer item id.
pub type PageId = String;

/// What one desired Framer item looks like, reduced to what planning needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemState {
    /// Hash of everything sent for the item (slug, draft flag, field data).
    pub hash: String,
    /// The item's slug; Framer rejects a whole import over one empty or duplicate slug.
    pub slug: String,
}

/// How much of the truth `desired` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// `desired` is every row that should be in Framer: anything else is removed.
    Full,
    /// `desired` holds only changed rows; only the listed pages are removed (deleted, trashed,
    /// or now filtered out). A page listed here is removed even if it is also in `desired`.
    Incremental {
        /// Pages to take out of Framer.
        removed: BTreeSet<PageId>,
    },
}

/// The writes that bring Framer to the desired state. Every list is sorted by page id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Desired pages D1 has never recorded as sent.
    pub add: Vec<PageId>,
    /// Recorded pages whose hash changed, or that Framer turned out not to have.
    pub update: Vec<PageId>,
    /// Pages to delete from Framer (and from D1).
    pub remove: Vec<PageId>,
    /// Desired pages that need no write.
    pub unchanged: usize,
}

impl Plan {
    /// True when the plan writes nothing.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.update.is_empty() && self.remove.is_empty()
    }

    /// The pages to upsert (adds then updates); Framer's addItems upserts both alike.
    pub fn upserts(&self) -> impl Iterator<Item = &PageId> {
        self.add.iter().chain(&self.update)
    }
}

/// Plans the writes for one sync run.
///
/// - `desired`: rows fetched this run that should be in Framer.
/// - `stored`: page id -> hash of what D1 believes Framer has.
/// - `framer_ids`: Framer's real item ids, when they were read this run. Desired items missing
///   from Framer are re-sent even when their hash matches, and in `Full` scope items Framer has
///   but nobody wants are removed. This repairs items added or deleted by hand; it cannot see
///   hand edits to the content of an item D1 tracks, since only ids are compared.
pub fn plan(
    desired: &BTreeMap<PageId, ItemState>,
    stored: &BTreeMap<PageId, String>,
    scope: &Scope,
    framer_ids: Option<&BTreeSet<PageId>>,
) -> Plan {
    let removed = match scope {
        Scope::Full => None,
        Scope::Incremental { removed } => Some(removed),
    };
    let mut result = Plan::default();
    for (id, item) in desired {
        if removed.is_some_and(|removed| removed.contains(id)) {
            continue;
        }
        let in_framer = framer_ids.is_none_or(|ids| ids.contains(id));
        match stored.get(id) {
            None => result.add.push(id.clone()),
            Some(hash) if *hash != item.hash || !in_framer => result.update.push(id.clone()),
            Some(_) => result.unchanged += 1,
        }
    }
    result.remove = match removed {
        None => full_removals(desired, stored, framer_ids),
        Some(removed) => incremental_removals(removed, stored, framer_ids),
    };
    result
}

/// Everything known to exist (in D1 or in Framer) that is not desired.
fn full_removals(
    desired: &BTreeMap<PageId, ItemState>,
    stored: &BTreeMap<PageId, String>,
    framer_ids: Option<&BTreeSet<PageId>>,
) -> Vec<PageId> {
    let known: BTreeSet<&PageId> = stored
        .keys()
        .chain(framer_ids.into_iter().flatten())
        .collect();
    known
        .into_iter()
        .filter(|id| !desired.contains_key(*id))
        .cloned()
        .collect()
}

/// The listed pages that exist somewhere; removing a page nobody ever sent would be a wasted call.
fn incremental_removals(
    removed: &BTreeSet<PageId>,
    stored: &BTreeMap<PageId, String>,
    framer_ids: Option<&BTreeSet<PageId>>,
) -> Vec<PageId> {
    removed
        .iter()
        .filter(|id| stored.contains_key(*id) || framer_ids.is_some_and(|ids| ids.contains(*id)))
        .cloned()
        .collect()
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

/// A slug Framer would reject, failing the whole import it is part of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlugProblem {
    /// The page has an empty (or whitespace-only) slug.
    Empty {
        /// The page with the empty slug.
        page_id: PageId,
    },
    /// Several pages share one slug.
    Duplicate {
        /// The shared slug.
        slug: String,
        /// Every page using it, sorted.
        page_ids: Vec<PageId>,
    },
}

impl fmt::Display for SlugProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty { page_id } => write!(f, "page {page_id} has an empty slug"),
            Self::Duplicate { slug, page_ids } => {
                write!(f, "slug \"{slug}\" is used by {} pages: ", page_ids.len())?;
                f.write_str(&page_ids.join(", "))
            }
        }
    }
}

impl std::error::Error for SlugProblem {}

/// Lists the slugs in `desired` that Framer would reject, so they can be reported (and their
/// pages held back) before anything is written. Empty slugs come first, then duplicates by slug.
///
/// In `Incremental` scope `desired` holds only changed rows, so a clash with an unchanged item
/// already in Framer is not visible here.
pub fn slug_problems(desired: &BTreeMap<PageId, ItemState>) -> Vec<SlugProblem> {
    let mut by_slug: BTreeMap<&str, Vec<PageId>> = BTreeMap::new();
    let mut problems = Vec::new();
    for (id, item) in desired {
        if item.slug.trim().is_empty() {
            problems.push(SlugProblem::Empty {
                page_id: id.clone(),
            });
        } else {
            by_slug.entry(&item.slug).or_default().push(id.clone());
        }
    }
    let duplicates =
        by_slug
            .into_iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(slug, page_ids)| SlugProblem::Duplicate {
                slug: slug.to_owned(),
                page_ids,
            });
    problems.extend(duplicates);
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type FramerState = BTreeMap<PageId, String>;

    fn item(hash: &str, slug: &str) -> ItemState {
        ItemState {
            hash: hash.to_owned(),
            slug: slug.to_owned(),
        }
    }

    fn ids(list: &[&str]) -> Vec<PageId> {
        list.iter().map(|id| (*id).to_owned()).collect()
    }

    fn set(list: &[&str]) -> BTreeSet<PageId> {
        ids(list).into_iter().collect()
    }

    fn desired_of(pairs: &[(&str, &str)]) -> BTreeMap<PageId, ItemState> {
        pairs
            .iter()
            .map(|(id, hash)| ((*id).to_owned(), item(hash, &format!("slug-{id}"))))
            .collect()
    }

    fn stored_of(pairs: &[(&str, &str)]) -> BTreeMap<PageId, String> {
        pairs
            .iter()
            .map(|(id, hash)| ((*id).to_owned(), (*hash).to_owned()))
            .collect()
    }

    /// What Framer holds after upserting the plan's adds and updates and deleting its removals.
    fn apply(
        framer: &FramerState,
        plan: &Plan,
        desired: &BTreeMap<PageId, ItemState>,
    ) -> FramerState {
        let mut result = framer.clone();
        for id in plan.upserts() {
            result.insert(id.clone(), desired[id].hash.clone());
        }
        for id in &plan.remove {
            result.remove(id);
        }
        result
    }

    #[test]
    fn full_scope_classifies_every_row() {
        let desired = desired_of(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]);
        let stored = stored_of(&[("b", "2"), ("c", "old"), ("d", "4"), ("gone", "9")]);
        let framer = set(&["b", "c", "gone", "stray"]);
        let result = plan(&desired, &stored, &Scope::Full, Some(&framer));
        assert_eq!(
            result,
            Plan {
                add: ids(&["a"]),
                update: ids(&["c", "d"]),
                remove: ids(&["gone", "stray"]),
                unchanged: 1,
            }
        );
    }

    #[test]
    fn full_scope_without_framer_ids_trusts_d1() {
        let desired = desired_of(&[("a", "1"), ("b", "2")]);
        let stored = stored_of(&[("b", "2"), ("gone", "9")]);
        let result = plan(&desired, &stored, &Scope::Full, None);
        assert_eq!(result.add, ids(&["a"]));
        assert!(result.update.is_empty());
        assert_eq!(result.remove, ids(&["gone"]));
        assert_eq!(result.unchanged, 1);
    }

    #[test]
    fn incremental_scope_removes_only_listed_known_pages() {
        let desired = desired_of(&[("a", "1"), ("b", "new"), ("both", "5")]);
        let stored = stored_of(&[("b", "2"), ("both", "5"), ("keep", "7"), ("del", "8")]);
        let scope = Scope::Incremental {
            removed: set(&["del", "both", "never-sent"]),
        };
        let result = plan(&desired, &stored, &scope, None);
        assert_eq!(
            result,
            Plan {
                add: ids(&["a"]),
                update: ids(&["b"]),
                remove: ids(&["both", "del"]),
                unchanged: 0,
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

    #[test]
    fn slug_problems_are_reported_clearly() {
        let mut desired = desired_of(&[("a", "1")]);
        desired.insert("b".into(), item("2", "same"));
        desired.insert("c".into(), item("3", "  "));
        desired.insert("d".into(), item("4", "same"));
        desired.insert("e".into(), item("5", "same"));
        let problems = slug_problems(&desired);
        assert_eq!(
            problems,
            vec![
                SlugProblem::Empty {
                    page_id: "c".into()
                },
                SlugProblem::Duplicate {
                    slug: "same".into(),
                    page_ids: ids(&["b", "d", "e"]),
                },
            ]
        );
        assert_eq!(problems[0].to_string(), "page c has an empty slug");
        assert_eq!(
            problems[1].to_string(),
            "slug \"same\" is used by 3 pages: b, d, e"
        );
        assert!(slug_problems(&desired_of(&[("x", "1"), ("y", "2")])).is_empty());
    }

    /// Small id and hash alphabets so that maps overlap often.
    fn id_strategy() -> impl Strategy<Value = PageId> {
        "[a-f]".prop_map(String::from)
    }

    fn hash_strategy() -> impl Strategy<Value = String> {
        "[0-2]".prop_map(String::from)
    }

    fn map_strategy() -> impl Strategy<Value = BTreeMap<PageId, String>> {
        prop::collection::btree_map(id_strategy(), hash_strategy(), 0..6)
    }

    fn desired_strategy() -> impl Strategy<Value = BTreeMap<PageId, ItemState>> {
        map_strategy().prop_map(|map| {
            map.into_iter()
                .map(|(id, hash)| {
                    let slug = format!("s-{id}");
                    (id, ItemState { hash, slug })
                })
                .collect()
        })
    }

    fn hashes(desired: &BTreeMap<PageId, ItemState>) -> FramerState {
        desired
            .iter()
            .map(|(id, item)| (id.clone(), item.hash.clone()))
            .collect()
    }

    /// Framer holds any set of items; the ones D1 tracks carry D1's hash, because content is only
    /// written by this sync (ids are all that `framer_ids` can reveal about drift).
    fn framer_state(
        stored: &BTreeMap<PageId, String>,
        extra: BTreeMap<PageId, String>,
        present: &BTreeSet<PageId>,
    ) -> FramerState {
        let tracked = stored
            .iter()
            .filter(|(id, _)| present.contains(*id))
            .map(|(id, hash)| (id.clone(), hash.clone()));
        let untracked = extra.into_iter().filter(|(id, _)| !stored.contains_key(id));
        tracked.chain(untracked).collect()
    }

    proptest! {
        #[test]
        fn full_plan_with_framer_ids_reaches_desired_state(
            desired in desired_strategy(),
            stored in map_strategy(),
            extra in map_strategy(),
            present in prop::collection::btree_set(id_strategy(), 0..6),
        ) {
            let framer = framer_state(&stored, extra, &present);
            let framer_ids: BTreeSet<PageId> = framer.keys().cloned().collect();
            let result = plan(&desired, &stored, &Scope::Full, Some(&framer_ids));
            prop_assert_eq!(apply(&framer, &result, &desired), hashes(&desired));
            prop_assert_eq!(
                result.add.len() + result.update.len() + result.unchanged,
                desired.len()
            );
        }

        #[test]
        fn incremental_plan_updates_stored_state(
            desired in desired_strategy(),
            stored in map_strategy(),
            removed in prop::collection::btree_set(id_strategy(), 0..4),
            pass_framer_ids in any::<bool>(),
        ) {
            let framer = stored.clone();
            let framer_ids: BTreeSet<PageId> = framer.keys().cloned().collect();
            let scope = Scope::Incremental { removed: removed.clone() };
            let result = plan(&desired, &stored, &scope, pass_framer_ids.then_some(&framer_ids));
            let mut expected = stored.clone();
            expected.extend(hashes(&desired));
            expected.retain(|id, _| !removed.contains(id));
            prop_assert_eq!(apply(&framer, &result, &desired), expected);
        }

        #[test]
        fn unchanged_state_sends_nothing(desired in desired_strategy(), incremental in any::<bool>()) {
            let stored = hashes(&desired);
            let framer_ids: BTreeSet<PageId> = stored.keys().cloned().collect();
            let scope = if incremental {
                Scope::Incremental { removed: BTreeSet::new() }
            } else {
                Scope::Full
            };
            for ids in [None, Some(&framer_ids)] {
                let result = plan(&desired, &stored, &scope, ids);
                prop_assert!(result.is_empty());
                prop_assert_eq!(result.unchanged, desired.len());
            }
        }

        #[test]
        fn plan_lists_are_sorted_and_disjoint(
            desired in desired_strategy(),
            stored in map_strategy(),
            framer in prop::option::of(prop::collection::btree_set(id_strategy(), 0..6)),
        ) {
            let result = plan(&desired, &stored, &Scope::Full, framer.as_ref());
            let mut all: Vec<&PageId> = Vec::new();
            for list in [&result.add, &result.update, &result.remove] {
                prop_assert!(list.windows(2).all(|pair| pair[0] < pair[1]));
                all.extend(list.iter());
            }
            let unique: BTreeSet<&PageId> = all.iter().copied().collect();
            prop_assert_eq!(unique.len(), all.len());
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
