//! The categories a table shows for a categorical variable, by position: a
//! declared column's in declared order, one code each; an open column's
//! released labels in natural order, then the pooled category holding all
//! its rare codes (see [`crate::open_categories`]).
//!
//! Grouping and filters both go through this view, so a rare label is as
//! absent from a filter as from a table: naming it fails exactly as naming
//! a value nobody holds, and filters are no test of a label's existence.

use std::collections::HashMap;

use super::grouping::{Category, Grouped};
use super::Loaded;
use crate::columns::ColumnData;
use crate::open_categories::{OpenCategories, POOLED_LABEL};
use crate::schema::ColumnKind;
use crate::tabulate::{Axis, CodeFilter, Dimension, Variable, HIDDEN};

/// A categorical column's categories as tables show them.
pub(super) struct ShownCategories {
    labels: Vec<String>,
    /// The codes at each position (several for the pooled category).
    codes: Vec<Vec<u32>>,
    /// How many codes the column has.
    code_count: usize,
}

impl ShownCategories {
    /// The categories of `column`; an open column's labels held by fewer
    /// than `threshold` persons in the dataset are pooled.
    pub(super) fn new(loaded: &Loaded, column: usize, threshold: u64) -> Self {
        let ColumnData::Codes { categories, codes } = loaded.data.column(column) else {
            return Self::declared(&[]);
        };
        match loaded.info.def.columns()[column].kind {
            ColumnKind::OpenCategorical => Self::open(categories, codes, threshold),
            _ => Self::declared(categories),
        }
    }

    fn declared(categories: &[String]) -> Self {
        ShownCategories {
            labels: categories.to_vec(),
            codes: (0u32..).take(categories.len()).map(|c| vec![c]).collect(),
            code_count: categories.len(),
        }
    }

    fn open(categories: &[String], codes: &[u32], threshold: u64) -> Self {
        let open = OpenCategories::new(categories, codes, threshold);
        let label = |c: u32| categories[c as usize].clone();
        let mut shown = ShownCategories {
            labels: open.shown().iter().map(|&c| label(c)).collect(),
            codes: open.shown().iter().map(|&c| vec![c]).collect(),
            code_count: categories.len(),
        };
        if !open.pooled().is_empty() {
            shown.labels.push(POOLED_LABEL.to_owned());
            shown.codes.push(open.pooled().to_vec());
        }
        shown
    }

    /// Which codes a filter naming `values` allows (the others, if
    /// `negate`); or the index of the first value that is no shown category.
    pub(super) fn allowed(&self, values: &[String], negate: bool) -> Result<Vec<bool>, usize> {
        // A map, so that many values against many categories stay linear.
        let positions: HashMap<&str, usize> = self
            .labels
            .iter()
            .enumerate()
            .map(|(p, label)| (label.as_str(), p))
            .collect();
        let mut allowed = vec![negate; self.code_count];
        for (j, value) in values.iter().enumerate() {
            let &p = positions.get(value.as_str()).ok_or(j)?;
            for &code in &self.codes[p] {
                allowed[code as usize] = !negate;
            }
        }
        Ok(allowed)
    }

    /// Groups on `variable` (a variable of this column), showing only the
    /// categories its `filters` allow; with the labels shown.
    pub(super) fn dimension(
        &self,
        variable: Variable,
        filters: &[CodeFilter],
    ) -> (Vec<String>, Dimension) {
        let mut index_of_code = vec![HIDDEN; self.code_count];
        let mut labels = Vec::new();
        for (label, codes) in self.labels.iter().zip(&self.codes) {
            let allowed = filters
                .iter()
                .filter(|f| f.variable == variable)
                .all(|f| codes.iter().all(|&c| f.allowed[c as usize]));
            if allowed {
                let position = u32::try_from(labels.len()).expect("fewer categories than codes");
                for &code in codes {
                    index_of_code[code as usize] = position;
                }
                labels.push(label.clone());
            }
        }
        let dimension = Dimension {
            variable,
            index_of_code,
            axis: Axis::flat(labels.len()),
        };
        (labels, dimension)
    }

    /// [`dimension`](Self::dimension) as a table's grouping: each label is
    /// its own code. An open column has no classification, so it takes
    /// part in no structural zero and needs no positions.
    pub(super) fn grouped(&self, variable: Variable, filters: &[CodeFilter]) -> Grouped {
        let (labels, dimension) = self.dimension(variable, filters);
        let categories = labels
            .into_iter()
            .map(|label| Category {
                code: label.clone(),
                label,
                label_en: None,
                level: String::new(),
                subtotal: false,
                parent: None,
            })
            .collect();
        Grouped {
            dimension,
            positions: Vec::new(),
            categories,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ShownCategories;
    use crate::tabulate::{CodeFilter, Variable, HIDDEN};

    const V: Variable = Variable {
        dataset: 0,
        column: 0,
    };

    /// Stored in string order: `10-14` (2 persons), `5-9` (2), `Ede` (1), `Urk` (1).
    fn ages() -> ShownCategories {
        let categories = ["10-14", "5-9", "Ede", "Urk"].map(String::from);
        ShownCategories::open(&categories, &[0, 1, 2, 0, 1, 3], 2)
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rare_codes_share_the_last_position_under_the_pooled_label() {
        let (labels, dimension) = ages().dimension(V, &[]);
        assert_eq!(labels, ["5-9", "10-14", "(other)"]);
        assert_eq!(dimension.index_of_code, [1, 0, 2, 2]);
    }

    #[test]
    fn a_rare_label_is_no_filter_value_and_the_pooled_label_selects_all_rare_codes() {
        let shown = ages();
        assert_eq!(shown.allowed(&strings(&["5-9", "Ede"]), false), Err(1));
        assert_eq!(shown.allowed(&strings(&["Nowhere"]), false), Err(0));
        assert_eq!(
            shown.allowed(&strings(&["(other)"]), false),
            Ok(vec![false, false, true, true])
        );
        assert_eq!(
            shown.allowed(&strings(&["(other)"]), true),
            Ok(vec![true, true, false, false])
        );
    }

    #[test]
    fn a_filter_hides_the_positions_it_excludes() {
        let allowed = ages().allowed(&strings(&["(other)"]), true).unwrap();
        let filter = CodeFilter {
            variable: V,
            allowed,
        };
        let (labels, dimension) = ages().dimension(V, &[filter]);
        assert_eq!(labels, ["5-9", "10-14"]);
        assert_eq!(dimension.index_of_code, [1, 0, HIDDEN, HIDDEN]);
    }

    #[test]
    fn declared_categories_keep_their_order_and_nothing_is_pooled() {
        let (labels, dimension) =
            ShownCategories::declared(&strings(&["vwo", "havo"])).dimension(V, &[]);
        assert_eq!(labels, ["vwo", "havo"]);
        assert_eq!(dimension.index_of_code, [0, 1]);
    }
}
