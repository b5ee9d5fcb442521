//! Uploads: an [`UploadSession`] reads the file as it arrives, checks it
//! is complete, and commits it in one transaction with its receipt; an
//! upload id that already committed gets its original receipt back.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{entry, DatasetInfo, Engine, EngineError, Loaded};
use crate::audit::event::{Event, UploadFailure};
use crate::audit::Receipt;
use crate::auth::Caller;
use crate::columns::{ColumnData, DatasetData};
use crate::field_path::FieldPath;
use crate::ingest::{InvalidRows, ParsedUpload, RowProblem, UploadError, UploadParser};
use crate::schema::ColumnKind;
use crate::store::{row_chunks, EncodedChunk, RowChunk, UploadWrite};

/// Column chunks staged per transaction: 16 MB to 128 MB, a fraction of a
/// second of writing, so that releases wait at most that long.
const STAGED_CHUNKS: usize = 16;

/// Pause after each staged transaction, so that releases waiting for the
/// store lock get it.
const HANDOFF: std::time::Duration = std::time::Duration::from_millis(2);

/// Whether an upload may overwrite data already in the dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadMode {
    /// Only into an empty dataset.
    Create,
    /// Replace whatever the dataset holds.
    Replace,
}

/// A client-chosen upload id: 16 to 64 ASCII letters, digits, `-` or `_`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadId(String);

impl UploadId {
    /// Validates an upload id; the error never echoes it.
    pub fn parse(id: &str) -> Result<Self, EngineError> {
        let ok = (16..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(EngineError::InvalidRequest {
                field: FieldPath::new("header").field("upload_id"),
                reason: "give 16 to 64 letters, digits, '-' or '_' (e.g. a random UUID)".into(),
            });
        }
        Ok(UploadId(id.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an upload asks for, from its header.
#[derive(Clone, Debug)]
pub struct UploadRequest {
    /// The dataset to upload into.
    pub dataset: String,
    /// The client's id for this upload.
    pub upload_id: UploadId,
    /// Create or replace.
    pub mode: UploadMode,
    /// Reject the upload or skip invalid rows.
    pub on_invalid: InvalidRows,
    /// The field separator.
    pub delimiter: u8,
    /// Only check the file: validate every row, store nothing.
    pub check_only: bool,
}

/// What the client says it sent, from the closing message of an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadEnd {
    /// File bytes sent.
    pub bytes: u64,
    /// SHA-256 of those bytes.
    pub sha256: [u8; 32],
}

/// Why an upload broke off before it could commit. Nothing is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BrokenUpload {
    /// The stream ended without its closing message (a cancelled call or
    /// an expired deadline looks like this too).
    #[error("the upload ended without its closing UploadEnd message; nothing was stored")]
    NoEnd,
    /// The stream failed (cancelled, reset, or too large a message).
    #[error("the upload stream broke off; nothing was stored")]
    Stream,
    /// The client sent nothing for the server's idle time.
    #[error("no data arrived for {0} s; upload cancelled, nothing was stored")]
    Idle(u64),
    /// The closing message's byte count differs from what arrived.
    #[error("the closing message counts another number of bytes than arrived; nothing was stored")]
    SizeMismatch,
    /// The closing message's SHA-256 differs from that of what arrived.
    #[error(
        "the SHA-256 of the bytes received differs from the closing message's; nothing was stored"
    )]
    DigestMismatch,
    /// A header after the first message, or anything after the closing message.
    #[error("{0}; nothing was stored")]
    Protocol(&'static str),
}

impl BrokenUpload {
    /// The reason recorded in the log.
    fn log_reason(self) -> &'static str {
        match self {
            BrokenUpload::NoEnd => "no_end",
            BrokenUpload::Stream => "stream_broken",
            BrokenUpload::Idle(_) => "idle_timeout",
            BrokenUpload::SizeMismatch => "size_mismatch",
            BrokenUpload::DigestMismatch => "digest_mismatch",
            BrokenUpload::Protocol(_) => "protocol",
        }
    }
}

