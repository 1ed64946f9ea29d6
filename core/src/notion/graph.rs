//! A site's graph as Notion shows it: the data sources of the chosen database (2025-09-03
//! databases may hold several) and, recursively, the data sources its relations point into.
//! The walk is pure: the Worker fetches what [`Walk::next_to_read`] names and hands the answer back,
//! so the bound on requests (and on the answer's size) is decided here and tested natively.

use crate::notion::ids;
use crate::notion::schema::{parse_schema, PropertyKind};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeSet, VecDeque};

/// At most this many data sources are read per walk: each is one Notion request, and the
/// create request and the schema answer run within one invocation's subrequest budget.
pub const MAX_GRAPH_SOURCES: usize = 20;

/// One relation property of a data source and where it points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelationEdge {
    pub property_id: String,
    pub property_name: String,
    /// The related data source (canonical id).
    pub data_source_id: String,
}

/// What the walk learned of one data source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceInfo {
    pub id: String,
    pub name: String,
    /// The database holding it (`parent.database_id`).
    pub database_id: Option<String>,
    pub relations: Vec<RelationEdge>,
}

/// The name a data source shows: its title's plain text, else its database's name for it.
pub fn title_text(title: Option<&Value>) -> String {
    title
        .and_then(Value::as_array)
        .map(|segments| {
            segments
                .iter()
                .filter_map(|s| s.get("plain_text").and_then(Value::as_str))
                .collect::<String>()
        })
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// A data source object (`GET /v1/data_sources/{id}`) as the graph needs it; `None` when the
/// answer is not a data source.
pub fn source_info(data_source: &Value) -> Option<SourceInfo> {
    let id = ids::canonical(data_source.get("id")?.as_str()?);
    let schema = parse_schema(data_source).ok()?;
    let relations = schema
        .properties
        .iter()
        .filter_map(|p| match &p.kind {
            PropertyKind::Relation {
                data_source_id: Some(target),
                ..
            } => Some(RelationEdge {
                property_id: p.id.clone(),
                property_name: p.name.clone(),
                data_source_id: target.clone(),
            }),
            _ => None,
        })
        .collect();
    Some(SourceInfo {
        id,
        name: title_text(data_source.get("title")),
        database_id: data_source
            .pointer("/parent/database_id")
            .and_then(Value::as_str)
            .map(ids::canonical),
        relations,
    })
}

/// A database's data sources (`GET /v1/databases/{id}`): `(id, name)` in Notion's order.
pub fn database_sources(database: &Value) -> Vec<(String, String)> {
    database
        .get("data_sources")
        .and_then(Value::as_array)
        .map(|sources| {
            sources
                .iter()
                .filter_map(|s| {
                    let id = s.get("id").and_then(Value::as_str)?;
                    let name = s.get("name").and_then(Value::as_str).unwrap_or_default();
                    Some((ids::canonical(id), name.trim().to_owned()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A breadth-first walk from the database's data sources along relations, bounded by
/// [`MAX_GRAPH_SOURCES`] reads.
#[derive(Debug)]
pub struct Walk {
    queue: VecDeque<String>,
    seen: BTreeSet<String>,
    found: Vec<SourceInfo>,
    unreadable: Vec<String>,
    reads: usize,
    limit: usize,
}

/// The walk's result: the sources read (the start ones first), those Notion would not show
/// (not shared with the integration), and whether the bound cut it short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    pub sources: Vec<SourceInfo>,
    pub unreadable: Vec<String>,
    pub truncated: bool,
}

impl Walk {
    pub fn new(start: &[String]) -> Self {
        Self::with_limit(start, MAX_GRAPH_SOURCES)
    }

    pub fn with_limit(start: &[String], limit: usize) -> Self {
        let mut walk = Self {
            queue: VecDeque::new(),
            seen: BTreeSet::new(),
            found: Vec::new(),
            unreadable: Vec::new(),
            reads: 0,
            limit,
        };
        for id in start {
            walk.enqueue(id);
        }
        walk
    }

    fn enqueue(&mut self, id: &str) {
        let id = ids::canonical(id);
        if self.seen.insert(id.clone()) {
            self.queue.push_back(id);
        }
    }

    /// The next data source to read, `None` when the walk is over (or out of reads).
    pub fn next_to_read(&mut self) -> Option<String> {
        if self.reads >= self.limit {
            return None;
        }
        let id = self.queue.pop_front()?;
        self.reads += 1;
        Some(id)
    }

    /// The answer for the id `next_to_read` gave: its relations join the queue.
    pub fn read(&mut self, info: SourceInfo) {
        for edge in &info.relations {
            let target = edge.data_source_id.clone();
            self.enqueue(&target);
        }
        self.found.push(info);
    }

    /// Notion would not show the id `next_to_read` gave (not shared, or gone).
    pub fn unreadable(&mut self, id: &str) {
        self.unreadable.push(ids::canonical(id));
    }

    pub fn finish(self) -> Graph {
        Graph {
            truncated: !self.queue.is_empty(),
            sources: self.found,
            unreadable: self.unreadable,
        }
    }
}

impl Graph {
    pub fn source(&self, id: &str) -> Option<&SourceInfo> {
        let id = ids::canonical(id);
        self.sources.iter().find(|s| s.id == id)
    }

    /// The relations that point at `id`, as `(from data source, property)`.
    pub fn edges_into(&self, id: &str) -> Vec<(&SourceInfo, &RelationEdge)> {
        self.sources
            .iter()
            .flat_map(|s| s.relations.iter().map(move |e| (s, e)))
            .filter(|(_, e)| e.data_source_id == id)
            .collect()
    }
}

/// What a create request may tick: `data_sources` are other sources of the chosen database,
/// `related` are sources outside it that the walk read (Notion shows them to the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub database_id: String,
    pub database_name: String,
    pub database_sources: Vec<(String, String)>,
    pub chosen: String,
    pub graph: Graph,
}

impl Offer {
    /// Another data source of the chosen database.
    pub fn offers_database_source(&self, id: &str) -> bool {
        let id = ids::canonical(id);
        id != self.chosen && self.database_sources.iter().any(|(s, _)| *s == id)
    }

    /// A readable data source that the database's sources relate to, directly or not.
    pub fn offers_related(&self, id: &str) -> bool {
        let id = ids::canonical(id);
        !self.database_sources.iter().any(|(s, _)| *s == id) && self.graph.source(&id).is_some()
    }

    /// The answer's `graph` (schema endpoint, discovery): the database's sources, the related
    /// ones with the relations that lead to them, and which project of the site syncs each.
    pub fn to_json(&self, synced_by: impl Fn(&str) -> Option<String>) -> Value {
        let database_sources: Vec<Value> = self
            .database_sources
            .iter()
            .map(|(id, _)| {
                json!({"id": id, "name": self.name_of(id), "chosen": *id == self.chosen, "synced_by": synced_by(id)})
            })
            .collect();
        let related: Vec<Value> = self
            .graph
            .sources
            .iter()
            .filter(|s| !self.database_sources.iter().any(|(id, _)| *id == s.id))
            .map(|s| {
                let via: Vec<Value> = self
                    .graph
                    .edges_into(&s.id)
                    .iter()
                    .map(|(from, edge)| json!({"data_source_id": from.id, "property_id": edge.property_id, "property_name": edge.property_name}))
                    .collect();
                json!({"id": s.id, "name": self.name_of(&s.id), "database_id": s.database_id, "via": via, "synced_by": synced_by(&s.id)})
            })
            .collect();
        json!({
            "database": {"id": self.database_id, "name": self.database_name},
            "data_source_id": self.chosen,
            "data_sources": database_sources,
            "related": related,
            "unreadable": self.graph.unreadable,
            "truncated": self.graph.truncated,
        })
    }

    /// The name to give a sibling project and its collection.
    pub fn name_of(&self, id: &str) -> String {
        let id = ids::canonical(id);
        let name = self
            .graph
            .source(&id)
            .map(|s| s.name.clone())
            .filter(|n| !n.is_empty())
            .or_else(|| {
                self.database_sources
                    .iter()
                    .find(|(s, _)| *s == id)
                    .map(|(_, n)| n.clone())
            })
            .filter(|n| !n.is_empty());
        name.unwrap_or_else(|| format!("Untitled {}", &id[..8.min(id.len())]))
    }
}

/// A name not in `taken` (case-insensitive, as Framer compares collection names): `name`, else
/// `name 2`, `name 3`, ...
pub fn unique_name(name: &str, taken: &[String]) -> String {
    let free = |candidate: &str| !taken.iter().any(|t| t.eq_ignore_ascii_case(candidate));
    if free(name) {
        return name.to_owned();
    }
    // `taken` has finitely many names, so one of the first `taken.len() + 1` suffixes is free.
    (2..=taken.len() + 2)
        .map(|n| format!("{name} {n}"))
        .find(|candidate| free(candidate))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const POSTS: &str = "11111111-1111-1111-1111-111111111111";
    const AUTHORS: &str = "22222222-2222-2222-2222-222222222222";
    const TAGS: &str = "33333333-3333-3333-3333-333333333333";
    const TEAMS: &str = "44444444-4444-4444-4444-444444444444";

    fn source(id: &str, name: &str, relations: &[(&str, &str)]) -> Value {
        let mut properties = serde_json::Map::new();
        properties.insert(
            "Name".into(),
            json!({"id": "title", "name": "Name", "type": "title", "title": {}}),
        );
        for (i, (prop, target)) in relations.iter().enumerate() {
            properties.insert(
                (*prop).into(),
                json!({"id": format!("r{i}"), "name": prop, "type": "relation",
                       "relation": {"data_source_id": target.replace('-', ""), "database_id": "x", "type": "single_property"}}),
            );
        }
        json!({"object": "data_source", "id": id, "title": [{"plain_text": name}],
               "parent": {"type": "database_id", "database_id": "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"},
               "properties": properties})
    }

    fn walk(start: &[&str], sources: &[Value], limit: usize) -> (Graph, Vec<String>) {
        let start: Vec<String> = start.iter().map(|s| (*s).to_owned()).collect();
        let mut walk = Walk::with_limit(&start, limit);
        let mut order = Vec::new();
        while let Some(id) = walk.next_to_read() {
            order.push(id.clone());
            match sources.iter().find(|s| s["id"] == id.as_str()) {
                Some(s) => walk.read(source_info(s).unwrap()),
                None => walk.unreadable(&id),
            }
        }
        (walk.finish(), order)
    }

    #[test]
    fn source_info_reads_name_parent_and_relations() {
        let info = source_info(&source(POSTS, " Posts ", &[("Authors", AUTHORS)])).unwrap();
        assert_eq!(info.name, "Posts");
        assert_eq!(
            info.database_id.as_deref(),
            Some("aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa")
        );
        assert_eq!(info.relations.len(), 1);
        assert_eq!(info.relations[0].data_source_id, AUTHORS);
        assert_eq!(info.relations[0].property_name, "Authors");
        assert!(source_info(&json!({"object": "page", "id": POSTS})).is_none());
    }

    #[test]
    fn the_walk_follows_relations_recursively_once_each() {
        let sources = [
            source(
                POSTS,
                "Posts",
                &[("Authors", AUTHORS), ("Tags", TAGS), ("Related", POSTS)],
            ),
            source(AUTHORS, "Authors", &[("Team", TEAMS), ("Posts", POSTS)]),
            source(TAGS, "Tags", &[]),
        ];
        let (graph, order) = walk(&[POSTS], &sources, 20);
        // Breadth first, each source once, even through cycles and self-relations.
        assert_eq!(order, [POSTS, AUTHORS, TAGS, TEAMS]);
        assert_eq!(graph.sources.len(), 3);
        assert_eq!(graph.unreadable, [TEAMS]);
        assert!(!graph.truncated);
        let into_authors = graph.edges_into(AUTHORS);
        assert_eq!(into_authors.len(), 1);
        assert_eq!(into_authors[0].0.name, "Posts");
    }

    #[test]
    fn the_walk_stops_at_its_bound_and_says_so() {
        let sources = [
            source(POSTS, "Posts", &[("Authors", AUTHORS), ("Tags", TAGS)]),
            source(AUTHORS, "Authors", &[]),
            source(TAGS, "Tags", &[]),
        ];
        let (graph, order) = walk(&[POSTS], &sources, 2);
        assert_eq!(order.len(), 2);
        assert!(graph.truncated);
        let (graph, _) = walk(&[POSTS], &sources, 3);
        assert!(!graph.truncated);
    }

    #[test]
    fn an_offer_separates_the_databases_sources_from_related_ones() {
        let sources = [
            source(POSTS, "Posts", &[("Authors", AUTHORS)]),
            source(TAGS, "Drafts", &[]),
            source(AUTHORS, "", &[]),
        ];
        let (graph, _) = walk(&[POSTS, TAGS], &sources, 20);
        let offer = Offer {
            database_id: "db".into(),
            database_name: "Blog".into(),
            database_sources: vec![
                (POSTS.into(), "Posts".into()),
                (TAGS.into(), "Drafts".into()),
            ],
            chosen: POSTS.into(),
            graph,
        };
        assert!(offer.offers_database_source(TAGS));
        assert!(
            !offer.offers_database_source(POSTS),
            "the chosen one is the project itself"
        );
        assert!(!offer.offers_database_source(AUTHORS));
        assert!(offer.offers_related(AUTHORS));
        assert!(!offer.offers_related(TAGS));
        assert!(!offer.offers_related(TEAMS), "never read: nothing to sync");
        assert_eq!(offer.name_of(TAGS), "Drafts");
        assert_eq!(offer.name_of(AUTHORS), "Untitled 22222222");
        let answer = offer.to_json(|id| (id == AUTHORS).then(|| "p2".to_owned()));
        assert_eq!(answer["database"]["name"], "Blog");
        assert_eq!(answer["data_sources"][0]["chosen"], true);
        assert_eq!(answer["data_sources"][1]["name"], "Drafts");
        assert_eq!(answer["related"].as_array().unwrap().len(), 1);
        assert_eq!(answer["related"][0]["synced_by"], "p2");
        assert_eq!(answer["related"][0]["via"][0]["property_name"], "Authors");
        assert_eq!(answer["related"][0]["via"][0]["data_source_id"], POSTS);
    }

    #[test]
    fn unique_names_take_the_lowest_free_suffix() {
        let taken = vec!["Posts".to_owned(), "tags".to_owned(), "Tags 2".to_owned()];
        assert_eq!(unique_name("Authors", &taken), "Authors");
        assert_eq!(unique_name("Posts", &taken), "Posts 2");
        assert_eq!(unique_name("Tags", &taken), "Tags 3");
    }

    #[test]
    fn database_sources_in_notions_order() {
        let db = json!({"object": "database", "data_sources": [
            {"id": POSTS.replace('-', ""), "name": "Posts"}, {"id": TAGS, "name": " Drafts "}]});
        assert_eq!(
            database_sources(&db),
            [
                (POSTS.to_owned(), "Posts".to_owned()),
                (TAGS.to_owned(), "Drafts".to_owned())
            ]
        );
    }
}
