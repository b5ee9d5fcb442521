//! Releasing aggregates: resolve a table request against the catalogue,
//! count, apply disclosure control, audit, and hand back only protected
//! figures.

use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use super::{audit, Engine, EngineError, Loaded};
use crate::auth::Caller;
use crate::columns::ColumnData;
use crate::disclosure::{protect_counts, protect_figure, CellStatus, DisclosurePolicy, Figure};
use crate::tabulate::{count_persons, CodeFilter, CountQuery, Dimension, Variable};

/// Most cells (margins included) a table may have.
pub const MAX_TABLE_CELLS: usize = 200_000;
/// Most grouping variables.
const MAX_DIMENSIONS: usize = 3;

/// A table request as the analyst worded it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TableSpec {
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

/// One released or withheld cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableCell {
    /// Category index per dimension; `None` for a total.
    pub coordinates: Vec<Option<usize>>,
    /// The count, only when released.
    pub count: Option<u64>,
    /// What disclosure control decided.
    pub status: CellStatus,
}

/// A table that passed disclosure control.
#[derive(Clone, Debug)]
pub struct ProtectedTable {
    /// The linked datasets.
    pub datasets: Vec<String>,
    /// Each grouping variable with its categories.
    pub dimensions: Vec<(String, Vec<String>)>,
    /// Every cell and margin.
    pub cells: Vec<TableCell>,
    /// The policy applied.
    pub policy: DisclosurePolicy,
}

/// Protected linkage figures.
#[derive(Clone, Debug)]
pub struct LinkageFigures {
    /// Persons per dataset.
    pub datasets: Vec<(String, Figure)>,
    /// Persons linked between each pair of datasets.
    pub pairs: Vec<(String, String, Figure)>,
    /// The policy applied.
    pub policy: DisclosurePolicy,
}

/// A request resolved against the catalogue.
struct Resolved {
    loaded: Vec<Arc<Loaded>>,
    group_by: Vec<Variable>,
    filters: Vec<CodeFilter>,
    /// Category codes each grouping variable shows, in order.
    shown: Vec<Vec<usize>>,
}

impl Engine {
    /// Counts distinct linked persons, applies disclosure control, audits
    /// the release and returns the protected table.
    pub fn tabulate(
        &self,
        caller: &Caller,
        spec: &TableSpec,
        now: SystemTime,
    ) -> Result<ProtectedTable, EngineError> {
        let r = self.resolve(spec)?;
        let group_by = r
            .group_by
            .iter()
            .zip(&r.shown)
            .map(|(&v, shown)| {
                Dimension::new(v, categories(&r.loaded[v.dataset], v.column).len(), shown)
            })
            .collect();
        let query = CountQuery {
            datasets: r.loaded.iter().map(|l| l.data.as_ref()).collect(),
            group_by,
            filters: r.filters,
        };
        let cube = count_persons(&query);
        let status = protect_counts(&cube, &self.policy)?;
        let cells: Vec<TableCell> = (0..cube.len())
            .map(|i| TableCell {
                coordinates: cube.coordinates(i),
                count: (status[i] == CellStatus::Released).then(|| cube.count(i)),
                status: status[i],
            })
            .collect();
        let dimensions = spec
            .group_by
            .iter()
            .zip(r.group_by.iter().zip(&r.shown))
            .map(|(name, (v, shown))| {
                let all = categories(&r.loaded[v.dataset], v.column);
                (
                    name.clone(),
                    shown.iter().map(|&c| all[c].clone()).collect(),
                )
            })
            .collect();
        let table = ProtectedTable {
            datasets: r
                .loaded
                .iter()
                .map(|l| l.info.def.name().to_owned())
                .collect(),
            dimensions,
            cells,
            policy: self.policy,
        };
        let withheld = table.cells.iter().filter(|c| c.count.is_none()).count();
        let entry = audit(
            caller,
            now,
            "table.release",
            serde_json::json!({
                "request": spec,
                "datasets": table.datasets,
                "cells": table.cells.len(),
                "withheld": withheld,
            }),
        );
        self.lock_store().append_audit(&entry)?;
        Ok(table)
    }

