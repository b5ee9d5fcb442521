//! The file row of each accepted row. Rows are accepted one after another
//! but for the rare rejected or blank one, so only where a run of
//! consecutive rows starts is kept: a national upload keeps a handful of
//! entries instead of a number per row.

/// Accepted rows' file rows, as runs of consecutive rows.
#[derive(Debug, Default)]
pub(super) struct RowNumbers {
    /// `(accepted row, file row)` where each run starts, in order.
    runs: Vec<(usize, u64)>,
    len: usize,
}

impl RowNumbers {
    /// Notes that the next accepted row is file row `row`.
    pub(super) fn push(&mut self, row: u64) {
        self.start_run(self.len, row);
        self.len += 1;
    }

    /// The file row of accepted row `at` (less than the rows pushed).
    pub(super) fn get(&self, at: usize) -> u64 {
        assert!(at < self.len, "accepted row {at} of {}", self.len);
        let (start, row) = self.runs[self.runs.partition_point(|&(i, _)| i <= at) - 1];
        row + (at - start) as u64
    }

    /// Appends the rows accepted after these.
    pub(super) fn append(&mut self, later: RowNumbers) {
        for (at, row) in later.runs {
            self.start_run(self.len + at, row);
        }
        self.len += later.len;
    }

    /// Starts a run at accepted row `at` (no earlier than the last run's
    /// start) unless the last run goes on there.
    fn start_run(&mut self, at: usize, row: u64) {
        let goes_on = self
            .runs
            .last()
            .is_some_and(|&(start, first)| first + (at - start) as u64 == row);
        if !goes_on {
            self.runs.push((at, row));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RowNumbers;

    proptest::proptest! {
        /// Pushed in parts and appended, the rows read back as a list of
        /// them would, and runs are kept, not rows.
        #[test]
        fn rows_read_back_as_pushed(
            steps in proptest::collection::vec(1u64..4, 0..300),
            cut in 0usize..300,
        ) {
            let rows: Vec<u64> = steps
                .iter()
                .scan(0u64, |row, step| { *row += step; Some(*row) })
                .collect();
            let cut = cut.min(rows.len());
            let (mut first, mut second) = (RowNumbers::default(), RowNumbers::default());
            rows[..cut].iter().for_each(|&r| first.push(r));
            rows[cut..].iter().for_each(|&r| second.push(r));
            first.append(second);
            for (at, &row) in rows.iter().enumerate() {
                proptest::prop_assert_eq!(first.get(at), row);
            }
            let breaks = steps.iter().skip(1).filter(|&&s| s != 1).count();
            proptest::prop_assert_eq!(first.runs.len(), usize::from(!rows.is_empty()) + breaks);
        }
    }
}
