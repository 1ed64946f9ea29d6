//! A project as the webhook, the sync and the API read it: typed once from its storage row
//! (flags as bools, the plan and modes as enums, JSON columns parsed), so that no caller compares
//! strings or integers to learn what a project wants.

use crate::sync::guard::ProjectGuard;
use crate::sync::mapping::Mapping;
use serde::Deserialize;
use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// What an account pays for: auto-sync and auto-publish need `Paid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Free,
    Paid,
}

impl Plan {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "free" => Some(Self::Free),
            "paid" => Some(Self::Paid),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Paid => "paid",
        }
    }
}

/// How rows that fail the publish filter are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnpublishedMode {
    Remove,
    Draft,
}

impl UnpublishedMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Remove => "remove",
            Self::Draft => "draft",
        }
    }
}

/// Which rows go live: a checkbox that must be ticked, or a status/select among some values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PublishFilter {
    Checkbox {
        property_id: String,
    },
    Status {
        property_id: String,
        values: Vec<String>,
        /// Notion's ids of `values`, resolved against the schema when the filter was saved:
        /// an option renamed in Notion still matches.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        option_ids: Vec<String>,
    },
}

impl PublishFilter {
    pub fn property_id(&self) -> &str {
        match self {
            Self::Checkbox { property_id } | Self::Status { property_id, .. } => property_id,
        }
    }
}

/// Where the Notion webhook subscription of a project stands in the setup flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookStatus {
    SetupRequired,
    TokenReceived,
    Active,
}

impl WebhookStatus {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "setup_required" => Some(Self::SetupRequired),
            "token_received" => Some(Self::TokenReceived),
            "active" => Some(Self::Active),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SetupRequired => "setup_required",
            Self::TokenReceived => "token_received",
            Self::Active => "active",
        }
    }
}

/// The stored mapping: the JSON as stored (what the API shows back) and what the sync makes of
/// it. A mapping this version cannot read is kept, and the sync says why it fell back.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMapping {
    /// `Null` when the column does not even hold JSON.
    pub json: Value,
    pub parsed: Result<Mapping, String>,
}

impl StoredMapping {
    fn parse(text: &str) -> Self {
        Self {
            json: serde_json::from_str(text).unwrap_or(Value::Null),
            parsed: serde_json::from_str(text).map_err(|e| e.to_string()),
        }
    }

    pub fn mapping(&self) -> Option<&Mapping> {
        self.parsed.as_ref().ok()
    }
}

/// The project's webhook subscription, from the `webhooks` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub status: WebhookStatus,
    pub verification_token_enc: Option<String>,
    pub token_received_at: Option<String>,
    pub activated_at: Option<String>,
    pub last_event_at: Option<String>,
    pub events_received: i64,
    pub events_ignored: i64,
    /// A newer verification token, waiting for the owner's confirmation or an event signed
    /// with it: until then the current token keeps working.
    pub pending_token_enc: Option<String>,
    pub pending_token_received_at: Option<String>,
    /// The key of a rotated webhook URL, answering beside the current one until confirmed.
    pub next_webhook_key: Option<String>,
    /// When Notion's verification request reached the rotated URL.
    pub next_key_verified_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub plan: Plan,
    pub notion_token_enc: String,
    pub notion_token_hint: String,
    pub notion_database_id: String,
    /// The database's data sources as the last full sync found them (empty before).
    pub notion_data_source_ids: Vec<String>,
    /// The data source the project syncs (the database's first, until chosen otherwise).
    pub notion_data_source_id: Option<String>,
    pub framer_project_url: String,
    pub framer_api_key_enc: String,
    pub framer_api_key_hint: String,
    pub framer_collection_name: String,
    pub framer_collection_id: Option<String>,
    pub mapping: Option<StoredMapping>,
    pub slug_property: Option<String>,
    pub publish_filter: Option<PublishFilter>,
    /// Why the stored filter cannot be read, when it cannot: runs then fail closed instead of
    /// publishing every row.
    pub publish_filter_error: Option<String>,
    pub unpublished_mode: UnpublishedMode,
    pub page_body: bool,
    /// The deletion guard holds large removals for review (see `sync::guard`).
    pub deletion_guard: ProjectGuard,
    /// Bumped by every change the owner saves: the writes a run makes to the project are
    /// compare-and-swaps against the version it started from.
    pub config_version: i64,
    /// What the project asked for; whether it runs also depends on the plan.
    pub auto_sync: bool,
    pub auto_publish: bool,
    pub webhook_key: String,
    pub last_full_sync_at: Option<String>,
    /// Items Framer holds for the project, as its object counted them when the last run ended.
    pub items_in_framer: i64,
    /// When the newest successful run started (the next incremental run reads edits since).
    pub last_success_started_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub webhook: Webhook,
}

