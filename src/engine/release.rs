//! Releasing aggregates: tabulate a resolved request, apply disclosure
//! control, record the release and its audit entry, and hand back only
//! protected figures.

use std::time::SystemTime;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::request::{MeasureSpec, TableSpec};
use super::{audit, Engine, EngineError};
use crate::auth::Caller;
use crate::disclosure::{
    judge_table, protect_figure, BudgetExceeded, CellStatus, DisclosureError, DisclosurePolicy,
    Figure, Protected, TableContext, TableKind,
};
use crate::ledger::{datasets_key, print_of, LedgerCell, SetHash};
use crate::store::{ReleaseCells, ReleaseRecord};
use crate::tabulate::{tabulate, Query, TableStats};

/// What a refused differencing request is told: the rule, nothing more.
pub const POPULATION_REFUSAL: &str =
    "refused: a cell of this table covers persons that differ from those of a cell released \
     before over the same datasets by fewer persons than the threshold; widen or narrow the \
     population or its categories by more, or ask for exactly the earlier cells";

/// Project name used when a request names none.
pub const DEFAULT_PROJECT: &str = "default";

/// One released or withheld cell.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TableCell {
    /// Category index per dimension; `None` for a total.
    pub coordinates: Vec<Option<usize>>,
    /// The count (count tables), only when released.
    pub count: Option<u64>,
    /// The sum or mean (magnitude tables), only when released.
    pub value: Option<f64>,
    /// What disclosure control decided.
    pub status: CellStatus,
}

/// A table that passed disclosure control.
#[derive(Clone, Debug)]
pub struct ProtectedTable {
    /// The release's number in the store.
    pub release: i64,
    /// The linked datasets.
    pub datasets: Vec<String>,
    /// Each grouping variable with its categories and subtotals.
    pub dimensions: Vec<super::TableDimension>,
    /// What the cells hold.
    pub measure: MeasureSpec,
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

impl Engine {
    /// Tabulates, applies disclosure control, records the release with its
    /// full request under its project, records it, and returns the protected table.
    pub fn tabulate(
        &self,
        caller: &Caller,
        spec: &TableSpec,
        now: SystemTime,
    ) -> Result<ProtectedTable, EngineError> {
        self.table_limits.request.check(spec)?;
        let mut spec = spec.clone();
        if spec.project.is_empty() {
            spec.project = DEFAULT_PROJECT.to_owned();
        }
        let r = self.resolve(&spec)?;
        let record_keys = self.record_keys();
        let query = Query {
            datasets: r.loaded.iter().map(|l| l.data.as_ref()).collect(),
            group_by: r.group_by,
            filters: r.filters,
            record_keys: &record_keys,
            print_key: &self.print_key,
            magnitude: r.magnitude.as_ref().map(|m| m.spec.clone()),
            structural_zeros: r.structural_zeros,
        };
        let started = std::time::Instant::now();
        let stats = tabulate(&query);
        let tabulated = started.elapsed();
        let (kind, variable) = match &spec.measure {
            MeasureSpec::Count => (TableKind::Count, ""),
            MeasureSpec::Sum(v) => (TableKind::Sum, v.as_str()),
            MeasureSpec::Mean(v) => (TableKind::Mean, v.as_str()),
        };
        let mut holders: Vec<&str> = r.loaded.iter().map(|l| l.info.def.organisation()).collect();
        holders.sort_unstable();
        holders.dedup();
        let ctx = TableContext {
            kind,
            holders: holders.len(),
            negative_values: r.magnitude.as_ref().is_some_and(|m| m.negative_values),
            salt: salt(variable) as u32,
        };
        let protected = self.protect(caller, &spec, &stats, &ctx, now)?;
        tracing::info!(
            cells = stats.cube.len(),
            attacker_work = protected.work,
            tabulate_ms = tabulated.as_millis() as u64,
            protect_ms = (started.elapsed() - tabulated).as_millis() as u64,
            "table protected"
        );
        let unit = 10f64.powi(r.magnitude.as_ref().map_or(0, |m| m.scale as i32));
        let cells: Vec<TableCell> = protected
            .cells
            .iter()
            .enumerate()
            .map(|(i, c)| TableCell {
                coordinates: stats.cube.coordinates(i),
                count: c.count,
                value: c.value.map(|v| v / unit),
                status: c.status,
            })
            .collect();
        let names: Vec<&str> = r.loaded.iter().map(|l| l.info.def.name()).collect();
        let ledger_cells: Vec<LedgerCell> = stats
            .prints
            .iter()
            .zip(&protected.cells)
            // An empty cell is near nothing: not kept.
            .filter(|(print, _)| print.persons.count > 0)
            .map(|(&print, c)| LedgerCell {
                print,
                // A sum table shows the count even where it withholds the sum.
                released: c.status == CellStatus::Released || c.count.is_some(),
            })
            .collect();
        let mut table = ProtectedTable {
            release: 0,
            datasets: r
                .loaded
                .iter()
                .map(|l| l.info.def.name().to_owned())
                .collect(),
            dimensions: r.dimensions,
            measure: spec.measure.clone(),
            cells,
            policy: self.policy,
        };
        let cells = ReleaseCells {
            datasets: &datasets_key(&names),
            cells: &ledger_cells,
        };
        table.release = self.record(caller, &spec, &table, &cells, now)?;
        Ok(table)
    }

