//! What one analyst's table may cost: the size of a request, the attacker
//! attacker check's work budget, and how many checks run at once.
//!
//! One analyst must not occupy the machine. A request is refused before any
//! work when it is larger than any sensible table needs (`INVALID_ARGUMENT`,
//! naming the field, never echoing its value); a table whose attacker check
//! would exceed its budget is refused (`RESOURCE_EXHAUSTED`, with a hint to
//! coarsen it), never released unchecked; and only a few tables that need
//! attacker linear programs run at once, per caller and in total
//! (`RESOURCE_EXHAUSTED` beyond), so cheap tables and other callers keep
//! being answered.
//!
//! The budget is deterministic: it counts linear-programming work in units
//! of the problems' sizes (see [`crate::disclosure::attacker::budget`]), never
//! wall time or load, so the same request always gets the same answer. Only
//! the concurrency limit depends on what else is running.
//!
//! Not responsible for the attacker check itself (`disclosure`) or for mapping the
//! refusals to gRPC codes (`service::status`).

use std::fmt;
use std::sync::Arc;

use super::request::{invalid, MeasureSpec, TableSpec};
use super::EngineError;
use crate::admission::{Admission, Full, Permit};
use crate::disclosure::AttackerLimits;
use crate::field_path::FieldPath;

/// Every limit on one table request; [`Default`] gives the documented
/// defaults, with a parallelism of 1 (the server passes in its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableLimits {
    /// The attacker check's budget and threads. Defaults: 25 million work
    /// units (about six CPU-seconds), 500 unsafe cells, 1 thread.
    pub attacker: AttackerLimits,
    /// Tables one caller may have in the attacker check at once. Default 1.
    pub attacker_checks_per_caller: usize,
    /// Tables in the attacker check at once, over all callers. Default:
    /// the parallelism (1).
    pub attacker_checks_total: usize,
    /// Limits on the request itself.
    pub request: RequestLimits,
    /// Threads one tabulation scans its persons on (parts merged exactly,
    /// see [`crate::tabulate::tabulate_partitioned`]), and one upload reads
    /// its file's blocks and resolves its persons on (see
    /// [`crate::ingest::UploadParser`], [`crate::link::PseudonymIndex::resolve_on`]).
    /// Default 1.
    pub tabulate_threads: usize,
}

impl Default for TableLimits {
    fn default() -> Self {
        TableLimits {
            attacker: AttackerLimits::default(),
            attacker_checks_per_caller: 1,
            attacker_checks_total: 1,
            request: RequestLimits::default(),
            tabulate_threads: 1,
        }
    }
}

impl TableLimits {
    /// These limits with `threads` for the release gate, as many checks at
    /// once in total, and as many threads per tabulation.
    pub fn with_parallelism(self, threads: usize) -> Self {
        let threads = threads.max(1);
        TableLimits {
            attacker: AttackerLimits {
                threads,
                ..self.attacker
            },
            attacker_checks_total: threads,
            tabulate_threads: threads,
            ..self
        }
    }
}

/// Limits on the size of a table request, checked before anything is
/// looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLimits {
    /// Filters per request. Default 16.
    pub max_filters: usize,
    /// Values of one filter. Default 1,000 (`negate` selects the rest).
    pub max_values_per_filter: usize,
    /// Values over all filters. Default 5,000.
    pub max_filter_values: usize,
    /// Further datasets (`datasets`) per request. Default 16.
    pub max_datasets: usize,
    /// Bytes of a dataset or variable name or of a filter value. Default
    /// 200 (the longest `organisation.dataset.column` is 194, the longest
    /// category 200).
    pub max_name_len: usize,
    /// Characters of a project name. Default 64.
    pub max_project_len: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_filters: 16,
            max_values_per_filter: 1_000,
            max_filter_values: 5_000,
            max_datasets: 16,
            max_name_len: 200,
            max_project_len: 64,
        }
    }
}

