//! Committing an upload: resolve persons, sort rows by person, write one
//! transaction, then swap the dataset's in-memory columns.

use std::io::Read;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use ring::rand::{SecureRandom, SystemRandom};

use super::{audit, DatasetInfo, Engine, EngineError, Loaded};
use crate::auth::Caller;
use crate::columns::DatasetData;
use crate::field_path::FieldPath;
use crate::ingest::{parse_upload, InvalidRows, ParsedUpload, RowProblem, UploadError};
use crate::schema::{ColumnKind, DatasetDef};
use crate::store::UploadWrite;

/// Whether an upload may overwrite data already in the dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadMode {
    /// Only into an empty dataset.
    Create,
    /// Replace whatever the dataset holds.
    Replace,
}

/// What a committed upload stored.
#[derive(Debug)]
pub struct UploadOutcome {
    /// The dataset version created.
    pub version: u64,
    /// Data rows read.
    pub rows_read: u64,
    /// Rows stored.
    pub rows_stored: u64,
    /// Rows rejected.
    pub rows_rejected: u64,
    /// The first problems.
    pub problems: Vec<RowProblem>,
}

impl Engine {
    /// Checks that `dataset` exists and may take an upload in `mode`,
    /// before any data is read.
    pub fn upload_target(
        &self,
        dataset: &str,
        mode: UploadMode,
    ) -> Result<DatasetInfo, EngineError> {
        let info = self.loaded(dataset, header_dataset)?.info.clone();
        if info.version > 0 && mode == UploadMode::Create {
            return Err(EngineError::HasData(dataset.to_owned()));
        }
        Ok(info)
    }

    /// Reads, validates and pseudonymises a CSV upload, then commits it.
    /// Nothing is stored unless the whole upload is accepted.
    pub fn upload<R: Read>(
        &self,
        caller: &Caller,
        dataset: &str,
        csv: R,
        mode: UploadMode,
        on_invalid: InvalidRows,
        now: SystemTime,
    ) -> Result<UploadOutcome, EngineError> {
        let info = self.upload_target(dataset, mode)?;
        let started = Instant::now();
        match parse_upload(csv, &info.def, &self.pseudonymiser, on_invalid) {
            Ok(parsed) => {
                let parsed_in = started.elapsed();
                let outcome = self.commit(caller, dataset, parsed, mode, now)?;
                tracing::info!(
                    dataset,
                    rows = outcome.rows_stored,
                    parse_ms = parsed_in.as_millis() as u64,
                    commit_ms = (started.elapsed() - parsed_in).as_millis() as u64,
                    "upload committed"
                );
                Ok(outcome)
            }
            Err(e) => {
                self.audit_rejection(caller, dataset, &e, now)?;
                Err(without_undeclared_names(e, &info.def).into())
            }
        }
    }

    /// Records a rejected upload: what was wrong, never a value.
    fn audit_rejection(
        &self,
        caller: &Caller,
        dataset: &str,
        e: &UploadError,
        now: SystemTime,
    ) -> Result<(), EngineError> {
        let (reason, rows_rejected) = match e {
            UploadError::Header(_) => ("header", 0),
            UploadError::InvalidRows { total, .. } => ("invalid_rows", *total),
            UploadError::Malformed { .. } => ("malformed", 0),
            UploadError::NoRows => ("no_rows", 0),
            UploadError::Read(_) => ("stream_broken", 0),
        };
        let entry = audit(
            caller,
            now,
            "dataset.upload_rejected",
            serde_json::json!({ "dataset": dataset, "reason": reason, "rows_rejected": rows_rejected }),
        );
        self.lock_store().append_audit(&entry)?;
        Ok(())
    }

