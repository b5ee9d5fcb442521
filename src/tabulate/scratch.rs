//! Memory kept between tables for the household members of magnitude
//! tables. A national mean writes about 60 MB of them; in fresh memory each
//! page is faulted in and zeroed first, which cost about a tenth of the
//! table. Buffers handed back after a table serve the next one.

use std::sync::{Mutex, PoisonError};

use super::magnitude::Member;

/// Spare member buffers, at most `limit` bytes of them. Shared by all
/// tables; a table takes what it needs and gives it back when done.
#[derive(Debug)]
pub struct Scratch {
    spare: Mutex<Vec<Vec<Member>>>,
    limit: usize,
}

impl Scratch {
    /// Keeps at most `limit` bytes of buffers between tables.
    pub fn new(limit: usize) -> Self {
        Scratch {
            spare: Mutex::new(Vec::new()),
            limit,
        }
    }

    /// `n` empty buffers, each with room for `capacity` members: spare
    /// ones first.
    pub(super) fn take(&self, n: usize, capacity: usize) -> Vec<Vec<Member>> {
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        (0..n)
            .map(|_| {
                let mut buffer = spare.pop().unwrap_or_default();
                buffer.reserve(capacity);
                buffer
            })
            .collect()
    }

    /// Keeps `buffers` for later tables, as far as the limit allows.
    pub(super) fn give(&self, buffers: Vec<Vec<Member>>) {
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        let mut kept: usize = spare.iter().map(bytes).sum();
        for mut buffer in buffers {
            if kept + bytes(&buffer) > self.limit {
                continue;
            }
            buffer.clear();
            kept += bytes(&buffer);
            spare.push(buffer);
        }
    }

    /// Bytes of the buffers kept.
    pub fn kept(&self) -> usize {
        let spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        spare.iter().map(bytes).sum()
    }
}

fn bytes(buffer: &Vec<Member>) -> usize {
    buffer.capacity() * std::mem::size_of::<Member>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_and_no_more_than_the_limit_is_kept() {
        let scratch = Scratch::new(64 * std::mem::size_of::<Member>());
        let mut taken = scratch.take(3, 32);
        assert!(taken.iter().all(|b| b.is_empty() && b.capacity() >= 32));
        taken[0].push(Member::default());
        scratch.give(taken);
        // Two of 32 fit under 64; the third is dropped.
        assert!(scratch.kept() <= 64 * std::mem::size_of::<Member>());
        assert!(scratch.kept() >= 32 * std::mem::size_of::<Member>());
        let again = scratch.take(2, 8);
        assert!(again.iter().all(|b| b.is_empty()));
        assert_eq!(scratch.kept(), 0);
    }
}
