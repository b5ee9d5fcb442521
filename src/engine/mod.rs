//! The core of the service: owns the store and the in-memory state, and
//! carries out every action with its log entry.
//!
//! Methods are synchronous and may block (SQLite, large scans); the service
//! layer calls them from blocking threads. Writers are serialised by the
//! store's mutex; the in-memory state is swapped in only after a commit, so
//! what tables see is always durable.

mod audit;
mod categories;
mod classification;
mod grouping;
mod keys;
mod ledger;
mod levels;
mod limits;
mod projects;
mod pseudonyms;
mod release;
mod request;
mod structure;
mod upload;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

pub use audit::{ReleaseDetail, ReleaseSummary};
pub use grouping::{Category, TableDimension};
pub use keys::{Rotation, RotationPause};
pub use limits::{AttackerHook, BusyScope, RequestLimits, TableLimits, TestHook};
pub use projects::{Changed, ProjectChange, ProjectDraft};
pub use release::{
    project_or_default, LinkageFigures, ProtectedTable, TableCell, DEFAULT_PROJECT,
    POPULATION_REFUSAL,
};
pub use request::{FilterSpec, MeasureSpec, TableSpec, MAX_TABLE_CELLS};
pub use upload::{
    BrokenUpload, UploadEnd, UploadId, UploadMode, UploadOutcome, UploadRequest, UploadSession,
    UploadStart,
};

use crate::audit::event::{Entry, Event};
use crate::auth::Caller;
use crate::classification::{Classifications, CodeListError};
use crate::columns::{ColumnData, DatasetData};
use crate::disclosure::ckm::{PTable, PTableError, PTableParams};
use crate::disclosure::{BudgetExceeded, DisclosureError, DisclosurePolicy, PolicyError};
use crate::field_path::FieldPath;
use crate::ingest::UploadError;
use crate::link::IndexFull;
use crate::pseudonym::Pseudonymiser;
use crate::schema::{DatasetDef, SchemaError};
use crate::store::{Store, StoreError};

