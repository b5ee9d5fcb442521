//! Draws a whole chart on any plotters backend: frame, data (bars or lines), legend, notes.

use plotters::coord::Shift;
use plotters::drawing::DrawingArea;
use plotters::element::{PathElement, Text};
use plotters::prelude::DrawingBackend;
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{Color, FontTransform};

use super::error::drawing;
use super::grid::Grid;
use super::layout::{self, Layout, XLabels};
use super::{bars, legend, lines, palette, text, ChartError, ChartKind};

/// Draws the chart onto `area`, which must be `layout.width` × `layout.height`.
pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    grid: &Grid<'_>,
    layout: &Layout,
    kind: ChartKind,
) -> Result<(), ChartError> {
    area.fill(&palette::BACKGROUND).map_err(drawing)?;
    draw_headings(area, layout)?;
    draw_value_axis(area, layout)?;
    match kind {
        ChartKind::Bars => bars::draw(area, grid, layout)?,
        ChartKind::Lines => lines::draw(area, grid, layout)?,
    }
    draw_category_axis(area, layout, grid.category_count())?;
    legend::draw(
        area,
        &layout.legend,
        (layout.plot.left, layout.legend_top),
        kind,
    )?;
    draw_notes(area, layout)?;
    area.present().map_err(drawing)
}

/// The title and, above the plot, what the values are.
fn draw_headings<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    layout: &Layout,
) -> Result<(), ChartError> {
    let title = text::style(
        layout::TITLE_SIZE,
        palette::INK,
        HPos::Left,
        VPos::Top,
        FontTransform::None,
    );
    for (i, line) in layout.title.iter().enumerate() {
        let y = layout.title_top + i as i32 * layout::TITLE_LINE;
        area.draw(&Text::new(line.clone(), (layout::MARGIN, y), title.clone()))
            .map_err(drawing)?;
    }
    let label = text::style(
        layout::LABEL_SIZE,
        palette::MUTED,
        HPos::Left,
        VPos::Bottom,
        FontTransform::None,
    );
    let position = (layout::MARGIN, layout.plot.top - 12);
    area.draw(&Text::new(layout.value_label.clone(), position, label))
        .map_err(drawing)
}

/// Horizontal grid lines with tick labels, and the vertical axis line.
fn draw_value_axis<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    layout: &Layout,
) -> Result<(), ChartError> {
    let plot = layout.plot;
    let style = text::style(
        layout::TICK_SIZE,
        palette::MUTED,
        HPos::Right,
        VPos::Center,
        FontTransform::None,
    );
    for tick in &layout.axis.ticks {
        let y = layout.y(*tick);
        let grid_color = if *tick == 0.0 {
            palette::INK
        } else {
            palette::GRID
        };
        area.draw(&PathElement::new(
            vec![(plot.left, y), (plot.right, y)],
            grid_color.stroke_width(1),
        ))
        .map_err(drawing)?;
        area.draw(&PathElement::new(
            vec![(plot.left - layout::TICK, y), (plot.left, y)],
            palette::INK.stroke_width(1),
        ))
        .map_err(drawing)?;
        let x = plot.left - layout::TICK - layout::TICK_GAP;
        area.draw(&Text::new(layout.axis.label(*tick), (x, y), style.clone()))
            .map_err(drawing)?;
    }
    area.draw(&PathElement::new(
        vec![(plot.left, plot.top), (plot.left, plot.bottom)],
        palette::INK.stroke_width(1),
    ))
    .map_err(drawing)
}

/// The x axis line, a tick between categories, the category labels and the variable name.
fn draw_category_axis<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    layout: &Layout,
    count: usize,
) -> Result<(), ChartError> {
    let plot = layout.plot;
    area.draw(&PathElement::new(
        vec![(plot.left, plot.bottom), (plot.right, plot.bottom)],
        palette::INK.stroke_width(1),
    ))
    .map_err(drawing)?;
    for index in 0..count {
        let (left, right) = layout.category_band(index, count);
        let edge = right.round() as i32;
        area.draw(&PathElement::new(
            vec![(edge, plot.bottom), (edge, plot.bottom + layout::TICK)],
            palette::INK.stroke_width(1),
        ))
        .map_err(drawing)?;
        let center = ((left + right) / 2.0).round() as i32;
        draw_category_label(area, layout, index, center)?;
    }
    let style = text::style(
        layout::LABEL_SIZE,
        palette::INK,
        HPos::Center,
        VPos::Top,
        FontTransform::None,
    );
    let center = (plot.left + plot.right) / 2;
    area.draw(&Text::new(
        layout.x_title.clone(),
        (center, layout.x_title_top),
        style,
    ))
    .map_err(drawing)
}

/// Category `index`'s label, centred under `center`.
fn draw_category_label<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    layout: &Layout,
    index: usize,
    center: i32,
) -> Result<(), ChartError> {
    let top = layout.x_labels_top;
    match &layout.x_labels {
        XLabels::Horizontal(labels) => {
            let style = text::style(
                layout::LABEL_SIZE,
                palette::INK,
                HPos::Center,
                VPos::Top,
                FontTransform::None,
            );
            for (i, line) in labels.get(index).into_iter().flatten().enumerate() {
                let y = top + i as i32 * layout.label_line();
                area.draw(&Text::new(line.clone(), (center, y), style.clone()))
                    .map_err(drawing)?;
            }
        }
        XLabels::Rotated(labels) => {
            let style = text::style(
                layout::LABEL_SIZE,
                palette::INK,
                HPos::Right,
                VPos::Center,
                FontTransform::Rotate270,
            );
            if let Some(label) = labels.get(index) {
                area.draw(&Text::new(label.clone(), (center, top), style))
                    .map_err(drawing)?;
            }
        }
    }
    Ok(())
}

/// The notes, under everything else.
fn draw_notes<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    layout: &Layout,
) -> Result<(), ChartError> {
    let style = text::style(
        layout::NOTE_SIZE,
        palette::MUTED,
        HPos::Left,
        VPos::Top,
        FontTransform::None,
    );
    for (i, line) in layout.notes.iter().enumerate() {
        let y = layout.notes_top + i as i32 * layout.note_line();
        area.draw(&Text::new(line.clone(), (layout::MARGIN, y), style.clone()))
            .map_err(drawing)?;
    }
    Ok(())
}
