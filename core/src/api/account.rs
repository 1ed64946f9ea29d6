//! An account as handlers read it: its plan typed, converted once from the `accounts` row.

use crate::api::error::ApiError;
pub use crate::project::Plan;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub plan: Plan,
    pub created_at: String,
}

impl Account {
    pub fn paid(&self) -> bool {
        self.plan == Plan::Paid
    }

    /// The account as the API shows it.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id, "name": self.name, "plan": self.plan.as_str(), "created_at": self.created_at,
        })
    }
}

/// An `accounts` row as stored.
#[derive(Debug, Clone, Deserialize)]
pub struct AccountRow {
    pub id: String,
    pub name: String,
    pub plan: String,
    pub created_at: String,
}

impl TryFrom<AccountRow> for Account {
    type Error = ApiError;

    /// The schema's CHECK allows only the two plans; anything else is a fault on our side.
    fn try_from(row: AccountRow) -> Result<Self, Self::Error> {
        let plan = Plan::parse(&row.plan).ok_or_else(|| {
            ApiError::internal(
                "account row",
                format!("stored plan {:?} is unknown", row.plan),
            )
        })?;
        Ok(Self {
            id: row.id,
            name: row.name,
            plan,
            created_at: row.created_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(plan: &str) -> AccountRow {
        AccountRow {
            id: "a1".into(),
            name: "Acme".into(),
            plan: plan.into(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
        }
    }

    #[test]
    fn rows_become_accounts_with_a_typed_plan() {
        let account = Account::try_from(row("paid")).unwrap();
        assert_eq!(account.plan, Plan::Paid);
        assert!(account.paid());
        assert_eq!(
            account.view(),
            serde_json::json!({"id":"a1","name":"Acme","plan":"paid","created_at":"2026-01-01T00:00:00.000Z"})
        );
        assert!(!Account::try_from(row("free")).unwrap().paid());
    }

    #[test]
    fn an_unknown_plan_is_a_fault_not_a_free_account() {
        let e = Account::try_from(row("gold")).unwrap_err();
        assert_eq!(e.code(), "internal_error");
        assert_eq!(
            e.fault().map(crate::api::error::Fault::origin),
            Some("account row")
        );
    }

    #[test]
    fn plans_round_trip_through_their_text() {
        for plan in [Plan::Free, Plan::Paid] {
            assert_eq!(Plan::parse(plan.as_str()), Some(plan));
        }
        assert_eq!(Plan::parse("Paid"), None);
    }
}
