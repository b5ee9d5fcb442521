//! Table requests: as the analyst words them, and resolved against the
//! catalogue into a tabulation query.

use std::sync::Arc;

use serde::Serialize;

use super::categories::ShownCategories;
use super::{Engine, EngineError, Loaded};
use crate::columns::ColumnData;
use crate::field_path::FieldPath;
use crate::schema::ColumnKind;
use crate::tabulate::{CodeFilter, Dimension, MagnitudeSpec, Variable, MAX_DIMENSIONS};

/// Most cells (margins included) a table may have.
pub const MAX_TABLE_CELLS: usize = 200_000;

/// What each cell of a table holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MeasureSpec {
    /// Distinct persons.
    #[default]
    Count,
    /// Sum of a numeric `dataset.column`.
    Sum(String),
    /// Mean of a numeric `dataset.column`.
    Mean(String),
}

/// A table request as the analyst worded it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TableSpec {
    /// The project the release belongs to.
    pub project: String,
    /// What the cells hold.
    pub measure: MeasureSpec,
    /// `dataset.column` variables, 1 to 3.
    pub group_by: Vec<String>,
    /// Filters, all of which must hold.
    pub filters: Vec<FilterSpec>,
    /// Further datasets the persons must appear in.
    pub datasets: Vec<String>,
}

/// `variable` in (or, negated, not in) `values`.
#[derive(Clone, Debug, Serialize)]
pub struct FilterSpec {
    /// `dataset.column`.
    pub variable: String,
    /// Categories.
    pub values: Vec<String>,
    /// NOT IN instead of IN.
    pub negate: bool,
}

/// A request resolved against the catalogue.
pub(super) struct Resolved {
    pub(super) loaded: Vec<Arc<Loaded>>,
    pub(super) group_by: Vec<Dimension>,
    pub(super) filters: Vec<CodeFilter>,
    /// Category names shown along each dimension.
    pub(super) categories: Vec<Vec<String>>,
    pub(super) magnitude: Option<ResolvedMagnitude>,
}

/// The numeric variable of a magnitude table.
pub(super) struct ResolvedMagnitude {
    pub(super) spec: MagnitudeSpec,
    /// Digits after the point of stored values.
    pub(super) scale: u32,
    /// Whether any stored value is negative.
    pub(super) negative_values: bool,
}

impl Engine {
    pub(super) fn resolve(&self, spec: &TableSpec) -> Result<Resolved, EngineError> {
        if spec.group_by.is_empty() || spec.group_by.len() > MAX_DIMENSIONS {
            return Err(invalid(
                FieldPath::new("group_by"),
                "give one to three variables",
            ));
        }
        let mut loaded = Vec::new();
        let mut variables = Vec::new();
        for (i, name) in spec.group_by.iter().enumerate() {
            let field = FieldPath::new("group_by").index(i);
            let v = self.categorical(&mut loaded, name, &field)?;
            if variables.contains(&v) {
                return Err(invalid(field, "variable given twice"));
            }
            variables.push(v);
        }
        let filters = self.filters(&mut loaded, &spec.filters)?;
        let magnitude = match &spec.measure {
            MeasureSpec::Count => None,
            MeasureSpec::Sum(name) | MeasureSpec::Mean(name) => {
                Some(self.numeric(&mut loaded, name)?)
            }
        };
        for (i, name) in spec.datasets.iter().enumerate() {
            self.dataset_slot(&mut loaded, name, || FieldPath::new("datasets").index(i))?;
        }
        // A dimension shows only the categories its filters allow.
        let mut group_by = Vec::new();
        let mut categories = Vec::new();
        for v in variables {
            let (labels, dimension) = self.shown_categories(&loaded, v).dimension(v, &filters);
            categories.push(labels);
            group_by.push(dimension);
        }
        let cells: usize = categories
            .iter()
            .map(|c: &Vec<String>| c.len() + 1)
            .product();
        if cells > MAX_TABLE_CELLS {
            let reason = format!("the table would have {cells} cells; at most {MAX_TABLE_CELLS}");
            return Err(invalid(FieldPath::new("group_by"), reason));
        }
        Ok(Resolved {
            loaded,
            group_by,
            filters,
            categories,
            magnitude,
        })
    }