    fn resolve(&self, spec: &TableSpec) -> Result<Resolved, EngineError> {
        if spec.group_by.is_empty() || spec.group_by.len() > MAX_DIMENSIONS {
            return Err(invalid("group_by", "give one to three variables"));
        }
        let mut r = Resolved {
            loaded: Vec::new(),
            group_by: Vec::new(),
            filters: Vec::new(),
            shown: Vec::new(),
        };
        for (i, name) in spec.group_by.iter().enumerate() {
            let v = self.variable(&mut r.loaded, name, &format!("group_by[{i}]"))?;
            if r.group_by.contains(&v) {
                return Err(invalid(&format!("group_by[{i}]"), "variable given twice"));
            }
            r.group_by.push(v);
        }
        for (i, f) in spec.filters.iter().enumerate() {
            let field = format!("filters[{i}]");
            let v = self.variable(&mut r.loaded, &f.variable, &field)?;
            let cats = categories(&r.loaded[v.dataset], v.column);
            let mut allowed = vec![f.negate; cats.len()];
            if f.values.is_empty() {
                return Err(invalid(&field, "give at least one value"));
            }
            for value in &f.values {
                let code = cats.iter().position(|c| c == value).ok_or_else(|| {
                    invalid(
                        &field,
                        &format!("`{}` has no category `{value}`", f.variable),
                    )
                })?;
                allowed[code] = !f.negate;
            }
            r.filters.push(CodeFilter {
                variable: v,
                allowed,
            });
        }
        for name in &spec.datasets {
            self.dataset_slot(&mut r.loaded, name)?;
        }
        // A dimension shows only the categories its filters allow.
        for v in &r.group_by {
            let n = categories(&r.loaded[v.dataset], v.column).len();
            let shown = (0..n)
                .filter(|&code| {
                    r.filters
                        .iter()
                        .all(|f| f.variable != *v || f.allowed[code])
                })
                .collect();
            r.shown.push(shown);
        }
        let cells: usize = r.shown.iter().map(|s| s.len() + 1).product();
        if cells > MAX_TABLE_CELLS {
            return Err(invalid(
                "group_by",
                &format!("the table would have {cells} cells; at most {MAX_TABLE_CELLS}"),
            ));
        }
        Ok(r)
    }

    /// Resolves `dataset.column` to a categorical variable.
    fn variable(
        &self,
        loaded: &mut Vec<Arc<Loaded>>,
        name: &str,
        field: &str,
    ) -> Result<Variable, EngineError> {
        let (dataset, column) = name
            .rsplit_once('.')
            .ok_or_else(|| invalid(field, "name a variable as `dataset.column`"))?;
        let slot = self.dataset_slot(loaded, dataset)?;
        let def = &loaded[slot].info.def;
        let index = def
            .column_index(column)
            .ok_or_else(|| EngineError::ColumnNotFound {
                dataset: dataset.to_owned(),
                column: column.to_owned(),
            })?;
        if !def.columns()[index].kind.is_categorical() {
            return Err(invalid(
                field,
                &format!("`{name}` is numeric; group and filter on categorical variables"),
            ));
        }
        Ok(Variable {
            dataset: slot,
            column: index,
        })
    }

    /// The position of `name` among the request's datasets, adding it.
    fn dataset_slot(
        &self,
        loaded: &mut Vec<Arc<Loaded>>,
        name: &str,
    ) -> Result<usize, EngineError> {
        if let Some(i) = loaded.iter().position(|l| l.info.def.name() == name) {
            return Ok(i);
        }
        let l = self.loaded(name)?;
        if l.info.version == 0 {
            return Err(EngineError::NoData(name.to_owned()));
        }
        loaded.push(l);
        Ok(loaded.len() - 1)
    }

    /// Persons per dataset and linked persons per pair, protected and audited.
    /// With no names, every dataset that holds data.
    pub fn linkage(
        &self,
        caller: &Caller,
        names: &[String],
        now: SystemTime,
    ) -> Result<LinkageFigures, EngineError> {
        let mut loaded = Vec::new();
        if names.is_empty() {
            loaded.extend(
                self.read()
                    .datasets
                    .values()
                    .filter(|l| l.info.version > 0)
                    .cloned(),
            );
        }
        for name in names {
            self.dataset_slot(&mut loaded, name)?;
        }
        let name = |l: &Loaded| l.info.def.name().to_owned();
        let datasets = loaded
            .iter()
            .map(|l| (name(l), protect_figure(l.data.rows() as u64, &self.policy)))
            .collect();
        let mut pairs = Vec::new();
        for (i, a) in loaded.iter().enumerate() {
            for b in &loaded[i + 1..] {
                let (small, large) = if a.data.rows() <= b.data.rows() {
                    (a, b)
                } else {
                    (b, a)
                };
                let linked = small
                    .data
                    .persons()
                    .iter()
                    .filter(|&&p| large.data.row_of(p).is_some())
                    .count();
                pairs.push((
                    name(a),
                    name(b),
                    protect_figure(linked as u64, &self.policy),
                ));
            }
        }
        let entry = audit(
            caller,
            now,
            "linkage.release",
            serde_json::json!({ "datasets": names }),
        );
        self.lock_store().append_audit(&entry)?;
        Ok(LinkageFigures {
            datasets,
            pairs,
            policy: self.policy,
        })
    }
}

fn categories(loaded: &Loaded, column: usize) -> &[String] {
    match loaded.data.column(column) {
        ColumnData::Codes { categories, .. } => categories,
        ColumnData::Numbers(_) => &[],
    }
}

fn invalid(field: &str, reason: &str) -> EngineError {
    EngineError::InvalidRequest {
        field: field.to_owned(),
        reason: reason.to_owned(),
    }
}