    fn commit(
        &self,
        caller: &Caller,
        dataset: &str,
        parsed: ParsedUpload,
        mode: UploadMode,
        now: SystemTime,
    ) -> Result<UploadOutcome, EngineError> {
        let mut store = self.lock_store();
        // Only writers change the state, and they hold the store lock: what
        // is read here stays valid until the swap below.
        let (loaded, resolution, household_resolution) = {
            let state = self.read();
            let loaded = state.datasets.get(dataset).cloned().ok_or_else(|| {
                EngineError::DatasetNotFound {
                    field: header_dataset(),
                }
            })?;
            if loaded.info.version > 0 && mode == UploadMode::Create {
                return Err(EngineError::HasData(dataset.to_owned()));
            }
            let households = match &parsed.households {
                Some(h) => Some(state.households.resolve(h)?),
                None => None,
            };
            (
                loaded,
                state.persons.resolve(&parsed.pseudonyms)?,
                households,
            )
        };
        let mut order: Vec<usize> = (0..resolution.numbers.len()).collect();
        order.sort_unstable_by_key(|&i| resolution.numbers[i]);
        let persons: Vec<u32> = order.iter().map(|&i| resolution.numbers[i]).collect();
        let households: Option<Vec<u32>> = household_resolution
            .as_ref()
            .map(|r| order.iter().map(|&i| r.numbers[i]).collect());
        let new_households = household_resolution
            .as_ref()
            .map_or(&[][..], |r| &r.new[..]);
        let columns: Vec<_> = parsed.columns.iter().map(|c| c.permute(&order)).collect();
        let record_keys = random_record_keys(resolution.new.len())?;
        let def = &loaded.info.def;
        let open_columns: Vec<usize> = (0..def.columns().len())
            .filter(|&i| def.columns()[i].kind == ColumnKind::OpenCategorical)
            .collect();
        let version = loaded.info.version + 1;
        let outcome = UploadOutcome {
            version,
            rows_read: parsed.rows_read,
            rows_stored: persons.len() as u64,
            rows_rejected: parsed.rows_rejected,
            problems: parsed.problems,
        };
        let entry = audit(
            caller,
            now,
            "dataset.upload",
            serde_json::json!({
                "dataset": dataset,
                "version": version,
                "replace": mode == UploadMode::Replace,
                "rows_read": outcome.rows_read,
                "rows_stored": outcome.rows_stored,
                "rows_rejected": outcome.rows_rejected,
            }),
        );
        store.commit_upload(
            &UploadWrite {
                dataset_id: loaded.id,
                version,
                new_persons: &resolution.new,
                new_record_keys: &record_keys,
                new_households,
                key_version: self.pseudonymiser.version(),
                persons: &persons,
                households: households.as_deref(),
                columns: &columns,
                open_columns: &open_columns,
            },
            &entry,
        )?;
        let mut state = self.write();
        state.persons.apply(&resolution.new, &record_keys);
        state.households.apply(new_households);
        let replaced = Loaded {
            id: loaded.id,
            info: DatasetInfo {
                def: Arc::clone(def),
                version,
            },
            data: Arc::new(DatasetData::new(persons, households, columns)),
        };
        state
            .datasets
            .insert(dataset.to_owned(), Arc::new(replaced));
        Ok(outcome)
    }
}

/// Each new person's record key: drawn once, when first seen, and never changed.
fn random_record_keys(n: usize) -> Result<Vec<u32>, EngineError> {
    let mut bytes = vec![0u8; n * 4];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| EngineError::Random)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Where an upload names its dataset: `UploadRequest.header.dataset`.
fn header_dataset() -> FieldPath {
    FieldPath::new("header").field("dataset")
}

/// Header problems name a column only if the schema declares it: a column
/// the file has and the schema does not is the caller's text (a file
/// without a header line has data there), so it becomes a problem of the
/// header as a whole.
fn without_undeclared_names(e: UploadError, def: &DatasetDef) -> UploadError {
    let UploadError::Header(problems) = e else {
        return e;
    };
    let declared = |c: &str| {
        c == def.identifier_column()
            || def.household_column() == Some(c)
            || def.column_index(c).is_some()
    };
    let problems = problems
        .into_iter()
        .map(|p| RowProblem {
            column: p.column.filter(|c| declared(c)),
            ..p
        })
        .collect();
    UploadError::Header(problems)
}
