//! Table requests: as the analyst words them, and resolved against the
//! catalogue into a tabulation query.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::categories::ShownCategories;
use super::grouping::{group, Grouped, TableDimension, VariableRef};
use super::levels::Levels;
use super::structure::{code_list, Classified, Position};
use super::{Engine, EngineError, Loaded};
use crate::classification::Classifications;
use crate::columns::ColumnData;
use crate::field_path::FieldPath;
use crate::schema::ColumnKind;
use crate::tabulate::{CodeFilter, CountCube, Dimension, MagnitudeSpec, Variable, MAX_DIMENSIONS};

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

impl TableSpec {
    /// Every dataset the request names, as resolution will read them
    /// (names not worded as `dataset.column` are refused there): what the
    /// access decision checks before anything is looked up.
    pub fn named_datasets(&self) -> Vec<&str> {
        let categorical = self
            .group_by
            .iter()
            .chain(self.filters.iter().map(|f| &f.variable))
            .map(|name| VariableRef::parse(name).variable);
        let numeric = match &self.measure {
            MeasureSpec::Count => None,
            MeasureSpec::Sum(v) | MeasureSpec::Mean(v) => Some(v.as_str()),
        };
        let mut names: Vec<&str> = categorical
            .chain(numeric)
            .filter_map(|v| v.rsplit_once('.').map(|(dataset, _)| dataset))
            .chain(self.datasets.iter().map(String::as_str))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// A request resolved against the catalogue.
pub(super) struct Resolved {
    pub(super) loaded: Vec<Arc<Loaded>>,
    pub(super) group_by: Vec<Dimension>,
    pub(super) filters: Vec<CodeFilter>,
    /// What each dimension shows.
    pub(super) dimensions: Vec<TableDimension>,
    /// Cells no person can fall in (empty when none).
    pub(super) structural_zeros: Vec<bool>,
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
        let registry = self.classifications();
        let mut loaded = Vec::new();
        let mut grouped = Vec::new();
        for (i, name) in spec.group_by.iter().enumerate() {
            let field = FieldPath::new("group_by").index(i);
            let r = VariableRef::parse(name);
            let v = self.categorical(&mut loaded, r.variable, &field)?;
            if grouped.iter().any(|(w, _, _)| *w == v) {
                return Err(invalid(field, "variable given twice"));
            }
            grouped.push((v, r, field));
        }
        let filters = self.filters(&mut loaded, &spec.filters, &registry)?;
        let magnitude = match &spec.measure {
            MeasureSpec::Count => None,
            MeasureSpec::Sum(name) | MeasureSpec::Mean(name) => {
                Some(self.numeric(&mut loaded, name)?)
            }
        };
        for (i, name) in spec.datasets.iter().enumerate() {
            self.dataset_slot(&mut loaded, name, || FieldPath::new("datasets").index(i))?;
        }
        let mut used: Vec<Variable> = grouped.iter().map(|(v, _, _)| *v).collect();
        used.extend(filters.iter().map(|f| f.variable));
        let classified = Classified::new(&loaded, &registry, &used, &filters);
        let mut dims = Vec::new();
        for (v, r, field) in grouped {
            let levels = classified.levels(v);
            let level = match r.level {
                None => 0,
                Some(name) => level_named(levels, name, &field)?,
            };
            let mut subtotals = Vec::new();
            for name in &r.subtotals {
                let s = level_named(levels, name, &field)?;
                if s <= level {
                    return Err(invalid(
                        field,
                        "a subtotal level must be coarser than the level grouped at",
                    ));
                }
                subtotals.push(s);
            }
            subtotals.sort_unstable();
            subtotals.dedup();
            let possible = classified.possible(v);
            if self.is_open(&loaded, v) {
                // An open column has one level; its rare labels are pooled.
                dims.push(self.shown_categories(&loaded, v).grouped(v, &filters));
                continue;
            }
            let order = 0..levels.len(level);
            dims.push(group(v, levels, level, &subtotals, &possible, order));
        }
        let cells: usize = dims
            .iter()
            .map(|g: &Grouped| g.categories.len() + 1)
            .product();
        if cells > MAX_TABLE_CELLS {
            let reason = format!("the table would have {cells} cells; at most {MAX_TABLE_CELLS}");
            return Err(invalid(FieldPath::new("group_by"), reason));
        }
        let cube = CountCube::with_axes(dims.iter().map(|g| g.dimension.axis.clone()).collect());
        let layout: Vec<(Variable, &[Position])> = dims
            .iter()
            .map(|g| (g.dimension.variable, g.positions.as_slice()))
            .collect();
        let structural_zeros = classified.structural_zeros(&cube, &layout);
        drop(classified);
        let (group_by, dimensions) = dims
            .into_iter()
            .zip(&spec.group_by)
            .map(|(g, name)| {
                let shown = TableDimension {
                    variable: name.clone(),
                    categories: g.categories,
                };
                (g.dimension, shown)
            })
            .unzip();
        Ok(Resolved {
            loaded,
            group_by,
            filters,
            dimensions,
            structural_zeros,
            magnitude,
        })
    }

    fn filters(
        &self,
        loaded: &mut Vec<Arc<Loaded>>,
        specs: &[FilterSpec],
        registry: &Classifications,
    ) -> Result<Vec<CodeFilter>, EngineError> {
        let mut filters = Vec::new();
        for (i, f) in specs.iter().enumerate() {
            let field = FieldPath::new("filters").index(i);
            let variable_field = field.clone().field("variable");
            let r = VariableRef::parse(&f.variable);
            if !r.subtotals.is_empty() {
                return Err(invalid(variable_field, "a filter has no subtotals"));
            }
            let v = self.categorical(loaded, r.variable, &variable_field)?;
            let l = &loaded[v.dataset];
            let lineage = code_list(&l.info.def, v.column).and_then(|id| registry.lineage(id));
            let levels = Levels::new(category_names(l, v.column), lineage);
            let level = match r.level {
                None => 0,
                Some(name) => level_named(&levels, name, &variable_field)?,
            };
            let values = field.field("values");
            if f.values.is_empty() {
                return Err(invalid(values, "give at least one value"));
            }
            if self.is_open(loaded, v) && level == 0 {
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
                continue;
            }
            let mut allowed_at_level = vec![f.negate; levels.len(level)];
            // A map, so that many values against many categories stay linear.
            let codes: HashMap<&str, usize> = (0..levels.len(level))
                .map(|code| (levels.code(level, code), code))
                .collect();
            for (j, value) in f.values.iter().enumerate() {
                // The value is not echoed: it is the caller's, not a category.
                let code = codes.get(value.as_str()).copied().ok_or_else(|| {
                    invalid(
                        values.clone().index(j),
                        "not a category of the filter's variable",
                    )
                })?;
                allowed_at_level[code] = !f.negate;
            }
            let allowed = levels
                .ancestors(level)
                .iter()
                .map(|&up| allowed_at_level[up as usize])
                .collect();
            filters.push(CodeFilter {
                variable: v,
                allowed,
            });
        }
        Ok(filters)
    }

    /// Whether `variable` is an open categorical column.
    fn is_open(&self, loaded: &[Arc<Loaded>], variable: Variable) -> bool {
        let def = &loaded[variable.dataset].info.def;
        def.columns()[variable.column].kind == ColumnKind::OpenCategorical
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
        let Some(values) = l
            .data
            .value_summary(variable.column, self.policy.few_values)
        else {
            return Err(invalid(field, "not a numeric column"));
        };
        let spec = MagnitudeSpec {
            variable,
            unit,
            distinct_values: values.distinct,
            salt: super::release::salt(name),
        };
        Ok(ResolvedMagnitude {
            spec,
            scale,
            negative_values: values.negative,
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

/// The level of `levels` named `name`; the name is not echoed.
fn level_named(levels: &Levels<'_>, name: &str, field: &FieldPath) -> Result<usize, EngineError> {
    levels.named(name).ok_or_else(|| {
        let reason = match levels.count() {
            1 if levels.lineage().is_none() => {
                "the variable has no classification to group at another level of"
            }
            _ => "not a level of the variable's classification",
        };
        invalid(field.clone(), reason)
    })
}

fn category_names(loaded: &Loaded, column: usize) -> &[String] {
    match loaded.data.column(column) {
        ColumnData::Codes { categories, .. } => categories,
        ColumnData::Numbers(_) => &[],
    }
}

pub(super) fn invalid(field: FieldPath, reason: impl Into<String>) -> EngineError {
    EngineError::InvalidRequest {
        field,
        reason: reason.into(),
    }
}
