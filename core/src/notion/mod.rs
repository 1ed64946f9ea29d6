//! Notion as the sync sees it: ids, webhook events and their signatures, the REST protocol
//! (errors, retries, pacing; one token's request slots shared by its projects), data source schemas, property values in page JSON, page bodies
//! rendered to HTML, and the files such HTML points at.

pub mod body_files;
pub mod error;
pub mod event;
pub mod graph;
pub mod ids;
pub mod page_html;
pub mod protocol;
pub mod rate_share;
pub mod schema;
pub mod signature;
pub mod values;

#[cfg(test)]
pub(crate) mod fixtures;
