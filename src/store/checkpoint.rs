//! Copying the write-ahead log into the database, beside the writer.
//!
//! SQLite's own checkpoint runs inside the commit that fills the WAL past
//! its threshold, so a writer that commits a national upload first writes
//! it to the WAL and then, still holding the store lock, copies it into
//! the database. The store's connection does not checkpoint; this thread,
//! with a connection of its own, does, a few times a second, without
//! blocking the writer or any reader (`PASSIVE`). A commit is durable
//! once it is in the WAL (`synchronous = FULL`), so nothing waits for it.
//!
//! An upload [holds](Holds) the checkpoints while it writes its rows: the
//! disk then syncs the WAL alone, and the rows are copied once the upload
//! is committed.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::StoreError;

/// Time between checkpoints.
const EVERY: Duration = Duration::from_millis(100);

/// The checkpointing thread; stopped when dropped.
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

/// How many holds on the checkpoints are taken; none are made while any is.
#[derive(Clone, Debug, Default)]
pub(super) struct Holds(Arc<AtomicUsize>);

/// A hold on the checkpoints, released when dropped.
#[derive(Debug)]
pub struct CheckpointHold(Holds);

impl Holds {
    /// Takes a hold.
    pub(super) fn hold(&self) -> CheckpointHold {
        self.0.fetch_add(1, Ordering::SeqCst);
        CheckpointHold(self.clone())
    }

    fn held(&self) -> bool {
        self.0.load(Ordering::SeqCst) > 0
    }
}

impl Drop for CheckpointHold {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` (a store's, in WAL
    /// mode), except while `holds` are taken.
    pub(super) fn start(path: &Path, holds: Holds) -> Result<Self, StoreError> {
        let conn = super::open_connection(path)?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let theirs = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("ddc-checkpoint".into())
            .spawn(move || run(&conn, &theirs, &holds))?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }
}

fn run(conn: &Connection, stop: &(Mutex<bool>, Condvar), holds: &Holds) {
    let (stopped, wake) = stop;
    let mut failing = false;
    loop {
        let guard = stopped.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = wake
            .wait_timeout_while(guard, EVERY, |stop| !*stop)
            .unwrap_or_else(PoisonError::into_inner);
        if *guard {
            return;
        }
        drop(guard);
        if holds.held() {
            continue;
        }
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            Ok(()) => failing = false,
            Err(e) if !failing => {
                // Said once a spell: the next commit's own checkpoint is
                // not there to fall back on, so the WAL grows until this
                // works again.
                tracing::warn!(error = %e, "the background checkpoint failed; retrying");
                failing = true;
            }
            Err(_) => {}
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            // A panic there has been reported; the store closes all the same.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::{Store, DB_FILE};

    /// The database file's length: what the checkpoints have copied in.
    fn copied(dir: &std::path::Path) -> u64 {
        std::fs::metadata(dir.join(DB_FILE)).unwrap().len()
    }

    #[test]
    fn nothing_is_copied_into_the_database_while_a_hold_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let before = copied(dir.path());
        let hold = store.hold_checkpoints();
        store
            .conn
            .execute_batch(
                "CREATE TABLE filler (b BLOB); INSERT INTO filler VALUES (zeroblob(4000000));",
            )
            .unwrap();
        // Ten rounds of the checkpoint thread, held.
        std::thread::sleep(Duration::from_millis(10 * 100));
        assert_eq!(copied(dir.path()), before, "copied while held");
        drop(hold);
        let deadline = Instant::now() + Duration::from_secs(30);
        while copied(dir.path()) < before + 4_000_000 {
            assert!(Instant::now() < deadline, "not copied after the hold");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