    fn filters(
        &self,
        loaded: &mut Vec<Arc<Loaded>>,
        specs: &[FilterSpec],
    ) -> Result<Vec<CodeFilter>, EngineError> {
        let mut filters = Vec::new();
        for (i, f) in specs.iter().enumerate() {
            let field = FieldPath::new("filters").index(i);
            let v = self.categorical(loaded, &f.variable, &field.clone().field("variable"))?;
            let values = field.field("values");
            if f.values.is_empty() {
                return Err(invalid(values, "give at least one value"));
            }
            let allowed = self
                .shown_categories(loaded, v)
                .allowed(&f.values, f.negate)
                .map_err(|j| {
                    // The value is not echoed: it is the caller's, not a
                    // category. A rare label fails here exactly as an absent one.
                    invalid(values.index(j), "not a category of the filter's variable")
                })?;
            filters.push(CodeFilter {
                variable: v,
                allowed,
            });
        }
        Ok(filters)
    }

    /// The categories tables show for `variable`: an open column's rare
    /// labels pooled, counted over its whole dataset.
    fn shown_categories(&self, loaded: &[Arc<Loaded>], variable: Variable) -> ShownCategories {
        ShownCategories::new(
            &loaded[variable.dataset],
            variable.column,
            self.policy.threshold,
        )
    }

    /// Resolves `dataset.column` to a categorical variable.
    fn categorical(
        &self,
        loaded: &mut Vec<Arc<Loaded>>,
        name: &str,
        field: &FieldPath,
    ) -> Result<Variable, EngineError> {
        let (v, kind) = self.variable(loaded, name, field)?;
        if !kind.is_categorical() {
            return Err(invalid(
                field.clone(),
                "a numeric variable; group and filter on categorical variables",
            ));
        }
        Ok(v)
    }

    /// Resolves `dataset.column` to a numeric variable with what the rules need.
    fn numeric(
        &self,
        loaded: &mut Vec<Arc<Loaded>>,
        name: &str,
    ) -> Result<ResolvedMagnitude, EngineError> {
        let field = FieldPath::new("variable");
        let (variable, kind) = self.variable(loaded, name, &field)?;
        let scale = match kind {
            ColumnKind::Integer => 0,
            ColumnKind::Decimal { scale } => scale,
            _ => {
                return Err(invalid(
                    field,
                    "a categorical variable; sum and mean need a numeric variable",
                ))
            }
        };
        let l = &loaded[variable.dataset];
        let unit = l.info.def.columns()[variable.column].unit;
        let ColumnData::Numbers(values) = l.data.column(variable.column) else {
            return Err(invalid(field, "not a numeric column"));
        };
        let few = self.policy.few_values;
        let mut distinct: Vec<i64> = Vec::new();
        let mut negative_values = false;
        for &v in values {
            negative_values |= v < 0;
            if distinct.len() <= few && !distinct.contains(&v) {
                distinct.push(v);
            }
        }
        if distinct.len() > few {
            distinct.clear();
        }
        distinct.sort_unstable();
        let spec = MagnitudeSpec {
            variable,
            unit,
            distinct_values: distinct,
        };
        Ok(ResolvedMagnitude {
            spec,
            scale,
            negative_values,
        })
    }

    fn variable(
        &self,
        loaded: &mut Vec<Arc<Loaded>>,
        name: &str,
        field: &FieldPath,
    ) -> Result<(Variable, ColumnKind), EngineError> {
        let (dataset, column) = name
            .rsplit_once('.')
            .ok_or_else(|| invalid(field.clone(), "name a variable as `dataset.column`"))?;
        let slot = self.dataset_slot(loaded, dataset, || field.clone())?;
        let def = &loaded[slot].info.def;
        let index = def
            .column_index(column)
            .ok_or_else(|| EngineError::ColumnNotFound {
                dataset: def.name().to_owned(),
                field: field.clone(),
            })?;
        Ok((
            Variable {
                dataset: slot,
                column: index,
            },
            def.columns()[index].kind.clone(),
        ))
    }

    /// The position of `name` among the request's datasets, adding it; a
    /// missing dataset is reported at `field`.
    pub(super) fn dataset_slot(
        &self,
        loaded: &mut Vec<Arc<Loaded>>,
        name: &str,
        field: impl FnOnce() -> FieldPath,
    ) -> Result<usize, EngineError> {
        if let Some(i) = loaded.iter().position(|l| l.info.def.name() == name) {
            return Ok(i);
        }
        let l = self.loaded(name, field)?;
        if l.info.version == 0 {
            return Err(EngineError::NoData(name.to_owned()));
        }
        loaded.push(l);
        Ok(loaded.len() - 1)
    }
}

pub(super) fn invalid(field: FieldPath, reason: impl Into<String>) -> EngineError {
    EngineError::InvalidRequest {
        field,
        reason: reason.into(),
    }
}
