//! The publish filter checked against the data source's schema: when the owner saves it (a
//! 400 naming what is wrong) and again when a run starts (the run fails, nothing is removed).
//! A filter that no longer fits its schema would otherwise count every row as unpublished and,
//! in the default `remove` mode, take every item off the live site.

use crate::notion::schema::{Property, PropertyKind, Schema};
use crate::project::PublishFilter;
use std::fmt;

/// Why a filter does not fit the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterProblem {
    /// No property with this id (or name).
    UnknownProperty { property: String },
    /// The property's type cannot gate publishing the way the filter asks.
    WrongType {
        property: String,
        notion_type: String,
        wanted: &'static str,
    },
    /// A value that is not one of the property's options.
    UnknownOption { property: String, value: String },
    /// A status filter with no value lets nothing through.
    NoValues,
}

impl FilterProblem {
    /// The request field the problem is about.
    pub fn field(&self) -> &'static str {
        match self {
            Self::UnknownProperty { .. } | Self::WrongType { .. } => "publish_filter.property_id",
            Self::UnknownOption { .. } | Self::NoValues => "publish_filter.values",
        }
    }
}

impl fmt::Display for FilterProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownProperty { property } => write!(
                f,
                "the data source has no property \"{property}\" (it was deleted, or the id is wrong)"
            ),
            Self::WrongType {
                property,
                notion_type,
                wanted,
            } => write!(
                f,
                "the property \"{property}\" is a {notion_type} property; a {wanted} filter needs {}",
                if *wanted == "checkbox" {
                    "a checkbox (or a formula)"
                } else {
                    "a status, select or multi-select (or a formula)"
                }
            ),
            Self::UnknownOption { property, value } => write!(
                f,
                "\"{value}\" is not an option of \"{property}\" (it was renamed or deleted in Notion)"
            ),
            Self::NoValues => f.write_str("a status filter needs at least one value"),
        }
    }
}

/// The filter as it must be stored: property by id, values by the option names Notion shows
/// and their ids. Values are matched exactly first, then ignoring case and surrounding spaces
/// when that names one option; stored option ids win over names, so a renamed option resolves.
pub fn resolve(filter: &PublishFilter, schema: &Schema) -> Result<PublishFilter, FilterProblem> {
    let wanted_id = filter.property_id();
    let property = schema
        .properties
        .iter()
        .find(|p| p.id == wanted_id)
        .or_else(|| schema.properties.iter().find(|p| p.name == wanted_id))
        .ok_or_else(|| FilterProblem::UnknownProperty {
            property: wanted_id.to_owned(),
        })?;
    let wrong = |wanted| FilterProblem::WrongType {
        property: property.name.clone(),
        notion_type: property.kind.notion_type().to_owned(),
        wanted,
    };
    match filter {
        PublishFilter::Checkbox { .. } => match property.kind {
            PropertyKind::Checkbox | PropertyKind::Formula { .. } => Ok(PublishFilter::Checkbox {
                property_id: property.id.clone(),
            }),
            _ => Err(wrong("checkbox")),
        },
        PublishFilter::Status {
            values, option_ids, ..
        } => {
            let (values, option_ids) = match &property.kind {
                PropertyKind::Select { .. }
                | PropertyKind::Status { .. }
                | PropertyKind::MultiSelect { .. } => options_of(property, values, option_ids)?,
                // What a formula yields is not in the schema: its text is compared as it is.
                PropertyKind::Formula { .. } => (values.clone(), Vec::new()),
                _ => return Err(wrong("status")),
            };
            if values.is_empty() {
                return Err(FilterProblem::NoValues);
            }
            Ok(PublishFilter::Status {
                property_id: property.id.clone(),
                values,
                option_ids,
            })
        }
    }
}

