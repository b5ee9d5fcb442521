//! `ddc table … --chart FILE.svg|FILE.png`: a released table as a chart.
//! Only released figures are handed to [`crate::chart`]; a withheld cell
//! goes with its status and no value. The last grouping variable runs
//! along the x axis, the first (of two) gives the series.

use std::path::Path;

use anyhow::Context;

use super::render::{entry, is_magnitude, label, mark, measure_name};
use super::share::{shares, Share};
use crate::chart::{render, ChartCell, ChartDimension, ChartFormat, ChartKind, ChartTable};
use crate::proto::{CellStatus, Table};

/// How `--chart` draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ChartStyle {
    /// Bars, grouped by the first variable's categories.
    Bars,
    /// A line across the last variable's (ordered) categories per category
    /// of the first.
    Lines,
}

/// Draws `t` (or its `share`s) into `path`, whose extension names the format.
pub fn write_chart(
    t: &Table,
    share: Option<Share>,
    style: ChartStyle,
    path: &Path,
) -> anyhow::Result<()> {
    let format = ChartFormat::from_path(path)?;
    let kind = match style {
        ChartStyle::Bars => ChartKind::Bars,
        ChartStyle::Lines => ChartKind::Lines,
    };
    let bytes = render(&chart_table(t, share)?, kind, format)?;
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// The chart of `t`: interior cells only (no totals or subtotals).
pub(super) fn chart_table(t: &Table, share: Option<Share>) -> anyhow::Result<ChartTable> {
    let n = t.dimensions.len();
    anyhow::ensure!(
        (1..=2).contains(&n),
        "a chart shows one or two grouping variables; this table has {n}"
    );
    // Chart order: the last variable along x, then the first as series.
    let order: Vec<usize> = (0..n).rev().collect();
    let positions: Vec<Vec<usize>> = order
        .iter()
        .map(|&d| {
            (0..t.dimensions[d].categories.len())
                .filter(|&i| !entry(t, d, i as i32).is_some_and(|e| e.subtotal))
                .collect()
        })
        .collect();
    let dimensions = order
        .iter()
        .zip(&positions)
        .map(|(&d, shown)| ChartDimension {
            variable: t.dimensions[d].variable.clone(),
            labels: shown
                .iter()
                .map(|&i| label(t, d, i as i32).unwrap_or_default().to_owned())
                .collect(),
        })
        .collect();
    let shares = share.map(|s| shares(t, s));
    let mut cells = Vec::new();
    for c in &t.cells {
        let at: Option<Vec<usize>> = order
            .iter()
            .zip(&positions)
            .map(|(&d, shown)| {
                let i = usize::try_from(c.coordinates[d]).ok()?;
                shown.iter().position(|&p| p == i)
            })
            .collect();
        let Some(coordinates) = at else { continue };
        let released = c.status == CellStatus::Released as i32;
        let value = match &shares {
            Some(s) => s.get(&c.coordinates).copied(),
            None if !released => None,
            None if is_magnitude(t) => c.value,
            None => c.count.map(|n| n as f64),
        };
        let withheld = match (value, released) {
            (Some(_), _) => None,
            (None, true) => Some("total withheld".to_owned()),
            (None, false) => Some(reason(c.status)),
        };
        cells.push(ChartCell {
            coordinates,
            value,
            withheld,
        });
    }
    let value_label = match share {
        Some(s) => s.title().to_owned(),
        None => measure_name(t),
    };
    Ok(ChartTable {
        title: format!("{} in {}", measure_name(t), t.datasets.join(" ⋈ ")),
        value_label,
        dimensions,
        cells,
        notes: notes(t, share),
    })
}

/// A withheld status as a chart's short reason: `threshold`, `secondary`, …
fn reason(status: i32) -> String {
    let name = mark(status);
    name.strip_prefix("withheld_")
        .unwrap_or(name)
        .replace('_', " ")
}

/// The perturbation and the policy, and where the figures come from.
fn notes(t: &Table, share: Option<Share>) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(p) = &t.policy {
        let perturbed = match &p.perturbation {
            Some(q) if is_magnitude(t) => format!(
                "Values perturbed (each unit by ±{:.0}–{:.0}%).",
                100.0 * q.magnitude_min,
                100.0 * q.magnitude_max
            ),
            Some(q) => format!(
                "Counts perturbed by the cell-key method (at most ±{}).",
                q.max_noise
            ),
            None => "Values exact.".to_owned(),
        };
        notes.push(format!(
            "{perturbed} Cells of fewer than {} units withheld; ({}, {}%)-dominance and p% {} for magnitudes; \
             further cells withheld so that none can be recomputed.",
            p.threshold, p.dominance_n, p.dominance_k, p.p_percent
        ));
    }
    if share.is_some() {
        notes.push("Shares computed from the released, perturbed cells and totals.".to_owned());
    }
    notes.push(format!(
        "Source: {}, ddc release {}; only released figures are drawn.",
        t.datasets.join(" ⋈ "),
        t.release
    ));
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Cell, Dimension};

    fn table() -> Table {
        let dim = |v: &str, cats: &[&str]| Dimension {
            variable: v.into(),
            categories: cats.iter().map(|c| c.to_string()).collect(),
            entries: Vec::new(),
        };
        let cell = |at: [i32; 2], count: Option<u64>| Cell {
            coordinates: at.to_vec(),
            count,
            status: if count.is_some() {
                CellStatus::Released as i32
            } else {
                CellStatus::WithheldThreshold as i32
            },
            value: None,
        };
        Table {
            dimensions: vec![
                dim("duo.x.niveau", &["havo", "vwo"]),
                dim("cbs.y.decile", &["1", "2", "3"]),
            ],
            cells: vec![
                cell([0, 0], Some(31)),
                cell([0, 1], Some(41)),
                cell([0, 2], None),
                cell([1, 0], Some(12)),
                cell([1, 1], Some(15)),
                cell([1, 2], Some(22)),
                cell([0, -1], Some(80)),
                cell([-1, 0], Some(43)),
                cell([-1, -1], Some(130)),
            ],
            datasets: vec!["duo.x".into(), "cbs.y".into()],
            ..Table::default()
        }
    }

    #[test]
    fn the_chart_holds_interior_released_figures_only() {
        let c = chart_table(&table(), None).unwrap();
        assert_eq!(
            c.dimensions[0].variable, "cbs.y.decile",
            "the last variable along x"
        );
        assert_eq!(c.dimensions[1].labels, ["havo", "vwo"]);
        assert_eq!(c.cells.len(), 6, "no totals");
        let withheld = c.cells.iter().find(|x| x.coordinates == [2, 0]).unwrap();
        assert_eq!(withheld.value, None);
        assert_eq!(withheld.withheld.as_deref(), Some("threshold"));
        let values: Vec<f64> = c.cells.iter().filter_map(|x| x.value).collect();
        assert!(!values.contains(&80.0) && !values.contains(&130.0));
        let svg = render(&c, ChartKind::Bars, ChartFormat::Svg).unwrap();
        assert!(String::from_utf8(svg)
            .unwrap()
            .contains("withheld (threshold)"));
    }

    #[test]
    fn shares_are_drawn_where_cell_and_total_are_released() {
        let c = chart_table(&table(), Some(Share::Row)).unwrap();
        let havo_1 = c.cells.iter().find(|x| x.coordinates == [0, 0]).unwrap();
        assert!((havo_1.value.unwrap() - 100.0 * 31.0 / 80.0).abs() < 1e-9);
        let vwo_1 = c.cells.iter().find(|x| x.coordinates == [0, 1]).unwrap();
        assert_eq!(vwo_1.value, None, "vwo's row total is withheld");
        assert_eq!(vwo_1.withheld.as_deref(), Some("total withheld"));
        assert!(c.value_label.contains("computed from perturbed values"));
    }
}
