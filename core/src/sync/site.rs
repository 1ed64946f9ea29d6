//! A site: the projects of one account that sync into the same Framer project, one data
//! source into one collection each. Relations between them are collection references; this
//! module decides which collections a run must make sure of before it writes anything, and
//! what state each relation is in (for the project page).

use crate::notion::ids;
use crate::sync::mapping::Mapping;
use serde::Serialize;

/// One project of a site as D1 holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteMember {
    pub project_id: String,
    pub name: String,
    /// The data source it syncs, once known (set at creation for siblings).
    pub data_source_id: Option<String>,
    pub collection_name: String,
    /// Its Framer collection, once created.
    pub collection_id: Option<String>,
    /// Its stored mapping, if it has one that can be read.
    pub mapping: Option<Mapping>,
}

impl SiteMember {
    fn syncs(&self, data_source_id: &str) -> bool {
        self.data_source_id
            .as_deref()
            .is_some_and(|id| ids::canonical(id) == ids::canonical(data_source_id))
    }
}

/// The members whose collection does not exist yet: a run creates them before it writes an
/// item, so that every relation into the site is a reference field from its first run.
pub fn collections_missing<'a>(site: &'a [SiteMember], own_id: &str) -> Vec<&'a SiteMember> {
    site.iter()
        .filter(|m| m.project_id != own_id && m.collection_id.is_none())
        .collect()
}

/// The database's data sources that neither this project (`chosen`) nor another of the site
/// syncs, in the database's order.
pub fn unsynced_sources(ids: &[String], chosen: &str, site: &[SiteMember]) -> Vec<String> {
    ids.iter()
        .filter(|id| ids::canonical(id) != ids::canonical(chosen))
        .filter(|id| !site.iter().any(|m| m.syncs(id)))
        .cloned()
        .collect()
}

/// What a relation property is in Framer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationState {
    /// A reference field into the target's collection.
    Reference,
    /// The target is part of the site but the field is not a reference yet: the project's
    /// next run makes it one (shown in that run's schema changes).
    WaitingForTarget,
    /// The target is not synced: the related pages' ids as text.
    Text,
}

/// One relation of a member, as the project page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelationView {
    pub property_id: String,
    pub property_name: String,
    /// The related data source, when the mapping knows it.
    pub data_source_id: Option<String>,
    /// The site's project that syncs it.
    pub target_project_id: Option<String>,
    pub state: RelationState,
}

/// The relations of a member's mapping (enabled fields only) and their state.
pub fn relations(member: &SiteMember, site: &[SiteMember]) -> Vec<RelationView> {
    let Some(mapping) = &member.mapping else {
        return Vec::new();
    };
    mapping
        .fields
        .iter()
        .filter(|f| f.enabled && f.property_type == "relation")
        .map(|field| {
            let target = field
                .related_data_source_id
                .as_deref()
                .and_then(|ds| site.iter().find(|m| m.syncs(ds)));
            let state = if field.effective_kind().is_reference() {
                RelationState::Reference
            } else if target.is_some() {
                RelationState::WaitingForTarget
            } else {
                RelationState::Text
            };
            RelationView {
                property_id: field.property_id.clone(),
                property_name: field.property_name.clone(),
                data_source_id: field.related_data_source_id.clone(),
                target_project_id: target.map(|t| t.project_id.clone()),
                state,
            }
        })
        .collect()
}

/// One project of the site as the project page lists it, with its relations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberView {
    pub id: String,
    pub name: String,
    pub data_source_id: Option<String>,
    pub collection_name: String,
    pub collection_id: Option<String>,
    /// The project the page shows.
    pub current: bool,
    pub relations: Vec<RelationView>,
}

/// The site's projects (which collections link to which, and how).
pub fn view(site: &[SiteMember], current: &str) -> Vec<MemberView> {
    site.iter()
        .map(|m| MemberView {
            id: m.project_id.clone(),
            name: m.name.clone(),
            data_source_id: m.data_source_id.clone(),
            collection_name: m.collection_name.clone(),
            collection_id: m.collection_id.clone(),
            current: m.project_id == current,
            relations: relations(m, site),
        })
        .collect()
}