impl RequestLimits {
    /// Refuses a request larger than these limits; the error names the
    /// field, never its value.
    pub(super) fn check(&self, spec: &TableSpec) -> Result<(), EngineError> {
        if !spec.project.is_empty() {
            self.check_project(FieldPath::new("project"), &spec.project)?;
        }
        // `group_by` is checked for its count when it is resolved.
        for (i, name) in spec.group_by.iter().enumerate() {
            self.check_name(FieldPath::new("group_by").index(i), name)?;
        }
        if let MeasureSpec::Sum(v) | MeasureSpec::Mean(v) = &spec.measure {
            self.check_name(FieldPath::new("variable"), v)?;
        }
        self.check_filters(spec)?;
        if spec.datasets.len() > self.max_datasets {
            let reason = format!("at most {} further datasets", self.max_datasets);
            return Err(invalid(FieldPath::new("datasets"), reason));
        }
        for (i, name) in spec.datasets.iter().enumerate() {
            self.check_name(FieldPath::new("datasets").index(i), name)?;
        }
        Ok(())
    }

    /// Refuses a linkage request naming more datasets than a table may.
    pub(super) fn check_datasets(&self, names: &[String]) -> Result<(), EngineError> {
        if names.len() > self.max_datasets {
            let reason = format!(
                "at most {} datasets; name none for every dataset",
                self.max_datasets
            );
            return Err(invalid(FieldPath::new("datasets"), reason));
        }
        for (i, name) in names.iter().enumerate() {
            self.check_name(FieldPath::new("datasets").index(i), name)?;
        }
        Ok(())
    }

    /// Refuses a project name that is not a lower-case name within the limit.
    pub(super) fn check_project(&self, field: FieldPath, name: &str) -> Result<(), EngineError> {
        if is_project_name(name, self.max_project_len) {
            return Ok(());
        }
        let reason = format!(
            "a project is a lower-case name of at most {} characters: a letter, then letters, digits, `_` or `-`",
            self.max_project_len
        );
        Err(invalid(field, reason))
    }

    fn check_filters(&self, spec: &TableSpec) -> Result<(), EngineError> {
        if spec.filters.len() > self.max_filters {
            let reason = format!("at most {} filters", self.max_filters);
            return Err(invalid(FieldPath::new("filters"), reason));
        }
        let total: usize = spec.filters.iter().map(|f| f.values.len()).sum();
        for (i, f) in spec.filters.iter().enumerate() {
            let filter = FieldPath::new("filters").index(i);
            self.check_name(filter.clone().field("variable"), &f.variable)?;
            if f.values.len() > self.max_values_per_filter {
                let reason = format!(
                    "at most {} values per filter; use `negate` to list the others",
                    self.max_values_per_filter
                );
                return Err(invalid(filter.field("values"), reason));
            }
            if let Some(j) = f.values.iter().position(|v| v.len() > self.max_name_len) {
                return Err(self.too_long(filter.field("values").index(j)));
            }
        }
        if total > self.max_filter_values {
            let reason = format!("at most {} values over all filters", self.max_filter_values);
            return Err(invalid(FieldPath::new("filters"), reason));
        }
        Ok(())
    }

    fn check_name(&self, field: FieldPath, name: &str) -> Result<(), EngineError> {
        if name.len() > self.max_name_len {
            return Err(self.too_long(field));
        }
        Ok(())
    }

    fn too_long(&self, field: FieldPath) -> EngineError {
        invalid(field, format!("at most {} bytes", self.max_name_len))
    }
}

/// A lower-case letter, then lower-case letters, digits, `_` or `-`.
fn is_project_name(s: &str, max_len: usize) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
        && s.len() <= max_len
}

/// Which concurrency limit a table ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusyScope {
    /// The caller's own tables in the attacker check.
    Caller,
    /// Every caller's tables in the attacker check.
    Server,
}

/// Counts the tables in the attacker check, per caller and in total.
#[derive(Debug)]
pub(super) struct AttackerSlots {
    admission: Arc<Admission>,
    per_caller: usize,
    total: usize,
}

impl AttackerSlots {
    pub(super) fn new(limits: &TableLimits) -> Self {
        AttackerSlots {
            admission: Admission::new(
                limits.attacker_checks_total,
                limits.attacker_checks_per_caller,
            ),
            per_caller: limits.attacker_checks_per_caller,
            total: limits.attacker_checks_total,
        }
    }

    /// A slot for `subject`, held until dropped, or [`EngineError::Busy`]
    /// when the caller's or the server's attacker checks are all taken.
    pub(super) fn acquire(&self, subject: &str) -> Result<Permit, EngineError> {
        self.admission
            .try_admit(subject)
            .map_err(|full| match full {
                Full::PerKey => EngineError::Busy {
                    scope: BusyScope::Caller,
                    limit: self.per_caller,
                },
                Full::Total => EngineError::Busy {
                    scope: BusyScope::Server,
                    limit: self.total,
                },
            })
    }
}

