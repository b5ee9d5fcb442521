//! Why a chart could not be drawn.

use std::path::PathBuf;

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The table has no grouping variable.
    #[error("a chart needs a grouping variable; the table has none")]
    NoDimensions,
    /// The table has more grouping variables than a chart can show.
    #[error("a chart shows one or two grouping variables; the table has {count}")]
    TooManyDimensions {
        /// How many the table has.
        count: usize,
    },
    /// A grouping variable has no categories.
    #[error("grouping variable {variable} has no categories")]
    EmptyDimension {
        /// The variable's name.
        variable: String,
    },
    /// Too many categories along the x axis to draw legibly.
    #[error("{variable} has {count} categories; a chart shows at most {max} along the x axis")]
    TooManyCategories {
        /// The variable's name.
        variable: String,
        /// How many categories it has.
        count: usize,
        /// The most a chart shows.
        max: usize,
    },
    /// Too many series (categories of the second variable) to tell apart by colour.
    #[error(
        "{variable} has {count} categories; a chart tells at most {max} apart by colour \
         (put the variable with more categories first)"
    )]
    TooManySeries {
        /// The variable's name.
        variable: String,
        /// How many categories it has.
        count: usize,
        /// The most a chart tells apart.
        max: usize,
    },
    /// The table has no cells at all.
    #[error("the table has no cells to draw")]
    NoCells,
    /// A cell has a different number of coordinates than the table has dimensions.
    #[error("cell {cell} has {found} coordinates; the table has {expected} dimensions")]
    CoordinateCount {
        /// The cell's position in [`super::ChartTable::cells`].
        cell: usize,
        /// The number of dimensions.
        expected: usize,
        /// The number of coordinates the cell has.
        found: usize,
    },
    /// A cell's coordinate points past its dimension's labels.
    #[error(
        "cell {cell}: coordinate {index} is out of range for {variable} ({labels} categories)"
    )]
    CoordinateOutOfRange {
        /// The cell's position in [`super::ChartTable::cells`].
        cell: usize,
        /// The variable whose labels the coordinate indexes.
        variable: String,
        /// The coordinate.
        index: usize,
        /// How many labels the variable has.
        labels: usize,
    },
    /// Two cells have the same coordinates.
    #[error("cell {cell} repeats the coordinates of an earlier cell")]
    DuplicateCell {
        /// The later cell's position in [`super::ChartTable::cells`].
        cell: usize,
    },
    /// A cell is marked withheld but carries a value: refused rather than drawn.
    #[error("cell {cell} is marked withheld but carries a value")]
    WithheldWithValue {
        /// The cell's position in [`super::ChartTable::cells`].
        cell: usize,
    },
    /// A released value is NaN or infinite.
    #[error("cell {cell} has a value that is not a finite number")]
    NonFiniteValue {
        /// The cell's position in [`super::ChartTable::cells`].
        cell: usize,
    },
    /// The file name does not end in `.svg` or `.png`.
    #[error("cannot tell the chart format from {}: use a file name ending in .svg or .png", path.display())]
    UnknownExtension {
        /// The file name given.
        path: PathBuf,
    },
    /// The embedded font could not be loaded or measured.
    #[error("chart font: {0}")]
    Font(String),
    /// Plotters failed to draw.
    #[error("drawing the chart failed: {0}")]
    Drawing(String),
    /// The PNG encoder failed.
    #[error("encoding the PNG failed: {0}")]
    Png(#[from] ::png::EncodingError),
}

/// Converts a plotters drawing error (generic over the backend) into [`ChartError::Drawing`].
pub(super) fn drawing<E: std::error::Error + Send + Sync>(
    error: plotters::drawing::DrawingAreaErrorKind<E>,
) -> ChartError {
    ChartError::Drawing(error.to_string())
}
