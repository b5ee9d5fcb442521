//! In-memory columns of a dataset, one entry per row.
//!
//! Categorical values are dense codes into a category list whose order is the
//! display order; numbers are exact 64-bit integers (decimals scaled).

use std::sync::OnceLock;

use crate::classification::Classifications;
use crate::schema::ColumnKind;

/// One column's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnData {
    /// Categorical: `codes[row]` indexes `categories`.
    Codes {
        /// The categories, in display order.
        categories: Vec<String>,
        /// One code per row.
        codes: Vec<u32>,
    },
    /// Integer or scaled decimal values, one per row.
    Numbers(Vec<i64>),
}

impl ColumnData {
    /// An empty column of `kind`: an open categorical starts with no
    /// categories, a classified column has its list's codes, from `lists`
    /// (none if `lists` lacks the list; callers check it is there).
    pub fn empty(kind: &ColumnKind, lists: &Classifications) -> Self {
        match kind {
            ColumnKind::Classified { code_list } => ColumnData::Codes {
                categories: lists.get(code_list).map_or_else(Vec::new, |l| {
                    l.codes().iter().map(|c| c.code.clone()).collect()
                }),
                codes: Vec::new(),
            },
            ColumnKind::Categorical { categories } => ColumnData::Codes {
                categories: categories.clone(),
                codes: Vec::new(),
            },
            ColumnKind::OpenCategorical => ColumnData::Codes {
                categories: Vec::new(),
                codes: Vec::new(),
            },
            ColumnKind::Integer | ColumnKind::Decimal { .. } => ColumnData::Numbers(Vec::new()),
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Codes { codes, .. } => codes.len(),
            ColumnData::Numbers(v) => v.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps the rows at `order`, in that order.
    pub fn permute(&self, order: &[u32]) -> ColumnData {
        match self {
            ColumnData::Codes { categories, codes } => ColumnData::Codes {
                categories: categories.clone(),
                codes: order.iter().map(|&i| codes[i as usize]).collect(),
            },
            ColumnData::Numbers(v) => {
                ColumnData::Numbers(order.iter().map(|&i| v[i as usize]).collect())
            }
        }
    }
}

/// A dataset's rows in memory, sorted by person, with a dense person → row
/// lookup so that linking is an array access.
#[derive(Debug, Default)]
pub struct DatasetData {
    /// Unique to this value in the process (0 only for `Default`): what a
    /// cache of results computed from the rows is keyed by.
    generation: u64,
    persons: Vec<crate::link::PersonNo>,
    row_of: Vec<u32>,
    households: Option<Vec<u32>>,
    /// One more than the largest household number (0 without households).
    household_bound: u32,
    columns: Vec<ColumnData>,
    /// Each column's [`ValueSummary`], computed when first asked for.
    summaries: Vec<OnceLock<(usize, ValueSummary)>>,
}

/// What the disclosure rules need to know of a numeric column's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueSummary {
    /// Whether any value is negative.
    pub negative: bool,
    /// The distinct values, ascending, when there are at most the number
    /// asked for; empty otherwise.
    pub distinct: Vec<i64>,
}

impl ValueSummary {
    /// The summary of `values`, listing them if at most `few` are distinct.
    pub fn of(values: &[i64], few: usize) -> Self {
        let mut distinct: Vec<i64> = Vec::new();
        let mut negative = false;
        for &v in values {
            negative |= v < 0;
            if distinct.len() <= few && !distinct.contains(&v) {
                distinct.push(v);
            }
        }
        if distinct.len() > few {
            distinct.clear();
        }
        distinct.sort_unstable();
        ValueSummary { negative, distinct }
    }
}

impl DatasetData {
    /// Builds the in-memory form from rows sorted by person, with each
    /// row's household number if the dataset has households.
    pub fn new(
        persons: Vec<crate::link::PersonNo>,
        households: Option<Vec<u32>>,
        columns: Vec<ColumnData>,
    ) -> Self {
        debug_assert!(persons.windows(2).all(|w| w[0] < w[1]));
        debug_assert!(columns.iter().all(|c| c.len() == persons.len()));
        static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let row_of = crate::link::row_lookup(&persons);
        let household_bound = households
            .as_ref()
            .and_then(|h| h.iter().max())
            .map_or(0, |&h| h.saturating_add(1));
        DatasetData {
            generation: GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            persons,
            row_of,
            households,
            household_bound,
            summaries: columns.iter().map(|_| OnceLock::new()).collect(),
            columns,
        }
    }

    /// One more than the largest household number of any row (0 without
    /// households).
    pub fn household_bound(&self) -> u32 {
        self.household_bound
    }

    /// The summary of numeric column `index` for `few` distinct values
    /// (kept for the first `few` asked; `None` for a categorical column).
    pub fn value_summary(&self, index: usize, few: usize) -> Option<ValueSummary> {
        let ColumnData::Numbers(values) = &self.columns[index] else {
            return None;
        };
        let (kept_for, summary) =
            self.summaries[index].get_or_init(|| (few, ValueSummary::of(values, few)));
        Some(if *kept_for == few {
            summary.clone()
        } else {
            ValueSummary::of(values, few)
        })
    }

    /// This value's generation: different for every `DatasetData` built
    /// (so for every upload of a dataset), 0 for an empty default.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The household of each row, if the dataset has households.
    pub fn households(&self) -> Option<&[u32]> {
        self.households.as_deref()
    }

    /// Number of rows (= persons).
    pub fn rows(&self) -> usize {
        self.persons.len()
    }

    /// The person of each row, ascending.
    pub fn persons(&self) -> &[crate::link::PersonNo] {
        &self.persons
    }

    /// The row holding `person`, if any.
    pub fn row_of(&self, person: crate::link::PersonNo) -> Option<usize> {
        match self.row_or_absent(person) {
            crate::link::NO_ROW => None,
            r => Some(r as usize),
        }
    }

    /// The row holding `person`, or [`crate::link::NO_ROW`].
    #[inline]
    pub fn row_or_absent(&self, person: crate::link::PersonNo) -> u32 {
        self.row_of
            .get(person as usize)
            .copied()
            .unwrap_or(crate::link::NO_ROW)
    }

    /// The column at `index`.
    pub fn column(&self, index: usize) -> &ColumnData {
        &self.columns[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_numeric_columns_summary_lists_few_values_and_any_negative_one() {
        let codes = ColumnData::Codes {
            categories: vec!["a".into()],
            codes: vec![0; 4],
        };
        let data = DatasetData::new(
            vec![1, 2, 5, 9],
            Some(vec![3, 0, 3, 7]),
            vec![codes, ColumnData::Numbers(vec![20, -5, 20, 7])],
        );
        assert_eq!(data.household_bound(), 8);
        assert_eq!(data.value_summary(0, 3), None);
        let listed = ValueSummary {
            negative: true,
            distinct: vec![-5, 7, 20],
        };
        assert_eq!(data.value_summary(1, 3), Some(listed.clone()));
        // Kept for 3; asked for 2, computed again: too many to list.
        let unlisted = ValueSummary {
            negative: true,
            distinct: Vec::new(),
        };
        assert_eq!(data.value_summary(1, 2), Some(unlisted));
        assert_eq!(data.value_summary(1, 3), Some(listed));
        assert_eq!(data.row_or_absent(5), 2);
        assert_eq!(data.row_or_absent(4), crate::link::NO_ROW);
        assert_eq!(data.row_or_absent(1_000), crate::link::NO_ROW);
    }
}