/// What a committed upload stored: the receipt, kept with the upload id.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UploadOutcome {
    /// The dataset uploaded into.
    pub dataset: String,
    /// The client's upload id.
    pub upload_id: String,
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
    /// Whether this is the receipt of an earlier commit of the same id.
    #[serde(skip)]
    pub replayed: bool,
    /// Whether this was only a check: nothing was stored.
    #[serde(skip)]
    pub checked: bool,
    /// The log entry of this answer (the commit, or the replay) with a
    /// signed checkpoint that includes it.
    #[serde(skip)]
    pub log: Option<Receipt>,
}

/// What arrived of an upload: its size and SHA-256.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    /// File bytes received.
    pub bytes: u64,
    /// Their SHA-256.
    pub sha256: [u8; 32],
}

/// How an upload starts.
#[derive(Debug)]
pub enum UploadStart {
    /// The upload id committed before: here is its receipt.
    Replayed(UploadOutcome),
    /// A new upload: feed it the file.
    Open(Box<UploadSession>),
}

/// An upload being received. Feeding it does the parsing and hashing, so
/// call it from a blocking thread; between chunks it holds no thread.
#[derive(Debug)]
pub struct UploadSession {
    engine: Arc<Engine>,
    caller: Caller,
    request: UploadRequest,
    info: DatasetInfo,
    /// `None` once finished.
    parser: Option<UploadParser>,
    digest: Sha256,
    bytes: u64,
    started: Instant,
    /// Finished or abandoned: nothing left to log when dropped.
    closed: bool,
    /// Counted in the engine's open uploads (not a check).
    counted: bool,
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

    /// Starts an upload: answers a repeated upload id with its receipt,
    /// otherwise checks the target and opens a session.
    pub fn begin_upload(
        self: &Arc<Self>,
        caller: Caller,
        request: UploadRequest,
        now: SystemTime,
    ) -> Result<UploadStart, EngineError> {
        let mut request = request;
        if request.check_only {
            // A check stores nothing: no replay, no data to keep, every row judged.
            request.mode = UploadMode::Replace;
            request.on_invalid = InvalidRows::Skip;
        } else if let Some(receipt) = self.replay(&caller, &request, now)? {
            return Ok(UploadStart::Replayed(receipt));
        }
        let info = self.upload_target(&request.dataset, request.mode)?;
        let counted = !request.check_only;
        if counted {
            self.open_uploads.fetch_add(1, Ordering::SeqCst);
            if let Err(e) = self.prepare_indexes() {
                self.open_uploads.fetch_sub(1, Ordering::SeqCst);
                return Err(e);
            }
        }
        let parser = UploadParser::new(
            Arc::clone(&info.def),
            &self.classifications(),
            Arc::clone(&self.pseudonymiser),
            request.on_invalid,
        )
        .with_delimiter(request.delimiter)
        .with_threads(self.table_limits.tabulate_threads);
        Ok(UploadStart::Open(Box::new(UploadSession {
            engine: Arc::clone(self),
            caller,
            request,
            info,
            parser: Some(parser),
            digest: Sha256::new(),
            bytes: 0,
            started: Instant::now(),
            closed: false,
            counted,
        })))
    }