/// Offered data sources (`data_source.created`) that no project of the site syncs yet.
pub fn open_offers<'a>(
    offers: &'a [(String, String)],
    site: &[SiteMember],
) -> Vec<&'a (String, String)> {
    offers
        .iter()
        .filter(|(ds, _)| !site.iter().any(|m| m.syncs(ds)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framer::cms::FieldType;
    use crate::sync::mapping::FieldMapping;

    const AUTHORS: &str = "22222222-2222-2222-2222-222222222222";
    const TAGS: &str = "33333333-3333-3333-3333-333333333333";
    const TEAMS: &str = "44444444-4444-4444-4444-444444444444";

    fn relation(id: &str, target: &str, kind: FieldType, collection: Option<&str>) -> FieldMapping {
        FieldMapping {
            property_id: id.into(),
            property_name: id.into(),
            property_type: "relation".into(),
            field_id: id.into(),
            field_name: id.into(),
            kind,
            enabled: true,
            collection_id: collection.map(str::to_owned),
            related_data_source_id: Some(target.into()),
            extra_cases: Vec::new(),
        }
    }

    fn member(id: &str, ds: Option<&str>, collection: Option<&str>) -> SiteMember {
        SiteMember {
            project_id: id.into(),
            name: id.into(),
            data_source_id: ds.map(str::to_owned),
            collection_name: id.into(),
            collection_id: collection.map(str::to_owned),
            mapping: None,
        }
    }

    #[test]
    fn each_relation_is_a_reference_waits_for_its_target_or_stays_text() {
        let mut posts = member("posts", None, Some("c1"));
        posts.mapping = Some(Mapping {
            fields: vec![
                relation(
                    "authors",
                    AUTHORS,
                    FieldType::MultiCollectionReference,
                    Some("c2"),
                ),
                relation("tags", &TAGS.replace('-', ""), FieldType::String, None),
                relation("team", TEAMS, FieldType::String, None),
                // A reference whose collection is gone degrades to text (effective kind).
                relation("lost", TEAMS, FieldType::MultiCollectionReference, None),
            ],
            ..Mapping::default()
        });
        let site = vec![
            posts.clone(),
            member("authors", Some(AUTHORS), Some("c2")),
            member("tags", Some(TAGS), None),
        ];
        let states: Vec<(String, RelationState, Option<String>)> = relations(&posts, &site)
            .into_iter()
            .map(|r| (r.property_id, r.state, r.target_project_id))
            .collect();
        assert_eq!(
            states,
            [
                (
                    "authors".into(),
                    RelationState::Reference,
                    Some("authors".into())
                ),
                (
                    "tags".into(),
                    RelationState::WaitingForTarget,
                    Some("tags".into())
                ),
                ("team".into(), RelationState::Text, None),
                ("lost".into(), RelationState::Text, None),
            ]
        );
        assert!(relations(&member("x", None, None), &site).is_empty());
        let view = view(&site, "posts");
        assert!(view[0].current && !view[1].current);
        assert_eq!(view[0].relations.len(), 4);
        let json = serde_json::to_value(&view[0].relations[1]).unwrap();
        assert_eq!(json["state"], "waiting_for_target");
    }

    #[test]
    fn a_databases_sources_the_site_does_not_sync() {
        let ids = vec![AUTHORS.to_owned(), TAGS.to_owned(), TEAMS.to_owned()];
        let site = vec![member("tags", Some(TAGS), None)];
        assert_eq!(unsynced_sources(&ids, AUTHORS, &site), [TEAMS]);
        let site = vec![
            member("tags", Some(TAGS), None),
            member("teams", Some(TEAMS), None),
        ];
        assert!(unsynced_sources(&ids, AUTHORS, &site).is_empty());
    }

    #[test]
    fn offers_close_once_the_site_syncs_them() {
        let offers = vec![
            (TAGS.to_owned(), "t1".to_owned()),
            (TEAMS.to_owned(), "t2".to_owned()),
        ];
        let site = vec![member("tags", Some(TAGS), None)];
        let open: Vec<&str> = open_offers(&offers, &site)
            .iter()
            .map(|(ds, _)| ds.as_str())
            .collect();
        assert_eq!(open, [TEAMS]);
    }

    #[test]
    fn missing_collections_are_the_other_members_without_one() {
        let site = vec![
            member("posts", None, None),
            member("authors", Some(AUTHORS), Some("c2")),
            member("tags", Some(TAGS), None),
        ];
        let missing: Vec<&str> = collections_missing(&site, "posts")
            .iter()
            .map(|m| m.project_id.as_str())
            .collect();
        assert_eq!(missing, ["tags"]);
    }
}
