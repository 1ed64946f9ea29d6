//! Decisions a sync run makes before and around its I/O: how much to read (full or
//! incremental), the per-project row options, which page bodies to re-fetch, and the
//! user-facing warnings. The edge engine only executes these.

use crate::notion::protocol::incremental_since;
use crate::project::PublishFilter as StoredFilter;
use crate::sync::row::{PublishFilter, PublishKind, RowOptions};

/// How much of the database a run reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunScope {
    /// Every row; anything else in Framer is removed.
    Full,
    /// Rows edited since `edited_since` (already includes the overlap).
    Incremental {
        /// RFC 3339 lower bound for `last_edited_time`.
        edited_since: String,
    },
}

/// What the scope decision looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeInputs {
    /// The batch asked for a full reconcile (manual run, schema change, too many pages).
    pub requested_full: bool,
    /// Start of the last successful run, if any.
    pub last_success_started_ms: Option<i64>,
    /// When the last full reconcile finished, if any.
    pub last_full_ms: Option<i64>,
    /// Now.
    pub now_ms: i64,
    /// A full reconcile is due once the last one is older than this.
    pub full_interval_ms: i64,
}

/// Full when asked, when nothing succeeded yet, or when the periodic reconcile is due (it is
/// what catches deletions that no event reported); incremental otherwise.
pub fn choose_scope(inputs: ScopeInputs) -> RunScope {
    let Some(last_success) = inputs.last_success_started_ms else {
        return RunScope::Full;
    };
    let full_due = inputs
        .last_full_ms
        .is_none_or(|last_full| inputs.now_ms - last_full >= inputs.full_interval_ms);
    if inputs.requested_full || full_due {
        RunScope::Full
    } else {
        RunScope::Incremental {
            edited_since: incremental_since(last_success),
        }
    }
}

/// The mapping options of a project from its settings.
pub fn row_options(
    slug_property: Option<&str>,
    publish_filter: Option<&StoredFilter>,
) -> RowOptions {
    RowOptions {
        slug_property: slug_property.filter(|s| !s.is_empty()).map(str::to_owned),
        publish_filter: publish_filter.cloned().map(|filter| match filter {
            StoredFilter::Checkbox { property_id } => PublishFilter {
                property_id,
                kind: PublishKind::Checkbox,
            },
            StoredFilter::Status {
                property_id,
                values,
                option_ids,
            } => PublishFilter {
                property_id,
                // Option ids first: they survive a rename in Notion.
                kind: PublishKind::StatusIn(option_ids.into_iter().chain(values).collect()),
            },
        }),
    }
}

/// A page body is fetched again only when the row was edited since it was last synced.
pub fn body_needed(previous_last_edited: Option<&str>, current_last_edited: &str) -> bool {
    previous_last_edited != Some(current_last_edited) || current_last_edited.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn inputs() -> ScopeInputs {
        ScopeInputs {
            requested_full: false,
            last_success_started_ms: Some(1_733_443_025_379),
            last_full_ms: Some(1_733_443_025_379),
            now_ms: 1_733_443_025_379 + 60_000,
            full_interval_ms: DAY,
        }
    }

    #[test]
    fn scope_is_incremental_with_overlap_when_nothing_forces_full() {
        assert_eq!(
            choose_scope(inputs()),
            RunScope::Incremental {
                edited_since: "2024-12-05T23:55:05.379Z".into()
            }
        );
    }

    #[test]
    fn scope_is_full_when_asked_first_or_due() {
        assert_eq!(
            choose_scope(ScopeInputs {
                requested_full: true,
                ..inputs()
            }),
            RunScope::Full
        );
        assert_eq!(
            choose_scope(ScopeInputs {
                last_success_started_ms: None,
                ..inputs()
            }),
            RunScope::Full
        );
        assert_eq!(
            choose_scope(ScopeInputs {
                last_full_ms: None,
                ..inputs()
            }),
            RunScope::Full
        );
        let due = ScopeInputs {
            now_ms: inputs().last_full_ms.unwrap() + DAY,
            ..inputs()
        };
        assert_eq!(choose_scope(due), RunScope::Full);
        let not_yet = ScopeInputs {
            now_ms: inputs().last_full_ms.unwrap() + DAY - 1,
            ..inputs()
        };
        assert!(matches!(
            choose_scope(not_yet),
            RunScope::Incremental { .. }
        ));
    }

    #[test]
    fn row_options_from_stored_columns() {
        let checkbox = row_options(
            Some("slug%3A"),
            Some(&StoredFilter::Checkbox {
                property_id: "pub".into(),
            }),
        );
        assert_eq!(checkbox.slug_property.as_deref(), Some("slug%3A"));
        assert_eq!(
            checkbox.publish_filter,
            Some(PublishFilter {
                property_id: "pub".into(),
                kind: PublishKind::Checkbox
            })
        );
        let status = row_options(
            None,
            Some(&StoredFilter::Status {
                property_id: "st".into(),
                values: vec!["Done".into(), "Live".into()],
                option_ids: Vec::new(),
            }),
        );
        assert_eq!(
            status.publish_filter,
            Some(PublishFilter {
                property_id: "st".into(),
                kind: PublishKind::StatusIn(vec!["Done".into(), "Live".into()])
            })
        );
        assert_eq!(row_options(Some(""), None), RowOptions::default());
    }

    #[test]
    fn bodies_are_refetched_only_for_edited_rows() {
        assert!(body_needed(None, "2024-01-01T00:00:00.000Z"));
        assert!(body_needed(
            Some("2024-01-01T00:00:00.000Z"),
            "2024-01-01T00:01:00.000Z"
        ));
        assert!(!body_needed(
            Some("2024-01-01T00:00:00.000Z"),
            "2024-01-01T00:00:00.000Z"
        ));
        assert!(body_needed(Some(""), ""));
    }
}
