//! Dataset definitions: names, organisations and column schemas, validated.
//!
//! A [`DatasetDef`] can only be built through [`DatasetDef::new`], which
//! checks every name and column; the rest of ddc relies on that.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

pub use crate::names::is_simple_name;

use crate::classification::CodeListId;
use crate::field_path::FieldPath;

/// Most categories a closed categorical column may declare.
pub const MAX_DECLARED_CATEGORIES: usize = 10_000;
/// Most columns besides the identifier.
pub const MAX_COLUMNS: usize = 256;
/// Largest decimal scale (digits after the point).
pub const MAX_SCALE: u32 = 9;

/// The kind of a non-identifier column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ColumnKind {
    /// A closed set of categories, in display order.
    Categorical {
        /// The allowed values.
        categories: Vec<String>,
    },
    /// Any value; the categories are the values present.
    OpenCategorical,
    /// The codes of a code list, in the list's order.
    Classified {
        /// The list version, pinned when the dataset is declared.
        code_list: CodeListId,
    },
    /// A 64-bit signed integer.
    Integer,
    /// A fixed-point decimal with `scale` digits after the point.
    Decimal {
        /// Digits after the point.
        scale: u32,
    },
}

impl ColumnKind {
    /// Whether tables can group and filter on this column.
    pub fn is_categorical(&self) -> bool {
        matches!(
            self,
            ColumnKind::Categorical { .. }
                | ColumnKind::OpenCategorical
                | ColumnKind::Classified { .. }
        )
    }

    /// The code list of a classified column.
    pub fn code_list(&self) -> Option<&CodeListId> {
        match self {
            ColumnKind::Classified { code_list } => Some(code_list),
            _ => None,
        }
    }
}

/// Whose value a numeric column holds; disclosure rules count distinct units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Each person's own value.
    #[default]
    Person,
    /// The value of the person's household, shared by its members.
    Household,
}

/// What a dataset's identifier column holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierMode {
    /// A BSN or onderwijsnummer, checked and pseudonymised by ddc.
    #[default]
    Identifier,
    /// A [`HolderPseudonym`](crate::pseudonym::HolderPseudonym): the data
    /// holder's client checked the identifier and hashed it under the
    /// holders' key. Such datasets link only to each other.
    HolderPseudonym,
}

/// One declared column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    /// Column name.
    pub name: String,
    /// What it holds.
    pub kind: ColumnKind,
    /// Whose value it is (numeric columns).
    #[serde(default)]
    pub unit: Unit,
}

impl ColumnDef {
    /// A column whose values belong to persons.
    pub fn new(name: impl Into<String>, kind: ColumnKind) -> Self {
        ColumnDef {
            name: name.into(),
            kind,
            unit: Unit::Person,
        }
    }
}

/// A validated dataset definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetDef {
    name: String,
    organisation: String,
    identifier_column: String,
    /// Absent in definitions stored before the mode existed.
    #[serde(default)]
    identifier_mode: IdentifierMode,
    #[serde(default)]
    household_column: Option<String>,
    columns: Vec<ColumnDef>,
}

/// What is wrong with a dataset definition.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct SchemaError {
    /// The field at fault, e.g. `schema.columns[2].name`.
    pub field: FieldPath,
    /// Why.
    pub reason: String,
}

fn err(field: FieldPath, reason: impl Into<String>) -> SchemaError {
    SchemaError {
        field,
        reason: reason.into(),
    }
}

