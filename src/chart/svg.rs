//! SVG output: the page drawn onto plotters' SVG backend, text kept as text.

use plotters::prelude::{IntoDrawingArea, SVGBackend};

use super::grid::Grid;
use super::layout::Layout;
use super::{page, ChartError, ChartKind};

/// The chart as an SVG document.
pub(super) fn render(
    grid: &Grid<'_>,
    layout: &Layout,
    kind: ChartKind,
) -> Result<Vec<u8>, ChartError> {
    let mut document = String::new();
    {
        let backend = SVGBackend::with_string(&mut document, (layout.width, layout.height));
        let area = backend.into_drawing_area();
        page::draw(&area, grid, layout, kind)?;
    }
    Ok(document.into_bytes())
}
