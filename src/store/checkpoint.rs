//! Copying the write-ahead log into the database, beside the writer.
//!
//! SQLite's own checkpoint runs inside the commit that fills the WAL past
//! its threshold, so a writer that commits a national upload first writes
//! it to the WAL and then, still holding the store lock, copies it into
//! the database. The store's connection does not checkpoint; this thread,
//! with a connection of its own, does, a few times a second, without
//! blocking the writer or any reader (`PASSIVE`). A commit is durable
//! once it is in the WAL (`synchronous = FULL`), so nothing waits for it.

use std::path::Path;
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

impl Checkpointer {
    /// Starts checkpointing the database at `path` (a store's, in WAL mode).
    pub(super) fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = super::open_connection(path)?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let theirs = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("ddc-checkpoint".into())
            .spawn(move || run(&conn, &theirs))?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }
}

fn run(conn: &Connection, stop: &(Mutex<bool>, Condvar)) {
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