impl DatasetDef {
    /// Validates a definition: `name` is `organisation.local_name`, every
    /// column name is simple and unique, categories are non-empty and unique.
    pub fn new(
        name: &str,
        organisation: &str,
        identifier_column: &str,
        household_column: Option<&str>,
        columns: Vec<ColumnDef>,
    ) -> Result<Self, Vec<SchemaError>> {
        let mut problems = Vec::new();
        if !is_simple_name(organisation) {
            problems.push(err(
                FieldPath::new("organisation"),
                "must be a lower-case name such as `duo`",
            ));
        }
        match name.split_once('.') {
            Some((org, local)) if org == organisation && is_simple_name(local) => {}
            // Neither name is echoed: the dataset is not declared yet.
            _ => problems.push(err(
                FieldPath::new("name"),
                "must be the organisation, a dot, and a lower-case name, e.g. `duo.pupils`",
            )),
        }
        if !is_simple_name(identifier_column) {
            problems.push(err(
                schema().field("identifier_column"),
                "must be a lower-case name",
            ));
        }
        if columns.len() > MAX_COLUMNS {
            problems.push(err(
                schema().field("columns"),
                format!("at most {MAX_COLUMNS} columns"),
            ));
        }
        let mut seen = HashSet::from([identifier_column]);
        if let Some(h) = household_column {
            if !is_simple_name(h) {
                problems.push(err(household(), "must be a lower-case name"));
            } else if !seen.insert(h) {
                problems.push(err(household(), "duplicate column name"));
            }
        }
        for (i, column) in columns.iter().enumerate() {
            let field = schema_column(i);
            if !is_simple_name(&column.name) {
                problems.push(err(
                    field.clone().field("name"),
                    "must be a lower-case name",
                ));
            } else if !seen.insert(&column.name) {
                problems.push(err(field.clone().field("name"), "duplicate column name"));
            }
            check_kind(&column.kind, &field, &mut problems);
            if column.unit == Unit::Household {
                if column.kind.is_categorical() {
                    problems.push(err(
                        field.clone().field("unit"),
                        "only numeric columns have a unit",
                    ));
                } else if household_column.is_none() {
                    problems.push(err(
                        field.clone().field("unit"),
                        "a household value needs a household identifier column",
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(DatasetDef {
            name: name.to_owned(),
            organisation: organisation.to_owned(),
            identifier_column: identifier_column.to_owned(),
            identifier_mode: IdentifierMode::default(),
            household_column: household_column.map(str::to_owned),
            columns,
        })
    }

    /// Full name, `organisation.local_name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The holding organisation.
    pub fn organisation(&self) -> &str {
        &self.organisation
    }

    /// The CSV column holding the person identifier.
    pub fn identifier_column(&self) -> &str {
        &self.identifier_column
    }

    /// What the identifier column holds.
    pub fn identifier_mode(&self) -> IdentifierMode {
        self.identifier_mode
    }

    /// This definition with identifiers of `mode`.
    pub fn with_identifier_mode(mut self, mode: IdentifierMode) -> Self {
        self.identifier_mode = mode;
        self
    }

    /// The CSV column holding the household identifier, if any.
    pub fn household_column(&self) -> Option<&str> {
        self.household_column.as_deref()
    }

    /// The other columns, in declared order.
    pub fn columns(&self) -> &[ColumnDef] {
        &self.columns
    }

    /// Index of the column called `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Each column's code list (`None` for a column on none), in column
    /// order: what [`dependencies`](crate::classification::dependencies) takes.
    pub fn code_lists(&self) -> Vec<Option<&CodeListId>> {
        self.columns.iter().map(|c| c.kind.code_list()).collect()
    }

    /// This definition with each classified column's list version replaced
    /// by `pin(list)`; `Err(i)` if `pin` knows no version for column `i`.
    pub fn with_pinned_code_lists(
        mut self,
        mut pin: impl FnMut(&CodeListId) -> Option<u32>,
    ) -> Result<Self, usize> {
        for (i, column) in self.columns.iter_mut().enumerate() {
            if let ColumnKind::Classified { code_list } = &mut column.kind {
                code_list.version = pin(code_list).ok_or(i)?;
            }
        }
        Ok(self)
    }
}

fn schema() -> FieldPath {
    FieldPath::new("schema")
}

fn household() -> FieldPath {
    schema().field("household_column")
}

/// `schema.columns[i]`.
pub(crate) fn schema_column(i: usize) -> FieldPath {
    schema().field("columns").index(i)
}

fn check_kind(kind: &ColumnKind, field: &FieldPath, problems: &mut Vec<SchemaError>) {
    match kind {
        ColumnKind::Categorical { categories } => {
            let categorical = field.clone().field("categorical");
            if categories.is_empty() {
                problems.push(err(
                    categorical.clone(),
                    "declare at least one category, or make the column open",
                ));
            }
            if categories.len() > MAX_DECLARED_CATEGORIES {
                problems.push(err(
                    categorical.clone(),
                    format!("at most {MAX_DECLARED_CATEGORIES} categories"),
                ));
            }
            let mut seen = HashSet::new();
            for (j, c) in categories.iter().enumerate() {
                let at = || categorical.clone().field("categories").index(j);
                if c.trim() != c || c.is_empty() {
                    problems.push(err(at(), "must be non-empty without surrounding spaces"));
                } else if c.chars().any(char::is_control) {
                    problems.push(err(at(), "must not contain control characters"));
                } else if !seen.insert(c) {
                    problems.push(err(at(), "duplicate category"));
                }
            }
        }
        ColumnKind::Classified { code_list } if !is_simple_name(&code_list.name) => {
            problems.push(err(
                field.clone().field("categorical").field("code_list"),
                "must be the lower-case name of a code list",
            ))
        }
        ColumnKind::Decimal { scale } if *scale > MAX_SCALE => problems.push(err(
            field.clone().field("decimal").field("scale"),
            format!("at most {MAX_SCALE}"),
        )),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(name: &str, values: &[&str]) -> ColumnDef {
        let categories = values.iter().map(|s| s.to_string()).collect();
        ColumnDef::new(name, ColumnKind::Categorical { categories })
    }

    #[test]
    fn name_must_carry_the_organisation_prefix() {
        let e = DatasetDef::new("cbs.x", "duo", "pgn", None, vec![]).unwrap_err();
        assert_eq!(e[0].field, "name");
        assert!(DatasetDef::new("duo.x", "duo", "pgn", None, vec![]).is_ok());
    }

    #[test]
    fn categories_with_control_characters_are_refused() {
        for label in ["a\0b", "a\u{7}", "line\nbreak", "x\u{85}"] {
            let e =
                DatasetDef::new("duo.x", "duo", "pgn", None, vec![cat("c", &[label])]).unwrap_err();
            assert_eq!(e[0].field, "schema.columns[0].categorical.categories[0]");
            assert!(!e[0].reason.contains(label));
        }
    }

    #[test]
    fn duplicate_columns_and_categories_are_reported() {
        let e = DatasetDef::new(
            "duo.x",
            "duo",
            "pgn",
            None,
            vec![cat("pgn", &["a"]), cat("niveau", &["a", "a"])],
        )
        .unwrap_err();
        let fields: Vec<_> = e.iter().map(|p| p.field.to_string()).collect();
        assert_eq!(
            fields,
            [
                "schema.columns[0].name",
                "schema.columns[1].categorical.categories[1]"
            ]
        );
    }

    #[test]
    fn a_definition_stored_without_a_mode_takes_identifiers() {
        let def = DatasetDef::new("duo.x", "duo", "pgn", None, vec![]).unwrap();
        let mut json: serde_json::Value = serde_json::to_value(&def).unwrap();
        json.as_object_mut().unwrap().remove("identifier_mode");
        let old: DatasetDef = serde_json::from_value(json).unwrap();
        assert_eq!(old.identifier_mode(), IdentifierMode::Identifier);
        let holder = def.with_identifier_mode(IdentifierMode::HolderPseudonym);
        let text = serde_json::to_string(&holder).unwrap();
        assert!(
            text.contains(r#""identifier_mode":"holder_pseudonym""#),
            "{text}"
        );
        let back: DatasetDef = serde_json::from_str(&text).unwrap();
        assert_eq!(back.identifier_mode(), IdentifierMode::HolderPseudonym);
    }

    fn on(list: &str, version: u32) -> ColumnDef {
        let code_list = CodeListId {
            name: list.into(),
            version,
        };
        ColumnDef::new("niveau", ColumnKind::Classified { code_list })
    }

    #[test]
    fn a_classified_column_needs_a_list_name_and_is_pinned_by_the_caller() {
        let e =
            DatasetDef::new("duo.x", "duo", "pgn", None, vec![on("Geheim Lijst", 0)]).unwrap_err();
        assert_eq!(e[0].field, "schema.columns[0].categorical.code_list");
        assert!(!e[0].reason.contains("Geheim"));

        let def = DatasetDef::new("duo.x", "duo", "pgn", None, vec![on("niveau", 0)]).unwrap();
        assert!(def.columns()[0].kind.is_categorical());
        let pinned = def.clone().with_pinned_code_lists(|_| Some(3)).unwrap();
        assert_eq!(pinned.code_lists()[0].map(|l| l.version), Some(3));
        assert_eq!(def.with_pinned_code_lists(|_| None), Err(0));
    }
}