    /// Starts building the pseudonym indexes from the store, on a thread
    /// of their own, unless they are there or a commit holds them (that
    /// commit keeps them, since this upload is open).
    fn prepare_indexes(&self) -> Result<(), EngineError> {
        let mut pseudonyms = match self.pseudonyms.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Ok(()),
        };
        if pseudonyms.is_absent() {
            *pseudonyms = self.indexes_from_store()?;
        }
        Ok(())
    }

    /// The pseudonym indexes of every stored person and household, built
    /// on a thread of their own from a read of the store.
    fn indexes_from_store(&self) -> Result<super::pseudonyms::Pseudonyms, EngineError> {
        let store = self.lock_store();
        let key = Arc::clone(&store.storage);
        let (persons, households) = store.load_sealed_pseudonyms(key.version())?;
        drop(store);
        Ok(super::pseudonyms::Pseudonyms::build_sealed(
            persons, households, key,
        ))
    }

    /// The receipt of an upload id that committed before, logged as a replay.
    fn replay(
        &self,
        caller: &Caller,
        request: &UploadRequest,
        now: SystemTime,
    ) -> Result<Option<UploadOutcome>, EngineError> {
        let mut store = self.lock_store();
        let Some((dataset_id, receipt)) = store.committed_upload(request.upload_id.as_str())?
        else {
            return Ok(None);
        };
        let same_dataset = self
            .loaded(&request.dataset, header_dataset)
            .is_ok_and(|l| l.id == dataset_id);
        if !same_dataset {
            return Err(EngineError::UploadIdReused);
        }
        let mut outcome: UploadOutcome = serde_json::from_str(&receipt)
            .map_err(|e| crate::store::StoreError::Corrupt(format!("upload receipt: {e}")))?;
        outcome.replayed = true;
        let organisation = self
            .loaded(&request.dataset, header_dataset)
            .map(|l| l.info.def.organisation().to_owned())?;
        let entry = entry(
            caller,
            now,
            Event::UploadReplayed {
                dataset: request.dataset.clone(),
                organisation,
                upload_id: request.upload_id.as_str().to_owned(),
                version: outcome.version,
            },
        );
        outcome.log = Some(store.append_entry(&entry)?);
        Ok(Some(outcome))
    }

    /// Records an upload that was refused, rejected or broke off: what was
    /// wrong, never a value.
    pub fn log_upload_failure(
        &self,
        caller: &Caller,
        dataset: &str,
        failure: &EngineError,
        received: Received,
        now: SystemTime,
    ) -> Result<(), EngineError> {
        use Event::{UploadBroken, UploadRefused, UploadRejected};
        type Kind = fn(UploadFailure) -> Event;
        let (kind, reason, rows_rejected): (Kind, &str, u64) = match failure {
            EngineError::Upload(UploadError::Header(_)) => (UploadRejected, "header", 0),
            EngineError::Upload(UploadError::InvalidRows { total, .. }) => {
                (UploadRejected, "invalid_rows", *total)
            }
            EngineError::Upload(UploadError::NoRows) => (UploadRejected, "no_rows", 0),
            EngineError::UploadBroken(b) => (UploadBroken, b.log_reason(), 0),
            EngineError::UploadLimit(_) => (UploadRefused, "upload_limit", 0),
            EngineError::HasData(_) | EngineError::UploadIdReused => (UploadRefused, "conflict", 0),
            _ => (UploadBroken, "internal", 0),
        };
        let organisation = self
            .loaded(dataset, header_dataset)
            .map_or_else(|_| String::new(), |l| l.info.def.organisation().to_owned());
        let entry = entry(
            caller,
            now,
            kind(UploadFailure {
                dataset: dataset.to_owned(),
                organisation,
                reason: reason.to_owned(),
                rows_rejected,
                bytes: received.bytes,
                content_digest: self.digester.digest(&received.sha256),
            }),
        );
        self.lock_store().append_entry(&entry)?;
        Ok(())
    }

    /// The receipt of a check, logged as `upload.checked`: nothing stored.
    fn log_check(
        &self,
        caller: &Caller,
        request: &UploadRequest,
        info: &DatasetInfo,
        parsed: ParsedUpload,
        received: Received,
        now: SystemTime,
    ) -> Result<UploadOutcome, EngineError> {
        let version = self
            .loaded(&request.dataset, header_dataset)
            .map_or(info.version, |l| l.info.version);
        let event = Event::UploadChecked {
            dataset: request.dataset.clone(),
            organisation: info.def.organisation().to_owned(),
            rows_read: parsed.rows_read,
            rows_rejected: parsed.rows_rejected,
            bytes: received.bytes,
        };
        let log = self.lock_store().append_entry(&entry(caller, now, event))?;
        Ok(UploadOutcome {
            dataset: request.dataset.clone(),
            upload_id: request.upload_id.as_str().to_owned(),
            version,
            rows_read: parsed.rows_read,
            rows_stored: 0,
            rows_rejected: parsed.rows_rejected,
            problems: parsed.problems,
            replayed: false,
            checked: true,
            log: Some(log),
        })
    }

    fn commit(
        &self,
        caller: &Caller,
        request: &UploadRequest,
        parsed: ParsedUpload,
        received: Received,
        now: SystemTime,
    ) -> Result<UploadOutcome, EngineError> {
        let (dataset, mode) = (request.dataset.as_str(), request.mode);
        // Two sessions with one id may race; the second finds the first's receipt.
        if let Some(outcome) = self.replay(caller, request, now)? {
            return Ok(outcome);
        }
        // Uploads resolve, order and seal under the pseudonym lock, which
        // orders them; the store lock, which every table needs to record
        // its release, is taken only to check and write (see below).
        let mut pseudonyms = self.lock_pseudonyms();
        let loaded = self.read().datasets.get(dataset).cloned().ok_or_else(|| {
            EngineError::DatasetNotFound {
                field: header_dataset(),
            }
        })?;
        if loaded.info.version > 0 && mode == UploadMode::Create {
            return Err(EngineError::HasData(dataset.to_owned()));
        }
        // Each part of the parsed upload is dropped once it has been used:
        // at national scale each is hundreds of megabytes.
        let ParsedUpload {
            pseudonyms: person_ids,
            households: household_ids,
            columns: parsed_columns,
            rows_read,
            rows_rejected,
            problems,
        } = parsed;
        let started = Instant::now();
        if pseudonyms.is_absent() {
            // This upload began while another's commit held the indexes,
            // and that one released them.
            *pseudonyms = self.indexes_from_store()?;
        }
        let indexes = pseudonyms
            .get()
            .expect("the indexes are there or being built");
        // Persons and households resolve independently, each on the
        // engine's threads.
        let threads = self.table_limits.tabulate_threads;
        let known_households = &indexes.households;
        // Meanwhile a record key is drawn for every person of the upload,
        // to keep for those who are new.
        let (resolution, household_resolution, record_keys) = std::thread::scope(|scope| {
            let households = household_ids
                .map(|h| scope.spawn(move || known_households.resolve_on(h, false, threads)));
            let rows = person_ids.len();
            let keys = scope.spawn(move || random_record_keys(rows));
            // The parser leaves one row per person.
            let persons = indexes.persons.resolve_on(person_ids, true, threads);
            let households = households.map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            });
            let keys = keys
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (persons, households, keys)
        });
        let (mut resolution, mut household_resolution) =
            (resolution?, household_resolution.transpose()?);
        let mut record_keys = record_keys?;
        record_keys.truncate(resolution.new.len());
        let resolved = started.elapsed();
        // Rows in person order, each column on one of the engine's threads.
        // New persons are numbered from the index's size, in upload order.
        let (persons, households, columns) = in_person_order(
            std::mem::take(&mut resolution.numbers),
            resolution.first,
            household_resolution
                .as_mut()
                .map(|r| std::mem::take(&mut r.numbers)),
            parsed_columns,
            threads,
        );
        // Without households, none are new.
        let household_resolution = household_resolution.unwrap_or_default();
        let new_households = &household_resolution;
        let def = &loaded.info.def;
        let open_columns: Vec<usize> = (0..def.columns().len())
            .filter(|&i| def.columns()[i].kind == ColumnKind::OpenCategorical)
            .collect();
        let version = loaded.info.version + 1;
        let mut outcome = UploadOutcome {
            dataset: dataset.to_owned(),
            upload_id: request.upload_id.as_str().to_owned(),
            replayed: false,
            checked: false,
            version,
            rows_read,
            rows_stored: persons.len() as u64,
            rows_rejected,
            problems,
            log: None,
        };
        let entry = entry(
            caller,
            now,
            Event::UploadAccepted {
                dataset: dataset.to_owned(),
                organisation: loaded.info.def.organisation().to_owned(),
                upload_id: request.upload_id.as_str().to_owned(),
                version,
                replace: mode == UploadMode::Replace,
                rows_read: outcome.rows_read,
                rows_stored: outcome.rows_stored,
                rows_rejected: outcome.rows_rejected,
                bytes: received.bytes,
                content_digest: self.digester.digest(&received.sha256),
            },
        );
        let receipt = serde_json::to_string(&outcome)
            .map_err(|e| crate::store::StoreError::Corrupt(format!("upload receipt: {e}")))?;
        let storage = Arc::clone(&self.lock_store().storage);
        let prepared = started.elapsed();
        if let Some(hook) = &self.sealed_hook {
            hook.call();
        }
        // The rows are staged a few chunks per transaction, each taking the
        // store lock on its own, so releases commit in between.
        // Only uploads change a dataset's rows, and they hold the pseudonym
        // lock; a deletion (or a deletion and a new declaration) meanwhile
        // fails the upload, and what it staged is deleted.
        let unchanged = || {
            let current = self.read().datasets.get(dataset).cloned();
            match current {
                Some(c) if Arc::ptr_eq(&c, &loaded) => Ok(()),
                _ => Err(EngineError::DatasetNotFound {
                    field: header_dataset(),
                }),
            }
        };
        let mut staging = Staging {
            engine: self,
            dataset_id: loaded.id,
            version,
            committed: false,
        };
        {
            let mut store = self.lock_store();
            unchanged()?;
            store.clear_staged(loaded.id, version)?;
        }
        // No checkpoint copies the WAL while the rows are written: the
        // disk syncs their WAL alone, and the copy follows the commit.
        let hold = self.lock_store().hold_checkpoints();
        let chunks = row_chunks(&persons, households.as_deref(), &columns);
        // The new pseudonyms are sealed on a thread of their own while the
        // rows are staged, and each group of chunks is packed on another
        // while the one before it is written.
        let (sealed, stage) = std::thread::scope(|scope| {
            let sealing = scope.spawn(|| {
                let persons = seal_numbered(&storage, &resolution);
                (persons, seal_numbered(&storage, new_households))
            });
            let (packed, groups) = std::sync::mpsc::sync_channel::<Vec<EncodedChunk>>(1);
            scope.spawn(move || {
                for group in chunks.chunks(STAGED_CHUNKS) {
                    // Ends early when staging failed and stopped receiving.
                    if packed
                        .send(group.iter().map(RowChunk::encode).collect())
                        .is_err()
                    {
                        return;
                    }
                }
            });
            let stage = groups.into_iter().try_for_each(|group| {
                {
                    let mut store = self.lock_store();
                    unchanged()?;
                    store.stage_rows(loaded.id, version, &group)?;
                }
                // The lock is not fair: without a pause this loop takes it
                // again before a waiting release is woken (a table waited 8 s so).
                std::thread::sleep(HANDOFF);
                Ok::<(), EngineError>(())
            });
            let sealed = sealing
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (sealed, stage)
        });
        stage?;
        let (mut sealed_persons, mut sealed_households) = sealed;
        let staged = started.elapsed();
        let mut store = self.lock_store();
        unchanged()?;
        if store
            .committed_upload(request.upload_id.as_str())?
            .is_some()
        {
            drop(store);
            return self
                .replay(caller, request, now)?
                .ok_or_else(|| EngineError::UploadIdReused);
        }
        // A rotation meanwhile: seal again under the key now in use.
        if store.storage.version() != storage.version() {
            sealed_persons = seal_numbered(&store.storage, &resolution);
            sealed_households = seal_numbered(&store.storage, new_households);
        }
        let key_version = store.storage.version();
        let log = store.commit_upload(
            &UploadWrite {
                dataset_id: loaded.id,
                version,
                new_persons: &sealed_persons,
                new_record_keys: &record_keys,
                new_households: &sealed_households,
                key_version,
                columns: &columns,
                open_columns: &open_columns,
                upload_id: request.upload_id.as_str(),
                receipt: &receipt,
            },
            &entry,
        )?;
        staging.committed = true;
        drop((store, hold));
        drop((staging, sealed_persons, sealed_households));
        let written = started.elapsed();
        outcome.log = Some(log);
        let households_added = new_households.new.len();
        let new_households = household_resolution.new;
        // The indexes stay while another upload is open; the last one's
        // commit drops them (the next upload builds them from the store).
        if self.open_uploads.load(Ordering::SeqCst) > 1 {
            pseudonyms.extend(resolution.new, new_households);
        } else {
            pseudonyms.release();
            drop((resolution.new, new_households));
        }
        drop(pseudonyms);
        // Built before the state is locked: tables read it meanwhile.
        let replaced = Loaded {
            id: loaded.id,
            info: DatasetInfo {
                def: Arc::clone(def),
                version,
            },
            data: Arc::new(DatasetData::new(persons, households, columns)),
        };
        let mut state = self.write();
        Arc::make_mut(&mut state.record_keys).extend_from_slice(&record_keys);
        state.households += households_added;
        state
            .datasets
            .insert(dataset.to_owned(), Arc::new(replaced));
        drop(state);
        let swapped = started.elapsed();
        self.delete_replaced_rows(loaded.id);
        tracing::info!(
            dataset,
            resolve_ms = resolved.as_millis() as u64,
            order_ms = (prepared - resolved).as_millis() as u64,
            stage_and_seal_ms = (staged - prepared).as_millis() as u64,
            commit_ms = (written - staged).as_millis() as u64,
            index_and_swap_ms = (swapped - written).as_millis() as u64,
            delete_replaced_ms = (started.elapsed() - swapped).as_millis() as u64,
            "upload stored"
        );
        Ok(outcome)
    }

    /// Deletes the rows of a dataset's earlier versions, a few chunks per
    /// transaction. The upload is committed already: a failure here is
    /// logged, and the store deletes what is left when it next opens.
    fn delete_replaced_rows(&self, dataset_id: i64) {
        loop {
            match self
                .lock_store()
                .delete_stale_rows(dataset_id, STAGED_CHUNKS)
            {
                Ok(0) => return,
                Ok(_) => std::thread::sleep(HANDOFF),
                Err(e) => {
                    tracing::warn!(error = %e, "could not delete a replaced version's rows yet");
                    return;
                }
            }
        }
    }
}