impl Project {
    pub fn paid(&self) -> bool {
        self.plan == Plan::Paid
    }

    /// Auto-sync runs only when the project wants it and the plan allows it.
    pub fn auto_sync_active(&self) -> bool {
        self.auto_sync && self.paid()
    }

    pub fn auto_publish_active(&self) -> bool {
        self.auto_publish && self.paid()
    }

    /// The project wants automation its plan does not include.
    pub fn paused_by_plan(&self) -> bool {
        !self.paid() && (self.auto_sync || self.auto_publish)
    }
}

/// A `projects` row joined with its account's plan and its `webhooks` row, as stored.
#[derive(Debug, Clone, Deserialize)]
pub struct ProjectRow {
    pub id: String,
    pub name: String,
    pub notion_token_enc: String,
    pub notion_token_hint: String,
    pub notion_database_id: String,
    pub notion_data_source_ids: String,
    #[serde(default)]
    pub notion_data_source_id: Option<String>,
    pub framer_project_url: String,
    pub framer_api_key_enc: String,
    pub framer_api_key_hint: String,
    pub framer_collection_name: String,
    pub framer_collection_id: Option<String>,
    pub mapping: Option<String>,
    pub slug_property: Option<String>,
    pub publish_filter: Option<String>,
    pub unpublished_mode: String,
    pub page_body: i64,
    #[serde(default = "guard_on")]
    pub deletion_guard: i64,
    #[serde(default)]
    pub deletion_guard_percent: Option<i64>,
    #[serde(default)]
    pub config_version: i64,
    pub auto_sync: i64,
    pub auto_publish: i64,
    pub webhook_key: String,
    pub last_full_sync_at: Option<String>,
    /// Items Framer holds for the project, as its object counted them when the last run ended.
    #[serde(default)]
    pub items_in_framer: i64,
    #[serde(default)]
    pub last_success_started_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub plan: String,
    pub webhook_status: String,
    pub verification_token_enc: Option<String>,
    pub token_received_at: Option<String>,
    pub activated_at: Option<String>,
    pub last_event_at: Option<String>,
    pub events_received: i64,
    pub events_ignored: i64,
    pub pending_token_enc: Option<String>,
    pub pending_token_received_at: Option<String>,
    pub next_webhook_key: Option<String>,
    pub next_key_verified_at: Option<String>,
}

/// A stored value outside what its column allows (the schema's CHECKs forbid it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRowError {
    pub column: &'static str,
    pub value: String,
}

impl fmt::Display for ProjectRowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stored {} {:?} is not one this version knows",
            self.column, self.value
        )
    }
}

impl std::error::Error for ProjectRowError {}

impl TryFrom<ProjectRow> for Project {
    type Error = ProjectRowError;

