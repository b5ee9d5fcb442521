//! Charts of released, disclosure-controlled tables (`ddc table … --chart FILE.svg|FILE.png`).
//!
//! The module draws only what the caller hands it: released values. A withheld cell carries
//! no value at all ([`ChartCell::value`] is `None`), so nothing about it can leak into the
//! picture; it is drawn as a gap (no bar, a break in the line) with a marker that the
//! legend explains. The perturbation and policy notes are printed under the chart.
//!
//! Files: `grid` checks the table and arranges it as series × categories; `layout` places
//! everything once, with the embedded font's metrics (`text`, `axis`, `legend`); `page`,
//! `bars` and `lines` draw on any plotters backend; `svg` and `bitmap` create the backend
//! and collect the bytes (`raster` gives the bitmap backend text laid out like the SVG's).

mod axis;
mod bars;
mod bitmap;
mod error;
mod grid;
mod layout;
mod legend;
mod lines;
mod page;
mod palette;
mod raster;
mod svg;
mod text;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use error::ChartError;

/// What a chart draws: only released values; the caller has already dropped withheld ones.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartTable {
    /// Heading over the chart, e.g. "Persons in duo.onderwijs_2024 ⋈ cbs.inkomen_2024".
    pub title: String,
    /// What the values are, e.g. "persons" or "% of row (computed from perturbed values)".
    pub value_label: String,
    /// One or two grouping variables: the first runs along the x axis, the second (if any)
    /// gives one colour (bars) or one line (lines) per category.
    pub dimensions: Vec<ChartDimension>,
    /// Interior cells only (no margins): one per combination; coordinates index into the
    /// dimensions' labels, in the order of [`ChartTable::dimensions`].
    pub cells: Vec<ChartCell>,
    /// Lines printed under the chart: the perturbation and the disclosure policy.
    pub notes: Vec<String>,
}

/// A grouping variable and its categories, in display order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartDimension {
    /// The variable's name, e.g. "duo.onderwijs_2024.niveau".
    pub variable: String,
    /// The categories' labels, e.g. "Vmbo basis/kader", "Havo", …
    pub labels: Vec<String>,
}

/// One interior cell of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartCell {
    /// Index into each dimension's labels, one per dimension.
    pub coordinates: Vec<usize>,
    /// The released value; `None` exactly when the cell is withheld.
    pub value: Option<f64>,
    /// Why the cell is withheld (a short reason such as "threshold", "secondary",
    /// "dominance"); `None` for a released cell.
    pub withheld: Option<String>,
}

/// How the values are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// One bar per category, or grouped bars (one colour per category of the second
    /// variable) with a legend.
    Bars,
    /// A line across the (ordered) categories of the first variable, one per category of
    /// the second variable; withheld points are gaps.
    Lines,
}

/// The file format of the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartFormat {
    /// Scalable vector graphics; text stays text.
    Svg,
    /// A bitmap, with text rasterised from the embedded DejaVu Sans font.
    Png,
}

impl ChartFormat {
    /// The format named by the file's extension (`.svg` or `.png`, in any letter case).
    pub fn from_path(path: &Path) -> Result<Self, ChartError> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("svg") => Ok(ChartFormat::Svg),
            Some("png") => Ok(ChartFormat::Png),
            _ => Err(ChartError::UnknownExtension {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// Draws `table` as a chart of `kind` and returns the file's bytes in `format`.
pub fn render(
    table: &ChartTable,
    kind: ChartKind,
    format: ChartFormat,
) -> Result<Vec<u8>, ChartError> {
    let grid = grid::Grid::new(table)?;
    let layout = layout::Layout::new(table, &grid, kind)?;
    match format {
        ChartFormat::Svg => svg::render(&grid, &layout, kind),
        ChartFormat::Png => bitmap::render(&grid, &layout, kind),
    }
}