/// The rows an upload staged for a dataset version: deleted when this is
/// dropped before the version was committed (the upload failed), so that
/// nothing of it stays behind.
struct Staging<'e> {
    engine: &'e Engine,
    dataset_id: i64,
    version: u64,
    committed: bool,
}

impl Drop for Staging<'_> {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let cleared = self
            .engine
            .lock_store()
            .clear_staged(self.dataset_id, self.version);
        if let Err(e) = cleared {
            tracing::warn!(
                error = %e,
                "could not delete the rows of an upload that failed; the store deletes them when it next opens"
            );
        }
    }
}

impl UploadSession {
    /// The organisation that holds the target dataset.
    pub fn organisation(&self) -> &str {
        self.info.def.organisation()
    }

    /// The dataset uploaded into.
    pub fn dataset(&self) -> &str {
        &self.request.dataset
    }

    /// File bytes received so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// What has arrived so far.
    fn received(&self) -> Received {
        Received {
            bytes: self.bytes,
            sha256: self.digest.clone().finalize().into(),
        }
    }

    /// Hashes and parses the next piece of the file.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.digest.update(chunk);
        self.bytes += chunk.len() as u64;
        if let Some(parser) = &mut self.parser {
            parser.feed(chunk);
        }
    }

    /// Checks that what arrived is what the client sent, then validates and
    /// commits the upload. A failure is logged and stores nothing.
    pub fn finish(mut self, end: UploadEnd, now: SystemTime) -> Result<UploadOutcome, EngineError> {
        let received = self.received();
        if end.bytes != self.bytes {
            return Err(self.abandon(BrokenUpload::SizeMismatch, now));
        }
        if end.sha256 != received.sha256 {
            return Err(self.abandon(BrokenUpload::DigestMismatch, now));
        }
        self.closed = true;
        let Some(parser) = self.parser.take() else {
            return Err(EngineError::UploadBroken(BrokenUpload::Protocol(
                "the upload was already finished",
            )));
        };
        let engine = &self.engine;
        let parsed = match parser.finish() {
            Ok(parsed) => parsed,
            Err(e) => {
                let e = EngineError::Upload(e);
                let dataset = &self.request.dataset;
                engine.log_upload_failure(&self.caller, dataset, &e, received, now)?;
                return Err(e);
            }
        };
        let parsed_in = self.started.elapsed();
        if self.request.check_only {
            return engine.log_check(
                &self.caller,
                &self.request,
                &self.info,
                parsed,
                received,
                now,
            );
        }
        let outcome = match engine.commit(&self.caller, &self.request, parsed, received, now) {
            Ok(outcome) => outcome,
            Err(e) => {
                // Nothing was stored (the transaction rolled back); say so.
                let dataset = &self.request.dataset;
                engine.log_upload_failure(&self.caller, dataset, &e, received, now)?;
                return Err(e);
            }
        };
        tracing::info!(
            dataset = self.request.dataset,
            rows = outcome.rows_stored,
            receive_and_parse_ms = parsed_in.as_millis() as u64,
            commit_ms = (self.started.elapsed() - parsed_in).as_millis() as u64,
            "upload committed"
        );
        Ok(outcome)
    }

    /// Ends an upload that broke off: logs it and returns its error.
    pub fn abandon(self, why: BrokenUpload, now: SystemTime) -> EngineError {
        self.refuse(EngineError::UploadBroken(why), now)
    }

    /// Ends an upload that may not go on (broken off, or over a limit):
    /// logs `error` and returns it.
    pub fn refuse(mut self, error: EngineError, now: SystemTime) -> EngineError {
        self.closed = true;
        let (dataset, received) = (&self.request.dataset, self.received());
        match (self.engine).log_upload_failure(&self.caller, dataset, &error, received, now) {
            Ok(()) => error,
            Err(log_failed) => log_failed,
        }
    }
}

