//! Counting what is open, in total and per key, with a limit on each: the
//! uploads open per organisation, the tables in the attacker check per caller.
//!
//! An admission is refused at once rather than queued: a client that is
//! told RESOURCE_EXHAUSTED can back off, while a queue of idle callers is
//! the very resource exhaustion the limit exists to stop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Which limit refused an admission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Full {
    /// The total over all keys.
    Total,
    /// The limit for one key.
    PerKey,
}

/// Limits on how many admissions are open at once.
#[derive(Debug)]
pub(crate) struct Admission {
    total: usize,
    per_key: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_key: HashMap<String, usize>,
}

/// One open admission; closed when dropped.
#[derive(Debug)]
pub(crate) struct Permit {
    admission: Arc<Admission>,
    key: String,
}

impl Admission {
    /// At most `total` open admissions, and `per_key` for any one key.
    pub(crate) fn new(total: usize, per_key: usize) -> Arc<Self> {
        Arc::new(Admission {
            total,
            per_key,
            open: Mutex::default(),
        })
    }

    /// Admits one more for `key`, or says which limit is reached.
    pub(crate) fn try_admit(self: &Arc<Self>, key: &str) -> Result<Permit, Full> {
        let mut open = self.lock();
        let for_key = open.by_key.get(key).copied().unwrap_or(0);
        if for_key >= self.per_key {
            return Err(Full::PerKey);
        }
        if open.total >= self.total {
            return Err(Full::Total);
        }
        open.total += 1;
        open.by_key.insert(key.to_owned(), for_key + 1);
        Ok(Permit {
            admission: Arc::clone(self),
            key: key.to_owned(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        // The counts are updated in single steps; a panic elsewhere leaves them whole.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self.admission.lock();
        open.total -= 1;
        if let Some(n) = open.by_key.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.by_key.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_hold_per_key_and_in_total_and_free_on_drop() {
        let a = Admission::new(3, 2);
        let a1 = a.try_admit("duo").unwrap();
        let _a2 = a.try_admit("duo").unwrap();
        assert_eq!(a.try_admit("duo").unwrap_err(), Full::PerKey);
        let _c1 = a.try_admit("cbs").unwrap();
        assert_eq!(a.try_admit("cbs").unwrap_err(), Full::Total);
        assert_eq!(a.try_admit("duo").unwrap_err(), Full::PerKey);
        drop(a1);
        assert!(a.try_admit("duo").is_ok());
        assert!(a.lock().by_key.values().all(|&n| n > 0));
    }
}