/// Errors of the engine, mapped to gRPC codes in one place by the service layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// No dataset of the name given in `field`. The name is not echoed: it
    /// is the caller's, and may be anything (an identifier, even).
    #[error("no dataset is declared under the name given in `{field}`")]
    DatasetNotFound {
        /// The request field holding the name.
        field: FieldPath,
    },
    /// The caller may not do this.
    #[error("permission denied: {0}")]
    Denied(crate::access::Denied),
    /// No project of the name given in `field`; the name is not echoed.
    #[error("no project has the name given in `{field}`")]
    ProjectNotFound {
        /// The request field holding the name.
        field: FieldPath,
    },
    /// A project of that name exists.
    #[error("a project of that name exists")]
    ProjectExists,
    /// The project is closed: nothing more is changed or asked in it.
    #[error("the project is closed")]
    ProjectClosed,
    /// The project does not ask for the dataset.
    #[error("the project does not ask for this dataset; an administrator adds it first")]
    NotInProject,
    /// No release of the number given in `field`.
    #[error("no release has the number given in `{field}`")]
    ReleaseNotFound {
        /// The request field holding the number.
        field: FieldPath,
    },
    /// The dataset declares no column of the name given in `field`.
    #[error("dataset `{dataset}` declares no column of the name given in `{field}`")]
    ColumnNotFound {
        /// The dataset, a declared name.
        dataset: String,
        /// The request field holding the column's name.
        field: FieldPath,
    },
    /// No code list of the name (or version) given in `field`; the name
    /// is not echoed.
    #[error("no code list is published under the name or version given in `{field}`")]
    CodeListNotFound {
        /// The request field holding the name or version.
        field: FieldPath,
    },
    /// The code list draft is invalid.
    #[error("invalid code list: {}", .0.first().map(ToString::to_string).unwrap_or_default())]
    InvalidCodeList(Vec<CodeListError>),
    /// A dataset of that name exists.
    #[error("dataset `{0}` already exists")]
    DatasetExists(String),
    /// The definition is invalid.
    #[error("invalid dataset definition: {}", .0.first().map(ToString::to_string).unwrap_or_default())]
    InvalidDefinition(Vec<SchemaError>),
    /// The upload was rejected.
    #[error(transparent)]
    Upload(#[from] UploadError),
    /// The upload broke off or arrived incomplete; nothing was stored.
    #[error(transparent)]
    UploadBroken(#[from] BrokenUpload),
    /// Too many uploads are open; the string says for whom.
    #[error("too many uploads are open {0}; try again when one has finished")]
    UploadLimit(&'static str),
    /// The upload id was committed before, into another dataset.
    #[error("this upload id was used before for another dataset; choose a new one")]
    UploadIdReused,
    /// The dataset already holds data and the upload does not replace it.
    #[error("dataset `{0}` already holds data; upload with replace to overwrite it")]
    HasData(String),
    /// The dataset holds no data yet.
    #[error("dataset `{0}` holds no data yet")]
    NoData(String),
    /// A request field is invalid.
    #[error("{field}: {reason}")]
    InvalidRequest {
        /// The field at fault.
        field: FieldPath,
        /// Why, in declared names only.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No more person numbers.
    #[error(transparent)]
    IndexFull(#[from] IndexFull),
    /// A table failed its release check; it is not released.
    #[error("table failed its release check: {0}")]
    Disclosure(#[from] DisclosureError),
    /// The system random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// A key does not match the one the store was written with.
    #[error("the {0} key (version {1}) is not the key this store was written with; start with the key directory the store was created with")]
    KeyMismatch(&'static str, u32),
    /// The store is written under a key the key store does not hold (an
    /// old copy of the store after a rotation destroyed its key, or a key
    /// directory of another deployment).
    #[error("the store is written under {0} key version {1}, which the key store does not hold")]
    KeyGone(&'static str, u32),
    /// The key store could not be read or changed.
    #[error("key store: {0}")]
    Keys(crate::keys::KeyError),
    /// The disclosure policy is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The perturbation table cannot be built from the policy.
    #[error("perturbation table: {0}")]
    PTable(#[from] PTableError),
    /// The request is refused by a defence across releases. The message
    /// says which rule, never which release or how many persons.
    #[error("{0}")]
    Refused(&'static str),
    /// The table's attacker check would exceed its budget; it is refused,
    /// not released unchecked. The message holds only the limit.
    #[error("{0}; coarsen the table: fewer categories, a filter, or fewer dimensions")]
    OverBudget(BudgetExceeded),
    /// Too many tables are in the attacker check at once (the caller's own,
    /// or the server's); tables without unsafe cells are still answered.
    #[error("{}", busy_message(*.scope, *.limit))]
    Busy {
        /// Whose attacker checks are all taken.
        scope: BusyScope,
        /// The limit that was reached.
        limit: usize,
    },
}

fn busy_message(scope: BusyScope, limit: usize) -> String {
    match scope {
        BusyScope::Caller => format!(
            "busy: you already have {limit} table(s) in the attacker check, the most one \
             caller may have at once; ask again when it is done"
        ),
        BusyScope::Server => format!(
            "busy: the server is checking {limit} table(s) against the attacker, as many as it checks at once; \
             ask again shortly"
        ),
    }
}

/// A dataset as the service shows it.
#[derive(Clone, Debug)]
pub struct DatasetInfo {
    /// The definition.
    pub def: Arc<DatasetDef>,
    /// Uploads committed (0: no data).
    pub version: u64,
}

#[derive(Debug)]
struct Loaded {
    id: i64,
    info: DatasetInfo,
    data: Arc<DatasetData>,
}

#[derive(Debug, Default)]
struct State {
    /// Every code list version; replaced whole when one is added.
    classifications: Arc<Classifications>,
    datasets: BTreeMap<String, Arc<Loaded>>,
    /// Each person's record key, by person number (so also how many
    /// persons ddc knows). Shared with running tabulations; copied on
    /// write by an upload.
    record_keys: Arc<Vec<u32>>,
    /// How many households ddc knows.
    households: usize,
    /// Every project, by name; each replaced whole after a commit.
    projects: BTreeMap<String, Arc<crate::project::Project>>,
}

/// Sides of tables' cells kept for later tables (a few kilobytes each).
const SIDES_KEPT: usize = 64;

/// Bytes of household-member buffers kept between tables: enough for a
/// national mean (4 million members of 16 bytes, with room to spare).
const SCRATCH_KEPT: usize = 128 << 20;

/// The service core. See the [module docs](self).
#[derive(Debug)]
pub struct Engine {
    store: Mutex<keys::Durable>,
    /// The key store; locked after the store.
    custody: Mutex<crate::keys::KeyCustody>,
    /// The pseudonym indexes, for uploads; locked after the store.
    pseudonyms: Mutex<pseudonyms::Pseudonyms>,
    /// Datasets' sides of recent tables' cells, reused by later tables.
    sides: crate::tabulate::SideCache,
    /// Memory for household members, reused by later tables.
    scratch: crate::tabulate::Scratch,
    state: RwLock<State>,
    /// Shared with the threads that read an upload's blocks.
    pseudonymiser: Arc<Pseudonymiser>,
    /// Keys the digests the log records of upload contents.
    digester: crate::audit::digest::ContentDigester,
    /// The key the log's checkpoints verify under.
    log_verifier: crate::audit::note::Verifier,
    policy: DisclosurePolicy,
    ptable: Option<PTable>,
    /// Every distinct admitted cell (prints only); locked after the store.
    ledger: Mutex<crate::ledger::Ledger>,
    /// Releases waiting for their group commit.
    releases: ledger::ReleaseQueue,
    /// Upload sessions open (not checks), for the pseudonym indexes.
    open_uploads: std::sync::atomic::AtomicUsize,
    /// Keys the persons' tags in the ledger's cell prints.
    print_key: crate::ledger::PrintKey,
    /// What one table may cost.
    table_limits: TableLimits,
    /// Tables in the attacker check, per caller and in total.
    attacker_slots: limits::AttackerSlots,
    /// Called before each attacker check starts (tests only).
    attacker_hook: Option<AttackerHook>,
    /// Called when an upload is sealed, before it takes the store lock to
    /// write (tests only).
    sealed_hook: Option<TestHook>,
    /// Where a rotation stops for a crash test (tests only).
    rotation_pause: keys::RotationPause,
}

impl Engine {
    /// Checks the opened `store` against the keys in `custody` (completing
    /// a rotation that a crash interrupted after its rewrite), opens its log
    /// for writing with checkpoints named `log_origin`, and loads it into
    /// memory.
    pub fn open(
        store: Store,
        custody: crate::keys::KeyCustody,
        policy: DisclosurePolicy,
        log_origin: &str,
    ) -> Result<Self, EngineError> {
        policy.validate()?;
        let ptable = match policy.perturbation {
            Some(p) => Some(PTable::new(PTableParams {
                max_noise: p.max_noise,
                variance: p.variance,
                js: p.js,
            })?),
            None => None,
        };
        let (mut store, mut custody) = (store, custody);
        let keys::Settled {
            pseudonymiser,
            storage,
            digester,
            log_verifier,
        } = keys::settle(&mut store, &mut custody, log_origin, SystemTime::now())?;
        let snapshot = store.load(storage.version())?;
        let ledger = store.load_ledger()?;
        let print_key = store.print_key()?;
        let projects = store
            .projects()?
            .into_iter()
            .map(|p| (p.name.clone(), Arc::new(p)))
            .collect();
        // Only uploads use the pseudonyms and their indexes: they are read
        // and built when one begins (see `pseudonyms`).
        let mut state = State {
            classifications: Arc::new(snapshot.classifications),
            datasets: BTreeMap::new(),
            record_keys: Arc::new(snapshot.record_keys),
            households: snapshot.households,
            projects,
        };
        let pseudonyms = pseudonyms::Pseudonyms::default();
        for ds in snapshot.datasets {
            let name = ds.def.name().to_owned();
            let loaded = Loaded {
                id: ds.id,
                info: DatasetInfo {
                    def: Arc::new(ds.def),
                    version: ds.version,
                },
                data: Arc::new(DatasetData::new(ds.persons, ds.households, ds.columns)),
            };
            state.datasets.insert(name, Arc::new(loaded));
        }
        Ok(Engine {
            store: Mutex::new(keys::Durable {
                store,
                storage: Arc::new(storage),
            }),
            custody: Mutex::new(custody),
            pseudonyms: Mutex::new(pseudonyms),
            sides: crate::tabulate::SideCache::new(SIDES_KEPT),
            scratch: crate::tabulate::Scratch::new(SCRATCH_KEPT),
            state: RwLock::new(state),
            pseudonymiser: Arc::new(pseudonymiser),
            digester,
            log_verifier,
            policy,
            ptable,
            ledger: Mutex::new(ledger),
            releases: ledger::ReleaseQueue::default(),
            open_uploads: std::sync::atomic::AtomicUsize::new(0),
            print_key,
            table_limits: TableLimits::default(),
            attacker_slots: limits::AttackerSlots::new(&TableLimits::default()),
            attacker_hook: None,
            sealed_hook: None,
            rotation_pause: None,
        })
    }

    /// This engine stopping a rotation at `point` for good (crash tests only).
    pub fn with_rotation_pause(self, point: keys::RotationPause) -> Self {
        Engine {
            rotation_pause: point,
            ..self
        }
    }

    /// This engine with `limits` on every table (instead of the defaults).
    pub fn with_table_limits(self, limits: TableLimits) -> Self {
        Engine {
            attacker_slots: limits::AttackerSlots::new(&limits),
            table_limits: limits,
            ..self
        }
    }

    /// This engine calling `hook` before each attacker check starts, with
    /// the check's slot held (tests only).
    pub fn with_attacker_hook(self, hook: Option<AttackerHook>) -> Self {
        Engine {
            attacker_hook: hook,
            ..self
        }
    }

    /// This engine calling `hook` when an upload's persons are resolved,
    /// before it takes the store lock to write (tests only).
    pub fn with_sealed_hook(self, hook: Option<TestHook>) -> Self {
        Engine {
            sealed_hook: hook,
            ..self
        }
    }

    /// The limits on every table.
    pub fn table_limits(&self) -> &TableLimits {
        &self.table_limits
    }

    /// Every person's record key, by person number.
    fn record_keys(&self) -> Arc<Vec<u32>> {
        Arc::clone(&self.read().record_keys)
    }

    /// The disclosure policy applied to every release.
    pub fn policy(&self) -> &DisclosurePolicy {
        &self.policy
    }

    /// Number of persons ddc has seen (for the operator's start-up log only).
    pub fn persons(&self) -> usize {
        self.read().record_keys.len()
    }

    /// Number of households ddc has seen (for the operator's start-up log only).
    pub fn households(&self) -> usize {
        self.read().households
    }

    /// Declares a new, empty dataset; a classified column's code list
    /// version 0 is pinned to the latest.
    pub fn create_dataset(
        &self,
        caller: &Caller,
        def: DatasetDef,
        now: SystemTime,
    ) -> Result<DatasetInfo, EngineError> {
        let mut store = self.lock_store();
        if self.read().datasets.contains_key(def.name()) {
            return Err(EngineError::DatasetExists(def.name().to_owned()));
        }
        let lists = self.classifications();
        let def = classification::pin_code_lists(def, &lists)?;
        let definition = serde_json::to_value(&def)
            .map_err(crate::audit::event::EntryError::Encode)
            .map_err(crate::store::StoreError::from)?;
        let entry = entry(
            caller,
            now,
            Event::DatasetCreated {
                dataset: def.name().to_owned(),
                organisation: def.organisation().to_owned(),
                definition,
            },
        );
        let id = store.create_dataset(&def, &entry)?;
        let info = DatasetInfo {
            def: Arc::new(def),
            version: 0,
        };
        let empty = info
            .def
            .columns()
            .iter()
            .map(|c| ColumnData::empty(&c.kind, &lists))
            .collect();
        let households = info.def.household_column().map(|_| Vec::new());
        let data = DatasetData::new(Vec::new(), households, empty);
        let loaded = Loaded {
            id,
            info: info.clone(),
            data: Arc::new(data),
        };
        self.write()
            .datasets
            .insert(info.def.name().to_owned(), Arc::new(loaded));
        Ok(info)
    }

    /// Deletes a dataset with its rows, from the store and from memory, and
    /// takes it out of every project; the release records that used it stay
    /// as they were. Returns the rows deleted, the projects changed and the
    /// log receipt.
    pub fn delete_dataset(
        &self,
        caller: &Caller,
        name: &str,
        now: SystemTime,
    ) -> Result<(u64, Vec<String>, crate::audit::Receipt), EngineError> {
        let mut store = self.lock_store();
        let loaded = self.loaded(name, || FieldPath::new("name"))?;
        let projects: Vec<crate::project::Project> = self
            .read()
            .projects
            .values()
            .filter(|p| p.datasets.contains_key(name))
            .map(|p| {
                let mut p = crate::project::Project::clone(p);
                p.datasets.remove(name);
                p
            })
            .collect();
        let names: Vec<String> = projects.iter().map(|p| p.name.clone()).collect();
        let rows = loaded.data.rows() as u64;
        let event = Event::DatasetDeleted {
            dataset: name.to_owned(),
            organisation: loaded.info.def.organisation().to_owned(),
            rows,
            projects: names.clone(),
        };
        let receipt = store.delete_dataset(loaded.id, &projects, &entry(caller, now, event))?;
        let mut state = self.write();
        state.datasets.remove(name);
        // Nothing computed from its rows stays either.
        self.sides.forget(loaded.data.generation());
        for p in projects {
            state.projects.insert(p.name.clone(), Arc::new(p));
        }
        Ok((rows, names, receipt))
    }

    /// Every declared dataset, by name.
    pub fn datasets(&self) -> Vec<DatasetInfo> {
        self.read()
            .datasets
            .values()
            .map(|l| l.info.clone())
            .collect()
    }

    /// One dataset; a missing one is reported at `name`, the field of
    /// `GetDatasetRequest`.
    pub fn dataset(&self, name: &str) -> Result<DatasetInfo, EngineError> {
        self.loaded(name, || FieldPath::new("name"))
            .map(|l| l.info.clone())
    }

    /// The dataset `name`; a missing one is reported at `field`.
    fn loaded(
        &self,
        name: &str,
        field: impl FnOnce() -> FieldPath,
    ) -> Result<Arc<Loaded>, EngineError> {
        self.read()
            .datasets
            .get(name)
            .cloned()
            .ok_or_else(|| EngineError::DatasetNotFound { field: field() })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock leaves the state as it was before
        // the panicking writer's swap, which is consistent: recover it.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The pseudonym indexes (after the store lock), built if need be.
    fn lock_pseudonyms(&self) -> MutexGuard<'_, pseudonyms::Pseudonyms> {
        self.pseudonyms.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_store(&self) -> MutexGuard<'_, keys::Durable> {
        // SQLite rolls back an unfinished transaction, so the store is
        // consistent after a panic.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The log entry of `event`, done by `caller` at `now`.
fn entry(caller: &Caller, now: SystemTime, event: Event) -> Entry {
    Entry::new(millis(now), caller.subject(), event)
}

/// `now` in milliseconds since the Unix epoch.
fn millis(now: SystemTime) -> i64 {
    now.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