/// A session dropped unfinished (its call was cancelled, or its deadline
/// expired and tonic dropped the handler) is logged as broken off.
impl Drop for UploadSession {
    fn drop(&mut self) {
        if self.counted {
            self.engine.open_uploads.fetch_sub(1, Ordering::SeqCst);
        }
        if self.closed {
            return;
        }
        let (engine, caller) = (Arc::clone(&self.engine), self.caller.clone());
        let (dataset, received) = (self.request.dataset.clone(), self.received());
        let log = move || {
            let e = EngineError::UploadBroken(BrokenUpload::Stream);
            if let Err(e) =
                engine.log_upload_failure(&caller, &dataset, &e, received, SystemTime::now())
            {
                tracing::error!(error = %e, "could not log a dropped upload");
            }
        };
        // Logging writes to SQLite: not on an async worker if there is a runtime.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(log)),
            Err(_) => log(),
        }
    }
}

/// Seals numbered pseudonyms under `key`, many blocks per call (one block
/// per call costs the cipher its key set-up each time: a fifth of a
/// national upload's commit).
fn seal_numbered(
    key: &crate::sealing::StorageKey,
    resolution: &crate::link::Resolution,
) -> Vec<(crate::sealing::Sealed, u32)> {
    const BATCH: usize = 4096;
    let mut out = Vec::with_capacity(resolution.new.len());
    let mut blocks = Vec::with_capacity(BATCH);
    let mut numbers = resolution.first..;
    for part in resolution.new.chunks(BATCH) {
        blocks.clear();
        blocks.extend(part.iter().map(|p| *p.as_bytes()));
        key.seal_in_place(&mut blocks);
        out.extend(blocks.iter().copied().zip(&mut numbers));
    }
    out
}

