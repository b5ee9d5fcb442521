//! How a table shows an open categorical column: which labels it may
//! release, in what order, and the pooled category of the rest.
//!
//! An open column's categories are whatever values the data holders wrote,
//! and a label is itself a fact about the persons who hold it: a rare
//! spelling, a name, a mistyped identifier. So a label is released only when
//! at least `threshold` persons hold it in the whole dataset (one row per
//! person); the rarer values are pooled into [`POOLED_LABEL`], shown last.
//! The count is over the dataset, not over a table's population, so that
//! no filter or linkage can make a label appear or vanish.
//!
//! Pure: no I/O, no knowledge of requests or of disclosure rules.

mod natural;

pub use natural::natural_cmp;

/// The label of the pooled category of rare values. Reserved: an open
/// column refuses it as a value at upload.
pub const POOLED_LABEL: &str = "(other)";

/// An open column's codes split into those a table may show, in natural
/// order of their labels, and those pooled into [`POOLED_LABEL`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenCategories {
    shown: Vec<u32>,
    pooled: Vec<u32>,
}

impl OpenCategories {
    /// Splits the codes of `categories` by how many rows of `codes` hold
    /// them: fewer than `threshold` are pooled.
    pub fn new(categories: &[String], codes: &[u32], threshold: u64) -> Self {
        let mut holders = vec![0u64; categories.len()];
        for &code in codes {
            holders[code as usize] += 1;
        }
        let (mut shown, mut pooled) = (Vec::new(), Vec::new());
        for (code, &n) in (0u32..).zip(&holders) {
            if n >= threshold {
                shown.push(code);
            } else {
                pooled.push(code);
            }
        }
        shown.sort_by(|&a, &b| natural_cmp(&categories[a as usize], &categories[b as usize]));
        OpenCategories { shown, pooled }
    }

    /// The codes whose labels a table shows, in display order.
    pub fn shown(&self) -> &[u32] {
        &self.shown
    }

    /// The codes pooled into [`POOLED_LABEL`], ascending; empty when no
    /// value is rare (and then a table shows no pooled category).
    pub fn pooled(&self) -> &[u32] {
        &self.pooled
    }
}

#[cfg(test)]
mod tests {
    use super::OpenCategories;

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn labels_held_by_fewer_than_the_threshold_are_pooled() {
        let cats = labels(&["Delft", "Ede", "Zeist"]);
        // Delft 3 persons, Ede 1, Zeist 2.
        let codes = [0, 0, 1, 2, 0, 2];
        let open = OpenCategories::new(&cats, &codes, 2);
        assert_eq!(open.shown(), [0, 2]);
        assert_eq!(open.pooled(), [1]);
        let open = OpenCategories::new(&cats, &codes, 3);
        assert_eq!((open.shown(), open.pooled()), (&[0][..], &[1, 2][..]));
    }

    #[test]
    fn no_rare_label_means_nothing_pooled() {
        let cats = labels(&["a", "b"]);
        let open = OpenCategories::new(&cats, &[0, 1, 1, 0], 2);
        assert_eq!(open.shown(), [0, 1]);
        assert!(open.pooled().is_empty());
    }

    #[test]
    fn shown_labels_are_in_natural_order() {
        // Stored in string order, as uploads store them.
        let cats = labels(&["10-14", "15+", "5-9"]);
        let open = OpenCategories::new(&cats, &[0, 1, 2], 1);
        assert_eq!(open.shown(), [2, 0, 1]);
    }

    #[test]
    fn a_category_nobody_holds_is_pooled() {
        let cats = labels(&["a", "b"]);
        let open = OpenCategories::new(&cats, &[0], 1);
        assert_eq!((open.shown(), open.pooled()), (&[0][..], &[1][..]));
    }
}