    /// Applies disclosure control within the table limits. A table over its
    /// attacker budget is refused, and the refusal audited, before any linear
    /// program is solved where the budget allows telling up front; one that
    /// needs the attacker check holds one of the caller's attacker-check slots while
    /// it runs.
    fn protect(
        &self,
        caller: &Caller,
        spec: &TableSpec,
        stats: &TableStats,
        ctx: &TableContext,
        now: SystemTime,
    ) -> Result<Protected, EngineError> {
        let limits = &self.table_limits.attacker;
        let judged = judge_table(stats, &self.policy, ctx)?;
        if let Err(e) = judged.check_limits(limits) {
            return Err(self.refuse_over_budget(caller, spec, e, now));
        }
        let _slot = if judged.needs_attacker_check() {
            let slot = match self.attacker_slots.acquire(caller.subject()) {
                Ok(slot) => slot,
                Err(busy) => {
                    return Err(self.audit_table_refusal(
                        caller,
                        spec,
                        "attacker_checks_busy",
                        busy,
                        now,
                    ))
                }
            };
            if let Some(hook) = &self.attacker_hook {
                hook.call();
            }
            Some(slot)
        } else {
            None
        };
        judged
            .protect(limits, self.ptable.as_ref())
            .map_err(|e| self.refuse_over_budget(caller, spec, e, now))
    }

    /// Audits the refusal of a table over its budget; other errors pass.
    fn refuse_over_budget(
        &self,
        caller: &Caller,
        spec: &TableSpec,
        e: DisclosureError,
        now: SystemTime,
    ) -> EngineError {
        let DisclosureError::OverBudget(exceeded) = e else {
            return e.into();
        };
        tracing::info!(?exceeded, "table over its attacker budget");
        let rule = match exceeded {
            BudgetExceeded::UnsafeCells { .. } => "attacker_budget_unsafe_cells",
            BudgetExceeded::Work(_) => "attacker_budget_work",
        };
        self.audit_table_refusal(caller, spec, rule, EngineError::OverBudget(exceeded), now)
    }

    /// Audits a table refused by `rule`; returns the refusal.
    fn audit_table_refusal(
        &self,
        caller: &Caller,
        spec: &TableSpec,
        rule: &'static str,
        refusal: EngineError,
        now: SystemTime,
    ) -> EngineError {
        let detail = serde_json::json!({ "project": spec.project, "request": spec, "rule": rule });
        match self
            .lock_store()
            .append_audit(&audit(caller, now, "table.refused", detail))
        {
            Ok(()) => refusal,
            Err(store) => store.into(),
        }
    }

    /// Checks the table's cells against the ledger, then stores the release
    /// (request, policy, released cells, cell prints) and its audit entry.
    fn record(
        &self,
        caller: &Caller,
        spec: &TableSpec,
        table: &ProtectedTable,
        cells: &ReleaseCells<'_>,
        now: SystemTime,
    ) -> Result<i64, EngineError> {
        let mut guard = self.lock_ledger();
        if !guard.admits(cells.datasets, cells.cells) {
            let detail = serde_json::json!({ "project": spec.project, "request": spec, "rule": "cell_difference" });
            guard
                .store
                .append_audit(&audit(caller, now, "table.refused", detail))?;
            return Err(EngineError::Refused(POPULATION_REFUSAL));
        }
        let mut withheld = std::collections::BTreeMap::<String, usize>::new();
        for c in table.cells.iter().filter(|c| c.status.is_withheld()) {
            let key = serde_json::to_value(c.status)
                .map(|v| v.to_string())
                .unwrap_or_default();
            *withheld
                .entry(key.trim_matches('"').to_owned())
                .or_default() += 1;
        }
        let detail = serde_json::json!({
            "project": spec.project,
            "request": spec,
            "datasets": table.datasets,
            "cells": table.cells.len(),
            "withheld": withheld,
        });
        let record = ReleaseRecord {
            project: spec.project.clone(),
            request: serde_json::to_value(spec).unwrap_or_default(),
            policy: serde_json::to_value(table.policy).unwrap_or_default(),
            cells: serde_json::to_value(&table.cells).unwrap_or_default(),
        };
        guard.commit(
            &record,
            std::slice::from_ref(cells),
            &audit(caller, now, "table.release", detail),
        )
    }