fn options_of(
    property: &Property,
    values: &[String],
    option_ids: &[String],
) -> Result<(Vec<String>, Vec<String>), FilterProblem> {
    let options = property.kind.options();
    let unknown = |value: &str| FilterProblem::UnknownOption {
        property: property.name.clone(),
        value: value.to_owned(),
    };
    let mut names = Vec::new();
    let mut ids = Vec::new();
    if !option_ids.is_empty() {
        for (id, name) in option_ids.iter().zip(values) {
            let option = options
                .iter()
                .find(|o| &o.id == id)
                .ok_or_else(|| unknown(name))?;
            names.push(option.name.clone());
            ids.push(option.id.clone());
        }
        return Ok((names, ids));
    }
    for value in values {
        let loose = |o: &&crate::notion::schema::SelectOption| {
            o.name.trim().to_lowercase() == value.trim().to_lowercase()
        };
        let option = options
            .iter()
            .find(|o| &o.name == value || &o.id == value)
            .or_else(|| {
                let mut matching = options.iter().filter(loose);
                match (matching.next(), matching.next()) {
                    (Some(one), None) => Some(one),
                    _ => None,
                }
            })
            .ok_or_else(|| unknown(value))?;
        if !ids.contains(&option.id) {
            names.push(option.name.clone());
            ids.push(option.id.clone());
        }
    }
    Ok((names, ids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notion::schema::SelectOption;

    fn schema() -> Schema {
        let option = |id: &str, name: &str| SelectOption {
            id: id.into(),
            name: name.into(),
        };
        Schema {
            properties: vec![
                Property {
                    id: "title".into(),
                    name: "Name".into(),
                    kind: PropertyKind::Title,
                },
                Property {
                    id: "pub".into(),
                    name: "Published".into(),
                    kind: PropertyKind::Checkbox,
                },
                Property {
                    id: "st".into(),
                    name: "Status".into(),
                    kind: PropertyKind::Status {
                        options: vec![option("s1", "Draft"), option("s2", "Live")],
                    },
                },
            ],
        }
    }

    fn status(values: &[&str], ids: &[&str]) -> PublishFilter {
        PublishFilter::Status {
            property_id: "st".into(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
            option_ids: ids.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn a_valid_filter_is_stored_by_id_with_the_names_notion_shows() {
        assert_eq!(
            resolve(&status(&[" live "], &[]), &schema()),
            Ok(status(&["Live"], &["s2"]))
        );
        let by_name = PublishFilter::Checkbox {
            property_id: "Published".into(),
        };
        assert_eq!(
            resolve(&by_name, &schema()),
            Ok(PublishFilter::Checkbox {
                property_id: "pub".into()
            })
        );
    }

    #[test]
    fn a_renamed_option_still_resolves_by_its_id() {
        let mut renamed = schema();
        if let PropertyKind::Status { options } = &mut renamed.properties[2].kind {
            options[1].name = "Published".into();
        }
        assert_eq!(
            resolve(&status(&["Live"], &["s2"]), &renamed),
            Ok(status(&["Published"], &["s2"]))
        );
    }

    #[test]
    fn what_does_not_fit_is_named() {
        let gone = PublishFilter::Checkbox {
            property_id: "nope".into(),
        };
        assert_eq!(
            resolve(&gone, &schema()),
            Err(FilterProblem::UnknownProperty {
                property: "nope".into()
            })
        );
        let wrong = PublishFilter::Checkbox {
            property_id: "st".into(),
        };
        let problem = resolve(&wrong, &schema()).unwrap_err();
        assert_eq!(problem.field(), "publish_filter.property_id");
        assert!(problem.to_string().contains("status property"), "{problem}");
        let missing = resolve(&status(&["Archived"], &[]), &schema()).unwrap_err();
        assert_eq!(missing.field(), "publish_filter.values");
        assert!(missing.to_string().contains("\"Archived\""));
        // A deleted option fails even when its id was stored.
        assert!(resolve(&status(&["Gone"], &["s9"]), &schema()).is_err());
        assert_eq!(
            resolve(&status(&[], &[]), &schema()),
            Err(FilterProblem::NoValues)
        );
    }
}