    fn try_from(row: ProjectRow) -> Result<Self, Self::Error> {
        let bad = |column: &'static str, value: &str| ProjectRowError {
            column,
            value: value.to_owned(),
        };
        let plan = Plan::parse(&row.plan).ok_or_else(|| bad("plan", &row.plan))?;
        let status = WebhookStatus::parse(&row.webhook_status)
            .ok_or_else(|| bad("webhook status", &row.webhook_status))?;
        let unpublished_mode = match row.unpublished_mode.as_str() {
            "remove" => UnpublishedMode::Remove,
            "draft" => UnpublishedMode::Draft,
            other => return Err(bad("unpublished_mode", other)),
        };
        Ok(Self {
            id: row.id,
            name: row.name,
            plan,
            notion_token_enc: row.notion_token_enc,
            notion_token_hint: row.notion_token_hint,
            notion_database_id: row.notion_database_id,
            // Written only by the sync, as a JSON array; unreadable reads as "not resolved yet".
            notion_data_source_ids: serde_json::from_str(&row.notion_data_source_ids)
                .unwrap_or_default(),
            framer_project_url: row.framer_project_url,
            framer_api_key_enc: row.framer_api_key_enc,
            framer_api_key_hint: row.framer_api_key_hint,
            framer_collection_name: row.framer_collection_name,
            framer_collection_id: row.framer_collection_id,
            mapping: row.mapping.as_deref().map(StoredMapping::parse),
            slug_property: row.slug_property,
            notion_data_source_id: row.notion_data_source_id,
            // Written only by the API after validation; unreadable fails the project's runs.
            publish_filter_error: row
                .publish_filter
                .as_deref()
                .and_then(|text| serde_json::from_str::<PublishFilter>(text).err())
                .map(|e| e.to_string()),
            publish_filter: row
                .publish_filter
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok()),
            unpublished_mode,
            page_body: row.page_body != 0,
            deletion_guard: ProjectGuard {
                enabled: row.deletion_guard != 0,
                percent: row
                    .deletion_guard_percent
                    .and_then(|p| u32::try_from(p).ok()),
            },
            config_version: row.config_version,
            auto_sync: row.auto_sync != 0,
            auto_publish: row.auto_publish != 0,
            webhook_key: row.webhook_key,
            last_full_sync_at: row.last_full_sync_at,
            items_in_framer: row.items_in_framer,
            last_success_started_at: row.last_success_started_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            webhook: Webhook {
                status,
                verification_token_enc: row.verification_token_enc,
                token_received_at: row.token_received_at,
                activated_at: row.activated_at,
                last_event_at: row.last_event_at,
                events_received: row.events_received,
                events_ignored: row.events_ignored,
                pending_token_enc: row.pending_token_enc,
                pending_token_received_at: row.pending_token_received_at,
                next_webhook_key: row.next_webhook_key,
                next_key_verified_at: row.next_key_verified_at,
            },
        })
    }
}

