//! Conversions between protobuf messages and domain types.

use crate::classification::{Code, CodeList, CodeListDraft, CodeListId};
use crate::disclosure::{CellStatus, DisclosurePolicy, Figure, GroupDisclosure};
use crate::engine::{DatasetInfo, EngineError, FilterSpec, MeasureSpec, TableSpec};
use crate::field_path::FieldPath;
use crate::proto::{self, column};
use crate::schema::{
    schema_column, ColumnDef, ColumnKind, DatasetDef, IdentifierMode, SchemaError, Unit,
};

/// Validates a dataset declaration.
pub(crate) fn dataset_def_from_proto(
    r: proto::CreateDatasetRequest,
) -> Result<DatasetDef, EngineError> {
    let schema = r.schema.unwrap_or_default();
    let mut problems = Vec::new();
    let columns = (schema.columns.into_iter().enumerate())
        .map(|(i, c)| column_from_proto(i, c, &mut problems))
        .collect();
    let household = Some(schema.household_column.as_str()).filter(|h| !h.is_empty());
    let mode = identifier_mode_from_proto(schema.identifier_mode, &mut problems);
    let def = DatasetDef::new(
        &r.name,
        &r.organisation,
        &schema.identifier_column,
        household,
        columns,
    )
    .map(|def| def.with_identifier_mode(mode));
    match def {
        Ok(def) if problems.is_empty() => Ok(def),
        Ok(_) => Err(EngineError::InvalidDefinition(problems)),
        Err(more) => {
            problems.extend(more);
            Err(EngineError::InvalidDefinition(problems))
        }
    }
}

/// The declared identifier mode; an unknown value is a problem (and the
/// default stands in, so the other checks still run).
fn identifier_mode_from_proto(mode: i32, problems: &mut Vec<SchemaError>) -> IdentifierMode {
    match proto::IdentifierMode::try_from(mode) {
        Ok(proto::IdentifierMode::Unspecified | proto::IdentifierMode::Identifier) => {
            IdentifierMode::Identifier
        }
        Ok(proto::IdentifierMode::HolderPseudonym) => IdentifierMode::HolderPseudonym,
        Err(_) => {
            problems.push(SchemaError {
                field: FieldPath::new("schema").field("identifier_mode"),
                reason: "not a known IdentifierMode value".into(),
            });
            IdentifierMode::Identifier
        }
    }
}

/// The identifier mode as the API shows it (always explicit).
pub(crate) fn identifier_mode_to_proto(mode: IdentifierMode) -> proto::IdentifierMode {
    match mode {
        IdentifierMode::Identifier => proto::IdentifierMode::Identifier,
        IdentifierMode::HolderPseudonym => proto::IdentifierMode::HolderPseudonym,
    }
}

/// Column `i` of a declaration. A column with a problem of its own is
/// replaced by a plain integer column of the same name, so that the
/// definition's checks still see every column at its index.
fn column_from_proto(i: usize, c: proto::Column, problems: &mut Vec<SchemaError>) -> ColumnDef {
    let mut problem = |field: FieldPath, reason: &str| {
        problems.push(SchemaError {
            field,
            reason: reason.into(),
        });
        ColumnDef::new(c.name.clone(), ColumnKind::Integer)
    };
    // An enum value this server does not know is refused, not read as the default.
    let unit = match proto::Unit::try_from(c.unit) {
        Ok(proto::Unit::Person) => Unit::Person,
        Ok(proto::Unit::Household) => Unit::Household,
        Err(_) => return problem(schema_column(i).field("unit"), "not a known Unit value"),
    };
    let kind = match c.kind {
        Some(column::Kind::Categorical(cat)) if !cat.code_list.is_empty() => {
            if cat.open || !cat.categories.is_empty() {
                return problem(
                    schema_column(i).field("categorical"),
                    "a column on a code list declares no categories and is not open",
                );
            }
            ColumnKind::Classified {
                code_list: CodeListId {
                    name: cat.code_list,
                    version: cat.code_list_version,
                },
            }
        }
        Some(column::Kind::Categorical(cat)) if cat.code_list_version != 0 => {
            return problem(
                schema_column(i)
                    .field("categorical")
                    .field("code_list_version"),
                "a version needs the code list's name",
            )
        }
        Some(column::Kind::Categorical(cat)) if cat.open && cat.categories.is_empty() => {
            ColumnKind::OpenCategorical
        }
        Some(column::Kind::Categorical(cat)) if cat.open => {
            return problem(
                schema_column(i).field("categorical"),
                "an open column declares no categories",
            )
        }
        Some(column::Kind::Categorical(cat)) => ColumnKind::Categorical {
            categories: cat.categories,
        },
        Some(column::Kind::Integer(_)) => ColumnKind::Integer,
        Some(column::Kind::Decimal(d)) => ColumnKind::Decimal { scale: d.scale },
        None => {
            return problem(
                schema_column(i).field("kind"),
                "say whether the column is categorical, integer or decimal",
            )
        }
    };
    ColumnDef {
        name: c.name,
        kind,
        unit,
    }
}

