//! The data directory on disk: private, and held by one server at a time.
//!
//! The directory is 0700 and its files 0600 whatever the umask (see
//! [`crate::private_fs`]). An exclusive lock on a file in the
//! directory, held for the store's lifetime, stops a second server from
//! opening the same store: two servers would each keep their own view in
//! memory and diverge. The lock is an advisory `flock`, released by the
//! kernel when the process dies, so a crash never leaves a stale lock. A
//! lock that is released a moment later (a server still exiting, or a
//! child process of ours that has not yet closed its inherited copy of the
//! descriptor at `exec`) is waited for briefly before it counts as held.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{StoreError, DB_FILE};
use crate::private_fs::{create_private_dir, open_private_file, set_mode};

/// How long a held lock is waited for before the store counts as in use.
const LOCK_WAIT: Duration = Duration::from_millis(500);

/// File in the data directory whose lock marks the store as in use.
pub const LOCK_FILE: &str = "ddc.lock";

/// An exclusive hold on a data directory; released on drop.
#[derive(Debug)]
pub(super) struct DirLock {
    _file: File,
}

impl DirLock {
    /// Creates `dir` (0700) if needed and locks it, or says who holds it.
    pub(super) fn acquire(dir: &Path) -> Result<Self, StoreError> {
        create_private_dir(dir)?;
        let path = dir.join(LOCK_FILE);
        let file = open_private_file(&path)?;
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(DirLock { _file: file }),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(TryLockError::WouldBlock) => return Err(StoreError::Locked(path)),
                Err(TryLockError::Error(e)) => return Err(StoreError::Io(e)),
            }
        }
    }
}

/// Creates the database file 0600 before SQLite opens it; SQLite gives its
/// `-wal` and `-shm` files the database file's permissions.
pub(super) fn prepare_db_file(dir: &Path) -> std::io::Result<PathBuf> {
    let path = dir.join(DB_FILE);
    drop(open_private_file(&path)?);
    for suffix in ["-wal", "-shm"] {
        let side = dir.join(format!("{DB_FILE}{suffix}"));
        if side.exists() {
            set_mode(&side, 0o600)?;
        }
    }
    Ok(path)
}