fn guard_on() -> i64 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::ApiError;

    fn row() -> ProjectRow {
        ProjectRow {
            id: "p1".into(),
            name: "Blog".into(),
            notion_token_enc: "enc1".into(),
            notion_token_hint: "ntn_…cdef".into(),
            notion_database_id: "db".into(),
            notion_data_source_ids: r#"["ds1","ds2"]"#.into(),
            notion_data_source_id: None,
            framer_project_url: "https://framer.com/projects/x".into(),
            framer_api_key_enc: "enc2".into(),
            framer_api_key_hint: "fr_…cdef".into(),
            framer_collection_name: "Posts".into(),
            framer_collection_id: None,
            mapping: None,
            slug_property: Some("slug".into()),
            publish_filter: Some(r#"{"kind":"checkbox","property_id":"pub"}"#.into()),
            unpublished_mode: "draft".into(),
            page_body: 1,
            deletion_guard: 1,
            deletion_guard_percent: None,
            config_version: 0,
            auto_sync: 1,
            auto_publish: 0,
            webhook_key: "whk_1".into(),
            last_full_sync_at: None,
            items_in_framer: 0,
            last_success_started_at: None,
            created_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
            plan: "free".into(),
            webhook_status: "token_received".into(),
            verification_token_enc: Some("enc3".into()),
            token_received_at: None,
            activated_at: None,
            last_event_at: None,
            events_received: 3,
            events_ignored: 1,
            pending_token_enc: None,
            pending_token_received_at: None,
            next_webhook_key: None,
            next_key_verified_at: None,
        }
    }

    #[test]
    fn storage_types_become_domain_types() {
        let project = Project::try_from(row()).unwrap();
        assert_eq!(project.plan, Plan::Free);
        assert_eq!(project.unpublished_mode, UnpublishedMode::Draft);
        assert_eq!(project.webhook.status, WebhookStatus::TokenReceived);
        assert!(project.page_body && project.auto_sync && !project.auto_publish);
        assert_eq!(project.notion_data_source_ids, ["ds1", "ds2"]);
        assert_eq!(
            project.publish_filter,
            Some(PublishFilter::Checkbox {
                property_id: "pub".into()
            })
        );
        assert_eq!(project.mapping, None);
        assert_eq!(
            (
                project.webhook.events_received,
                project.webhook.events_ignored
            ),
            (3, 1)
        );
    }

    #[test]
    fn the_plan_gates_automation() {
        let free = Project::try_from(row()).unwrap();
        assert!(!free.auto_sync_active() && free.paused_by_plan());
        let paid = Project::try_from(ProjectRow {
            plan: "paid".into(),
            ..row()
        })
        .unwrap();
        assert!(paid.auto_sync_active() && !paid.auto_publish_active());
        assert!(!paid.paused_by_plan());
    }

    #[test]
    fn values_outside_the_schema_are_refused_by_column() {
        for (broken, column) in [
            (
                ProjectRow {
                    plan: "gold".into(),
                    ..row()
                },
                "plan",
            ),
            (
                ProjectRow {
                    unpublished_mode: "hide".into(),
                    ..row()
                },
                "unpublished_mode",
            ),
            (
                ProjectRow {
                    webhook_status: "pending".into(),
                    ..row()
                },
                "webhook status",
            ),
        ] {
            let e = Project::try_from(broken).unwrap_err();
            assert_eq!(e.column, column);
            let api = ApiError::from(e);
            assert_eq!(api.code(), "internal_error");
        }
    }

    #[test]
    fn an_unreadable_mapping_is_kept_with_the_reason() {
        let project = Project::try_from(ProjectRow {
            mapping: Some(r#"{"fields":7}"#.into()),
            ..row()
        })
        .unwrap();
        let stored = project.mapping.unwrap();
        assert_eq!(stored.json, serde_json::json!({"fields": 7}));
        assert!(stored.mapping().is_none());
        assert!(stored.parsed.unwrap_err().contains("invalid type"));
        let garbage = StoredMapping::parse("not json");
        assert_eq!(garbage.json, Value::Null);
        assert!(garbage.parsed.is_err());
    }

    #[test]
    fn a_readable_mapping_is_parsed_once() {
        let mapping = Mapping::default();
        let text = serde_json::to_string(&mapping).unwrap();
        let stored = StoredMapping::parse(&text);
        assert_eq!(stored.mapping(), Some(&mapping));
        assert_eq!(stored.json, serde_json::to_value(&mapping).unwrap());
    }

    #[test]
    fn unreadable_json_columns_read_as_absent() {
        let project = Project::try_from(ProjectRow {
            notion_data_source_ids: "oops".into(),
            publish_filter: Some("{".into()),
            ..row()
        })
        .unwrap();
        assert!(project.notion_data_source_ids.is_empty());
        assert_eq!(project.publish_filter, None);
        // ...but a filter that cannot be read is known to be there: runs fail closed.
        assert!(project.publish_filter_error.is_some());
    }

    #[test]
    fn webhook_statuses_round_trip_through_their_text() {
        for status in [
            WebhookStatus::SetupRequired,
            WebhookStatus::TokenReceived,
            WebhookStatus::Active,
        ] {
            assert_eq!(WebhookStatus::parse(status.as_str()), Some(status));
        }
    }
}