/// A dataset as the API shows it.
pub(crate) fn dataset_to_proto(info: &DatasetInfo) -> proto::Dataset {
    let def = &info.def;
    let columns = def
        .columns()
        .iter()
        .map(|c| proto::Column {
            name: c.name.clone(),
            kind: Some(match &c.kind {
                ColumnKind::Categorical { categories } => {
                    column::Kind::Categorical(proto::Categorical {
                        categories: categories.clone(),
                        ..Default::default()
                    })
                }
                ColumnKind::OpenCategorical => column::Kind::Categorical(proto::Categorical {
                    open: true,
                    ..Default::default()
                }),
                ColumnKind::Classified { code_list } => {
                    column::Kind::Categorical(proto::Categorical {
                        code_list: code_list.name.clone(),
                        code_list_version: code_list.version,
                        ..Default::default()
                    })
                }
                ColumnKind::Integer => column::Kind::Integer(proto::Integer {}),
                ColumnKind::Decimal { scale } => {
                    column::Kind::Decimal(proto::Decimal { scale: *scale })
                }
            }),
            unit: match c.unit {
                Unit::Person => proto::Unit::Person,
                Unit::Household => proto::Unit::Household,
            } as i32,
        })
        .collect();
    proto::Dataset {
        name: def.name().to_owned(),
        organisation: def.organisation().to_owned(),
        schema: Some(proto::Schema {
            identifier_column: def.identifier_column().to_owned(),
            household_column: def.household_column().unwrap_or_default().to_owned(),
            columns,
            identifier_mode: identifier_mode_to_proto(def.identifier_mode()) as i32,
        }),
        version: info.version,
    }
}

/// A code list draft as the engine takes it: empty strings are absent.
pub(crate) fn code_list_draft_from_proto(r: proto::CreateCodeListRequest) -> CodeListDraft {
    let present = |s: String| Some(s).filter(|s| !s.is_empty());
    CodeListDraft {
        name: r.name,
        parent: present(r.parent),
        codes: (r.codes.into_iter())
            .map(|c| Code {
                code: c.code,
                label: c.label,
                label_en: present(c.label_en),
                parent: present(c.parent),
            })
            .collect(),
    }
}

/// A code list version as the API shows it.
pub(crate) fn code_list_to_proto(list: &CodeList) -> proto::CodeList {
    let parent = list.parent();
    proto::CodeList {
        name: list.id().name.clone(),
        version: list.id().version,
        parent: parent.map(|p| p.name.clone()).unwrap_or_default(),
        parent_version: parent.map_or(0, |p| p.version),
        codes: (list.codes().iter())
            .map(|c| proto::Code {
                code: c.code.clone(),
                label: c.label.clone(),
                label_en: c.label_en.clone().unwrap_or_default(),
                parent: c.parent.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

/// A table request as the engine takes it; an unknown measure is refused.
pub(crate) fn table_spec_from_proto(r: proto::TableRequest) -> Result<TableSpec, EngineError> {
    let measure = match proto::MeasureKind::try_from(r.measure) {
        Ok(proto::MeasureKind::Count) => MeasureSpec::Count,
        Ok(proto::MeasureKind::Sum) => MeasureSpec::Sum(r.variable),
        Ok(proto::MeasureKind::Mean) => MeasureSpec::Mean(r.variable),
        Err(_) => {
            return Err(EngineError::InvalidRequest {
                field: FieldPath::new("measure"),
                reason: "not a known MeasureKind value".into(),
            })
        }
    };
    Ok(TableSpec {
        project: r.project,
        measure,
        group_by: r.group_by,
        filters: r
            .filters
            .into_iter()
            .map(|f| FilterSpec {
                variable: f.variable,
                values: f.values,
                negate: f.negate,
            })
            .collect(),
        datasets: r.datasets,
    })
}

pub(crate) fn status_to_proto(s: CellStatus) -> proto::CellStatus {
    match s {
        CellStatus::Released => proto::CellStatus::Released,
        CellStatus::WithheldThreshold => proto::CellStatus::WithheldThreshold,
        CellStatus::WithheldSecondary => proto::CellStatus::WithheldSecondary,
        CellStatus::WithheldGroup => proto::CellStatus::WithheldGroup,
        CellStatus::WithheldDominance => proto::CellStatus::WithheldDominance,
        CellStatus::WithheldPPercent => proto::CellStatus::WithheldPPercent,
        CellStatus::WithheldValueCounts => proto::CellStatus::WithheldValueCounts,
        CellStatus::WithheldDifferencing => proto::CellStatus::WithheldDifferencing,
        CellStatus::StructuralZero => proto::CellStatus::StructuralZero,
    }
}

pub(crate) fn policy_to_proto(p: &DisclosurePolicy) -> proto::DisclosurePolicy {
    proto::DisclosurePolicy {
        threshold: p.threshold,
        rounding_base: p.rounding_base,
        zeros_disclosive: p.zeros_disclosive,
        group_disclosure: match p.group_disclosure {
            GroupDisclosure::MultipleHolders => "multiple_holders",
            GroupDisclosure::Always => "always",
            GroupDisclosure::Never => "never",
        }
        .to_owned(),
        dominance_n: p.dominance_n as u32,
        dominance_k: p.dominance_k,
        p_percent: p.p_percent,
        few_values: p.few_values as u32,
        count_protection: p.count_protection,
        perturbation: p.perturbation.map(|q| proto::Perturbation {
            max_noise: q.max_noise,
            variance: q.variance,
            js: q.js,
            magnitude_kind: match q.magnitude_kind {
                crate::disclosure::MagnitudeNoiseKind::PerUnit => "per_unit",
                crate::disclosure::MagnitudeNoiseKind::PerCell => "per_cell",
            }
            .to_owned(),
            magnitude_min: q.magnitude_min,
            magnitude_max: q.magnitude_max,
        }),
        table_rounding: p.table_rounding,
        release_ledger: p.release_ledger,
    }
}

pub(crate) fn figure_to_proto(f: &Figure) -> proto::Figure {
    proto::Figure {
        rounded: f.rounded,
        status: status_to_proto(f.status) as i32,
    }
}