    /// Persons per dataset and linked persons per pair, protected, recorded
    /// and audited. With no names, every dataset that holds data. A pair's
    /// figure is withheld when its linked population differs from one
    /// reported before by a few persons (a holder re-uploading a set plus
    /// one person would otherwise learn whether that person is linked).
    pub fn linkage(
        &self,
        caller: &Caller,
        names: &[String],
        now: SystemTime,
    ) -> Result<LinkageFigures, EngineError> {
        self.table_limits.request.check_datasets(names)?;
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
        for (i, name) in names.iter().enumerate() {
            self.dataset_slot(&mut loaded, name, || {
                crate::field_path::FieldPath::new("datasets").index(i)
            })?;
        }
        let keys = self.record_keys();
        let key_of = |persons: &[u32]| {
            persons
                .iter()
                .fold(0u32, |k, &p| k.wrapping_add(keys[p as usize]))
        };
        let protect = |persons: &[u32]| {
            protect_figure(
                persons.len() as u64,
                key_of(persons),
                &self.policy,
                self.ptable.as_ref(),
            )
        };
        let name = |l: &super::Loaded| l.info.def.name().to_owned();
        let datasets = loaded
            .iter()
            .map(|l| (name(l), protect(l.data.persons())))
            .collect();
        let mut linked_sets = Vec::new();
        for (i, a) in loaded.iter().enumerate() {
            for b in &loaded[i + 1..] {
                let (small, large) = if a.data.rows() <= b.data.rows() {
                    (a, b)
                } else {
                    (b, a)
                };
                let linked: Vec<u32> = small
                    .data
                    .persons()
                    .iter()
                    .copied()
                    .filter(|&p| large.data.row_of(p).is_some())
                    .collect();
                linked_sets.push((name(a), name(b), linked));
            }
        }
        let key = &self.print_key;
        let own: std::collections::HashMap<String, SetHash> = loaded
            .iter()
            .map(|l| {
                let mut h = SetHash::default();
                l.data.persons().iter().for_each(|&p| h.add(key.tag(p)));
                (name(l), h)
            })
            .collect();
        let mut guard = self.lock_ledger();
        let mut pairs = Vec::new();
        let mut admitted = Vec::new();
        for (a, b, linked) in &linked_sets {
            let cell = LedgerCell {
                print: print_of(key, linked, &mut [own[a], own[b]]),
                released: true,
            };
            let datasets = datasets_key(&["linkage", a, b]);
            let figure = if guard.admits(&datasets, std::slice::from_ref(&cell)) {
                admitted.push((datasets, cell));
                protect(linked)
            } else {
                Figure {
                    rounded: None,
                    status: CellStatus::WithheldDifferencing,
                }
            };
            pairs.push((a.clone(), b.clone(), figure));
        }
        let figures = LinkageFigures {
            datasets,
            pairs,
            policy: self.policy,
        };
        let record = ReleaseRecord {
            project: "linkage".into(),
            request: serde_json::json!({ "datasets": names }),
            policy: serde_json::to_value(self.policy).unwrap_or_default(),
            cells: serde_json::json!({ "datasets": figures.datasets, "pairs": figures.pairs }),
        };
        let entry = audit(
            caller,
            now,
            "linkage.release",
            serde_json::json!({ "datasets": names }),
        );
        let cells: Vec<ReleaseCells<'_>> = admitted
            .iter()
            .map(|(datasets, cell)| ReleaseCells {
                datasets,
                cells: std::slice::from_ref(cell),
            })
            .collect();
        guard.commit(&record, &cells, &entry)?;
        Ok(figures)
    }
}

/// A variable's salt for magnitude noise: stable across requests.
pub(super) fn salt(variable: &str) -> u64 {
    let digest = Sha256::digest(variable.as_bytes());
    u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
}
