//! Releasing aggregates: tabulate a resolved request, apply disclosure
//! control, record the release and its log entry, and hand back only
//! protected figures.

use std::time::SystemTime;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::request::{MeasureSpec, TableSpec};
use super::{entry, millis, Engine, EngineError};
use crate::audit::event::{Entry, EntryError, Event};
use crate::audit::Receipt;
use crate::auth::Caller;
use crate::disclosure::{
    judge_table, protect_figure, BudgetExceeded, CellStatus, DisclosureError, DisclosurePolicy,
    Figure, Protected, TableContext, TableKind,
};
use crate::ledger::{datasets_key, print_of, LedgerCell, SetHash};
use crate::store::{PendingRelease, ReleaseCells, ReleaseRecord, StoreError};
use crate::tabulate::{tabulate_in, Query, TableStats};

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
    /// The release's log entry, with a signed checkpoint that includes it.
    pub receipt: Option<Receipt>,
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
    /// The release's log entry, with a signed checkpoint that includes it.
    pub receipt: Option<Receipt>,
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
        spec.project = project_or_default(&spec.project).to_owned();
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
            sides: Some(&self.sides),
            scratch: Some(&self.scratch),
        };
        let started = std::time::Instant::now();
        let stats = tabulate_in(&query, self.table_limits.tabulate_threads);
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
            receipt: None,
        };
        let cells = ReleaseCells {
            datasets: &datasets_key(&names),
            cells: &ledger_cells,
        };
        let (release, receipt) = self.record(caller, &spec, &table, &cells, now)?;
        table.release = release;
        table.receipt = Some(receipt);
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
                    return Err(self.log_table_refusal(
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

    /// Logs the refusal of a table over its budget; other errors pass.
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
        self.log_table_refusal(caller, spec, rule, EngineError::OverBudget(exceeded), now)
    }

    /// Logs a table refused by `rule`; returns the refusal.
    fn log_table_refusal(
        &self,
        caller: &Caller,
        spec: &TableSpec,
        rule: &'static str,
        refusal: EngineError,
        now: SystemTime,
    ) -> EngineError {
        let logged = refused(spec, rule)
            .and_then(|event| Ok(self.lock_store().append_entry(&entry(caller, now, event))?));
        match logged {
            Ok(_) => refusal,
            Err(failed) => failed,
        }
    }

    /// Checks the table's cells against the ledger, then stores the release
    /// (request, policy, released cells, cell prints) and its log entry in
    /// the next group commit.
    fn record(
        &self,
        caller: &Caller,
        spec: &TableSpec,
        table: &ProtectedTable,
        cells: &ReleaseCells<'_>,
        now: SystemTime,
    ) -> Result<(i64, Receipt), EngineError> {
        let mut statuses = std::collections::BTreeMap::<String, u64>::new();
        for c in &table.cells {
            *statuses.entry(status_name(c.status)?).or_default() += 1;
        }
        let record = ReleaseRecord {
            project: spec.project.clone(),
            request: json_text(spec)?,
            policy: json_text(&table.policy)?,
            cells: json_text(&table.cells)?,
        };
        let (request, policy) = (json_value(spec)?, json_value(&table.policy)?);
        let (project, datasets) = (spec.project.clone(), table.datasets.clone());
        let (count, digest) = (table.cells.len() as u64, hex_sha256(&record.cells));
        let (at_ms, actor) = (millis(now), caller.subject().to_owned());
        let entry = move |release| {
            let event = Event::TableReleased {
                release,
                project,
                request,
                policy,
                datasets,
                cells: count,
                statuses,
                cells_digest: digest,
            };
            Entry::new(at_ms, actor, event)
        };
        if !self.admit(cells.datasets, cells.cells) {
            return Err(self.log_table_refusal(
                caller,
                spec,
                "cell_difference",
                EngineError::Refused(POPULATION_REFUSAL),
                now,
            ));
        }
        self.commit_release(PendingRelease {
            record,
            cells: vec![(cells.datasets.to_owned(), cells.cells.to_vec())],
            entry: Box::new(entry),
        })
    }

    /// Persons per dataset and linked persons per pair, protected, recorded
    /// and audited. With no names, every dataset that holds data. A pair's
    /// figure is withheld when its linked population differs from one
    /// reported before by a few persons (a holder re-uploading a set plus
    /// one person would otherwise learn whether that person is linked).
    pub fn linkage(
        &self,
        caller: &Caller,
        project: &str,
        names: &[String],
        now: SystemTime,
    ) -> Result<LinkageFigures, EngineError> {
        let limits = &self.table_limits.request;
        limits.check_datasets(names)?;
        let project = project_or_default(project);
        limits.check_project(crate::field_path::FieldPath::new("project"), project)?;
        let mut loaded = Vec::new();
        if names.is_empty() {
            let state = self.read();
            let in_project = state.projects.get(project);
            loaded.extend(
                state
                    .datasets
                    .values()
                    .filter(|l| l.info.version > 0)
                    .filter(|l| in_project.is_none_or(|p| p.approves(l.info.def.name())))
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
            receipt: None,
        };
        let record = ReleaseRecord {
            project: project.to_owned(),
            request: json_text(&serde_json::json!({ "datasets": names }))?,
            policy: json_text(&self.policy)?,
            cells: json_text(
                &serde_json::json!({ "datasets": figures.datasets, "pairs": figures.pairs }),
            )?,
        };
        let all = figures
            .datasets
            .iter()
            .map(|(_, f)| f)
            .chain(figures.pairs.iter().map(|(_, _, f)| f));
        let withheld = all.clone().filter(|f| f.status.is_withheld()).count() as u64;
        let released = all.count() as u64 - withheld;
        let cells: Vec<ReleaseCells<'_>> = admitted
            .iter()
            .map(|(datasets, cell)| ReleaseCells {
                datasets,
                cells: std::slice::from_ref(cell),
            })
            .collect();
        let datasets = figures.datasets.iter().map(|(n, _)| n.clone()).collect();
        let (_, receipt) = guard.commit(&record, &cells, |release| {
            let event = Event::LinkageReleased {
                release,
                project: Some(project.to_owned()),
                datasets,
                released,
                withheld,
            };
            entry(caller, now, event)
        })?;
        let mut figures = figures;
        figures.receipt = Some(receipt);
        Ok(figures)
    }
}

/// The project a request is recorded under: the one named, or
/// [`DEFAULT_PROJECT`].
pub fn project_or_default(project: &str) -> &str {
    if project.is_empty() {
        DEFAULT_PROJECT
    } else {
        project
    }
}

/// The log event of a table refused by `rule`.
fn refused(spec: &TableSpec, rule: &str) -> Result<Event, EngineError> {
    Ok(Event::TableRefused {
        project: spec.project.clone(),
        request: json_value(spec)?,
        rule: rule.to_owned(),
    })
}

fn json_value(value: &impl Serialize) -> Result<serde_json::Value, EngineError> {
    serde_json::to_value(value).map_err(|e| StoreError::from(EntryError::Encode(e)).into())
}

fn json_text(value: &impl Serialize) -> Result<String, EngineError> {
    serde_json::to_string(value).map_err(|e| StoreError::from(EntryError::Encode(e)).into())
}

/// A status's name as it is serialised (`withheld_threshold`).
fn status_name(status: CellStatus) -> Result<String, EngineError> {
    match json_value(&status)? {
        serde_json::Value::String(name) => Ok(name),
        other => Ok(other.to_string()),
    }
}

fn hex_sha256(text: &str) -> String {
    crate::keys::encode_hex(&Sha256::digest(text.as_bytes()))
}

/// A variable's salt for magnitude noise: stable across requests.
pub(super) fn salt(variable: &str) -> u64 {
    let digest = Sha256::digest(variable.as_bytes());
    u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
}