/// A function the engine calls at a fixed point of a request, so that a
/// test can hold the request there. Not for production use.
#[derive(Clone)]
pub struct TestHook(Arc<dyn Fn() + Send + Sync>);

/// Called with the table's attacker-check slot held, just before its
/// attacker check starts: lets a test hold an attacker check in progress.
pub type AttackerHook = TestHook;

impl TestHook {
    /// A hook that runs `f`.
    pub fn new(f: impl Fn() + Send + Sync + 'static) -> Self {
        TestHook(Arc::new(f))
    }

    pub(super) fn call(&self) {
        (self.0)()
    }
}

impl fmt::Debug for TestHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TestHook")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::FilterSpec;

    fn slots(per_caller: usize, total: usize) -> AttackerSlots {
        AttackerSlots::new(&TableLimits {
            attacker_checks_per_caller: per_caller,
            attacker_checks_total: total,
            ..TableLimits::default()
        })
    }

    fn busy_scope(r: Result<Permit, EngineError>) -> Option<BusyScope> {
        match r {
            Err(EngineError::Busy { scope, .. }) => Some(scope),
            _ => None,
        }
    }

    #[test]
    fn a_caller_gets_one_audit_at_a_time_and_another_caller_still_gets_one() {
        let s = slots(1, 2);
        let first = s.acquire("ana").unwrap();
        assert_eq!(busy_scope(s.acquire("ana")), Some(BusyScope::Caller));
        let other = s.acquire("bob").unwrap();
        assert_eq!(busy_scope(s.acquire("cas")), Some(BusyScope::Server));
        drop(first);
        let again = s.acquire("ana").unwrap();
        drop((again, other));
        // All free again: the whole total can be taken.
        let _all = (s.acquire("cas").unwrap(), s.acquire("dan").unwrap());
    }

    #[test]
    fn parallelism_sets_the_gate_threads_and_the_total_audits() {
        let limits = TableLimits::default().with_parallelism(4);
        assert_eq!(limits.attacker.threads, 4);
        assert_eq!(limits.attacker_checks_total, 4);
        assert_eq!(limits.attacker_checks_per_caller, 1);
        assert_eq!(
            TableLimits::default().with_parallelism(0).attacker.threads,
            1
        );
    }

    fn field_of(r: Result<(), EngineError>) -> String {
        match r {
            Err(EngineError::InvalidRequest { field, reason }) => {
                assert!(!reason.contains("secret"), "{reason}");
                field.to_string()
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oversized_requests_are_refused_naming_the_field_not_the_value() {
        let limits = RequestLimits::default();
        let filter = |values: Vec<String>| FilterSpec {
            variable: "duo.o.niveau".into(),
            values,
            negate: false,
        };
        let spec = |f: &dyn Fn(&mut TableSpec)| {
            let mut s = TableSpec {
                group_by: vec!["duo.o.niveau".into()],
                ..TableSpec::default()
            };
            f(&mut s);
            limits.check(&s)
        };
        assert!(spec(&|_| {}).is_ok());
        assert!(spec(&|s| s.project = "onderwijs-kansen_2".into()).is_ok());
        let long = "secret".repeat(40);
        assert_eq!(field_of(spec(&|s| s.project = long.clone())), "project");
        assert_eq!(field_of(spec(&|s| s.project = "Secret".into())), "project");
        assert_eq!(
            field_of(spec(&|s| s.group_by[0] = long.clone())),
            "group_by[0]"
        );
        let many = vec!["secret".to_owned(); 1_001];
        assert_eq!(
            field_of(spec(&|s| s.filters = vec![filter(many.clone())])),
            "filters[0].values"
        );
        let some = vec!["secret".to_owned(); 1_000];
        assert_eq!(
            field_of(spec(&|s| s.filters = vec![filter(some.clone()); 6])),
            "filters"
        );
        assert_eq!(
            field_of(spec(&|s| s.filters = vec![filter(vec!["a".into()]); 17])),
            "filters"
        );
        assert_eq!(
            field_of(spec(
                &|s| s.filters = vec![filter(vec!["a".into(), long.clone()])]
            )),
            "filters[0].values[1]"
        );
        assert_eq!(
            field_of(spec(&|s| s.datasets = vec!["cbs.i".into(); 17])),
            "datasets"
        );
        assert_eq!(
            field_of(limits.check_datasets(std::slice::from_ref(&long))),
            "datasets[0]"
        );
    }
}