/// An upload's rows (persons with distinct numbers, their households and
/// columns) put in person order, the columns spread over `threads`
/// threads. The numbers from `first_new` on are in upload order; a first
/// upload's are all new, so its rows are in order already.
fn in_person_order(
    persons: Vec<u32>,
    first_new: u32,
    households: Option<Vec<u32>>,
    columns: Vec<ColumnData>,
    threads: usize,
) -> (Vec<u32>, Option<Vec<u32>>, Vec<ColumnData>) {
    if persons.windows(2).all(|w| w[0] < w[1]) {
        return (persons, households, columns);
    }
    let (order, persons) = person_order(&persons, first_new);
    let order = &order[..];
    // Each thread drops a column once it has its permuted copy.
    let threads = threads.clamp(1, columns.len().max(1));
    let mut shares: Vec<Vec<(usize, ColumnData)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, column) in columns.into_iter().enumerate() {
        shares[i % threads].push((i, column));
    }
    let (households, mut columns) = std::thread::scope(|scope| {
        let running: Vec<_> = shares
            .into_iter()
            .map(|share| {
                scope.spawn(move || {
                    share
                        .into_iter()
                        .map(|(i, column)| (i, column.permute(order)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let households = households.map(|h| {
            order
                .iter()
                .map(|&row| h[row as usize])
                .collect::<Vec<u32>>()
        });
        let columns: Vec<(usize, ColumnData)> = running
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        (households, columns)
    });
    columns.sort_unstable_by_key(|&(i, _)| i);
    (
        persons,
        households,
        columns.into_iter().map(|(_, c)| c).collect(),
    )
}

/// The rows of distinct person numbers `numbers` in person order, with
/// the numbers in that order. Those from `first_new` on are in order
/// already and follow the others; each other row is put at its number in
/// an array over the numbers below `first_new`, in one pass, where sorting
/// 18 million rows by their numbers took seconds.
fn person_order(numbers: &[u32], first_new: u32) -> (Vec<u32>, Vec<u32>) {
    let below = numbers.iter().copied().filter(|&n| n < first_new).max();
    let mut row_at = vec![u32::MAX; below.map_or(0, |m| m as usize + 1)];
    let mut order = Vec::with_capacity(numbers.len());
    let mut sorted = Vec::with_capacity(numbers.len());
    for (row, &n) in (0u32..).zip(numbers) {
        if n < first_new {
            debug_assert_eq!(row_at[n as usize], u32::MAX, "one row per person");
            row_at[n as usize] = row;
        }
    }
    for (n, row) in (0u32..).zip(row_at) {
        if row != u32::MAX {
            order.push(row);
            sorted.push(n);
        }
    }
    // A second pass for the new ones, rather than a list of their rows.
    for (row, &n) in (0u32..).zip(numbers) {
        if n >= first_new {
            debug_assert!(sorted.last().is_none_or(|&last| last < n));
            order.push(row);
            sorted.push(n);
        }
    }
    (order, sorted)
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

#[cfg(test)]
mod tests {
    use super::{person_order, seal_numbered};
    use crate::keys::{KeyVersion, PseudonymKey};
    use crate::link::Resolution;
    use crate::pseudonym::Pseudonym;
    use crate::sealing::StorageKey;

    #[test]
    fn rows_are_put_in_person_order_as_by_sorting() {
        // Distinct numbers with gaps, in a scrambled order, then new ones
        // in upload order among them.
        let mut numbers: Vec<u32> = (0..5_000u32).map(|i| (i * 7_919) % 10_007 * 3).collect();
        for (i, at) in (0..400u32).zip((7..).step_by(11)) {
            numbers.insert(at, 40_000 + 2 * i);
        }
        let mut sorted: Vec<u32> = (0..numbers.len() as u32).collect();
        sorted.sort_by_key(|&i| numbers[i as usize]);
        let by_sorting: Vec<u32> = sorted.iter().map(|&i| numbers[i as usize]).collect();
        for first_new in [40_000, u32::MAX] {
            assert_eq!(
                person_order(&numbers, first_new),
                (sorted.clone(), by_sorting.clone())
            );
        }
        assert_eq!(person_order(&[], u32::MAX), (vec![], vec![]));
    }

    #[test]
    fn numbered_pseudonyms_are_sealed_in_batches_as_one_at_a_time() {
        let key = StorageKey::new(&PseudonymKey::from_bytes([3; 32]), KeyVersion(1));
        let new: Vec<Pseudonym> = (0..10_000u32)
            .map(|i| {
                let mut b = [0u8; 16];
                b[..4].copy_from_slice(&i.to_le_bytes());
                Pseudonym::from_bytes(b)
            })
            .collect();
        let one_at_a_time: Vec<_> = new.iter().zip(7..).map(|(p, n)| (key.seal(p), n)).collect();
        let resolution = Resolution {
            numbers: Vec::new(),
            first: 7,
            new,
        };
        assert_eq!(seal_numbered(&key, &resolution), one_at_a_time);
    }
}
