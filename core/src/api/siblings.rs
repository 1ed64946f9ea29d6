//! Which sibling projects a create request (or `POST .../siblings`) makes: every ticked data
//! source checked against the graph Notion shows, those the site already syncs left alone, and
//! a collection name per new one that no collection of the site has.

use crate::api::error::ApiError;
use crate::api::input::SiblingsInput;
use crate::notion::graph::{unique_name, Offer};
use crate::notion::ids;
use crate::sync::site::SiteMember;

/// One project to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSibling {
    pub data_source_id: String,
    pub database_id: String,
    /// The project's and its collection's name: the data source's, made unique in the site.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiblingPlan {
    /// The data source the requesting project syncs.
    pub chosen: String,
    pub create: Vec<PlannedSibling>,
    /// Ticked sources the site already syncs: `(data source, project)`.
    pub already: Vec<(String, String)>,
}

impl SiblingPlan {
    /// Every ticked data source, created or already synced.
    pub fn ids(&self) -> Vec<String> {
        self.create
            .iter()
            .map(|s| s.data_source_id.clone())
            .chain(self.already.iter().map(|(ds, _)| ds.clone()))
            .collect()
    }
}

/// Checks every ticked id before anything is written: a 400 names the first one the graph does
/// not offer. `taken` holds the collection names in use in the site.
pub fn plan_siblings(
    offer: &Offer,
    ticked: &SiblingsInput,
    site: &[SiteMember],
    mut taken: Vec<String>,
) -> Result<SiblingPlan, ApiError> {
    let mut plan = SiblingPlan {
        chosen: offer.chosen.clone(),
        create: Vec::new(),
        already: Vec::new(),
    };
    let cut_short = if offer.graph.truncated {
        " (the graph was read only in part: it is larger than can be listed at once)"
    } else {
        ""
    };
    for (field, id) in ticked.all() {
        let id = ids::canonical(id);
        let database_id = if field.starts_with("data_sources") {
            if !offer.offers_database_source(&id) {
                return Err(ApiError::validation(
                    &field,
                    format!(
                        "`{field}` ({id}) is not another data source of the database \"{}\"",
                        offer.database_name
                    ),
                ));
            }
            offer.database_id.clone()
        } else {
            if !offer.offers_related(&id) {
                return Err(ApiError::validation(
                    &field,
                    format!(
                        "`{field}` ({id}) is not a data source the database relates to that Notion shows to the integration{cut_short}"
                    ),
                ));
            }
            offer
                .graph
                .source(&id)
                .and_then(|s| s.database_id.clone())
                .unwrap_or_else(|| id.clone())
        };
        let synced = site
            .iter()
            .find(|m| m.data_source_id.as_deref() == Some(id.as_str()));
        if let Some(member) = synced {
            plan.already.push((id, member.project_id.clone()));
            continue;
        }
        let name = unique_name(&offer.name_of(&id), &taken);
        taken.push(name.clone());
        plan.create.push(PlannedSibling {
            data_source_id: id,
            database_id,
            name,
        });
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notion::graph::{Graph, SourceInfo};

    const POSTS: &str = "11111111-1111-1111-1111-111111111111";
    const DRAFTS: &str = "55555555-5555-5555-5555-555555555555";
    const AUTHORS: &str = "22222222-2222-2222-2222-222222222222";
    const TAGS: &str = "33333333-3333-3333-3333-333333333333";

    fn info(id: &str, name: &str, db: &str) -> SourceInfo {
        SourceInfo {
            id: id.into(),
            name: name.into(),
            database_id: Some(db.into()),
            relations: Vec::new(),
        }
    }

    fn offer() -> Offer {
        Offer {
            database_id: "db-posts".into(),
            database_name: "Blog".into(),
            database_sources: vec![
                (POSTS.into(), "Posts".into()),
                (DRAFTS.into(), "Drafts".into()),
            ],
            chosen: POSTS.into(),
            graph: Graph {
                sources: vec![
                    info(POSTS, "Posts", "db-posts"),
                    info(DRAFTS, "Drafts", "db-posts"),
                    info(AUTHORS, "Authors", "db-authors"),
                    info(TAGS, "Posts", "db-tags"),
                ],
                unreadable: Vec::new(),
                truncated: false,
            },
        }
    }

    fn ticked(data_sources: &[&str], related: &[&str]) -> SiblingsInput {
        SiblingsInput {
            data_sources: data_sources.iter().map(|s| (*s).to_owned()).collect(),
            related: related.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn authors_project() -> SiteMember {
        SiteMember {
            project_id: "p-authors".into(),
            name: "Authors".into(),
            data_source_id: Some(AUTHORS.into()),
            collection_name: "Authors".into(),
            collection_id: None,
            mapping: None,
        }
    }

    #[test]
    fn ticked_sources_become_siblings_named_uniquely() {
        let plan = plan_siblings(
            &offer(),
            &ticked(&[DRAFTS], &[AUTHORS, TAGS]),
            &[authors_project()],
            vec!["Posts".into(), "Authors".into()],
        )
        .unwrap();
        assert_eq!(plan.chosen, POSTS);
        let made: Vec<(&str, &str, &str)> = plan
            .create
            .iter()
            .map(|s| {
                (
                    s.data_source_id.as_str(),
                    s.database_id.as_str(),
                    s.name.as_str(),
                )
            })
            .collect();
        // A source named like a collection of the site gets a suffix.
        assert_eq!(
            made,
            [(DRAFTS, "db-posts", "Drafts"), (TAGS, "db-tags", "Posts 2")]
        );
        assert_eq!(plan.already, [(AUTHORS.to_owned(), "p-authors".to_owned())]);
        assert_eq!(plan.ids().len(), 3);
    }

    #[test]
    fn a_source_the_graph_does_not_offer_is_a_400_naming_it() {
        let field_of = |ticked: SiblingsInput| match plan_siblings(&offer(), &ticked, &[], vec![]) {
            Err(ApiError::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        // The project's own source, a related one under data_sources, an unknown one.
        assert_eq!(field_of(ticked(&[POSTS], &[])), "data_sources[0]");
        assert_eq!(field_of(ticked(&[DRAFTS, AUTHORS], &[])), "data_sources[1]");
        assert_eq!(field_of(ticked(&[], &[DRAFTS])), "related[0]");
        assert_eq!(
            field_of(ticked(
                &[],
                &[AUTHORS, "99999999-9999-9999-9999-999999999999"]
            )),
            "related[1]"
        );
    }
}
