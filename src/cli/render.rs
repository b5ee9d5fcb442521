//! Rendering released tables and linkage figures as text, CSV or JSON.
//!
//! Withheld cells carry their status only: there is no value to render.
//! Text shows labels, with each subtotal after the positions it sums; CSV
//! and JSON carry code and label.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::output::Format;
use super::share::Share;
use crate::proto::{CellStatus, Figure, LinkageReport, MeasureKind, Table};

/// Renders a table in `format`.
pub fn render_table(t: &Table, format: Format) -> anyhow::Result<String> {
    Ok(match format {
        Format::Text => text(t),
        Format::Csv => csv(t)?,
        Format::Json => json(t)?,
    })
}

/// Each withheld status: its name in CSV/JSON, its mark in text, and what
/// it means in plain words.
const STATUSES: [(CellStatus, &str, &str, &str); 9] = [
    (CellStatus::Released, "released", "", "released"),
    (
        CellStatus::WithheldThreshold,
        "withheld_threshold",
        "x",
        "too few persons or households",
    ),
    (
        CellStatus::WithheldGroup,
        "withheld_group",
        "g",
        "an empty cell, or one holding its whole row or column",
    ),
    (
        CellStatus::WithheldDominance,
        "withheld_dominance",
        "d",
        "dominated by its largest contributors",
    ),
    (
        CellStatus::WithheldPPercent,
        "withheld_p_percent",
        "p",
        "its largest contributor could estimate itself too closely",
    ),
    (
        CellStatus::WithheldValueCounts,
        "withheld_value_counts",
        "v",
        "a value held by too few units (a count in disguise)",
    ),
    (
        CellStatus::WithheldSecondary,
        "withheld_secondary",
        "s",
        "withheld so that the cells above cannot be recomputed",
    ),
    (
        CellStatus::WithheldDifferencing,
        "withheld_differencing",
        "=",
        "a few persons off a figure reported before",
    ),
    (
        CellStatus::StructuralZero,
        "structural_zero",
        ".",
        "structurally empty: the classification rules the combination out",
    ),
];

fn status_entry(
    status: i32,
) -> Option<&'static (CellStatus, &'static str, &'static str, &'static str)> {
    let status = CellStatus::try_from(status).ok()?;
    STATUSES.iter().find(|e| e.0 == status)
}

pub(super) fn mark(status: i32) -> &'static str {
    status_entry(status).map_or("unknown", |e| e.1)
}

fn short_mark(status: i32) -> &'static str {
    status_entry(status).map_or("?", |e| e.2)
}

/// A released cell's figure as text: the count of a count table, the sum
/// or mean of a magnitude table (whose cells carry their counts as well).
fn shown(t: &Table, c: &crate::proto::Cell) -> Option<String> {
    if is_magnitude(t) {
        c.value.map(|v| format!("{v:.2}"))
    } else {
        c.count.map(|n| n.to_string())
    }
}

pub(super) fn is_magnitude(t: &Table) -> bool {
    matches!(
        MeasureKind::try_from(t.measure),
        Ok(MeasureKind::Sum | MeasureKind::Mean)
    )
}

/// The heading of a one-way table's figures: `persons`, `mean of …`.
fn value_column(t: &Table) -> String {
    let name = measure_name(t);
    let mut chars = name.chars();
    chars
        .next()
        .map_or(name.clone(), |c| c.to_lowercase().chain(chars).collect())
}

pub(super) fn measure_name(t: &Table) -> String {
    match MeasureKind::try_from(t.measure) {
        Ok(MeasureKind::Sum) => format!("Sum of {}", t.variable),
        Ok(MeasureKind::Mean) => format!("Mean of {}", t.variable),
        _ => "Persons".to_owned(),
    }
}

/// The code at a coordinate (`None` for the total).
fn code(t: &Table, dim: usize, coordinate: i32) -> Option<&str> {
    usize::try_from(coordinate)
        .ok()
        .and_then(|i| t.dimensions[dim].categories.get(i))
        .map(String::as_str)
}

/// The entry at a coordinate, when the server sent entries.
pub(super) fn entry(t: &Table, dim: usize, coordinate: i32) -> Option<&crate::proto::Category> {
    usize::try_from(coordinate)
        .ok()
        .and_then(|i| t.dimensions[dim].entries.get(i))
}

/// The label at a coordinate (the code when there is no entry).
pub(super) fn label(t: &Table, dim: usize, coordinate: i32) -> Option<&str> {
    entry(t, dim, coordinate)
        .map(|e| e.label.as_str())
        .or_else(|| code(t, dim, coordinate))
}

/// A dimension's coordinates in reading order: each subtotal after the
/// positions under it, the total last.
fn reading_order(t: &Table, dim: usize) -> Vec<i32> {
    let d = &t.dimensions[dim];
    let n = d.categories.len() as i32;
    let parent = |i: i32| entry(t, dim, i).map_or(-1, |e| e.parent);
    fn visit(node: i32, n: i32, parent: &dyn Fn(i32) -> i32, out: &mut Vec<i32>) {
        for child in (0..n).filter(|&c| parent(c) == node) {
            visit(child, n, parent, out);
        }
        out.push(node);
    }
    let mut out = Vec::with_capacity(n as usize + 1);
    visit(-1, n, &parent, &mut out);
    out
}

fn text(t: &Table) -> String {
    text_with(t, &measure_name(t), &value_column(t), &|c| shown(t, c))
}

/// A table of shares as text: `share` of each released cell, `?` where
/// the cell is released but its total is not.
pub fn render_shares(t: &Table, share: Share) -> String {
    let shares = super::share::shares(t, share);
    let figure = |c: &crate::proto::Cell| match shares.get(&c.coordinates) {
        Some(v) => Some(format!("{v:.1}")),
        None if c.status == CellStatus::Released as i32 => Some("?".to_owned()),
        None => None,
    };
    let title = format!("{}, {}", measure_name(t), share.title());
    let mut out = text_with(t, &title, "%", &figure);
    out.push_str("  ?  a share whose total is withheld\n");
    out
}

/// A table as text, titled `title` (then `in` its datasets), each cell's
/// text from `figure` or its status mark.
fn text_with(
    t: &Table,
    title: &str,
    value_heading: &str,
    figure: &dyn Fn(&crate::proto::Cell) -> Option<String>,
) -> String {
    let structural = CellStatus::StructuralZero as i32;
    let cells: HashMap<&[i32], String> = t
        .cells
        .iter()
        .map(|c| {
            let text = match figure(c) {
                Some(v) if c.status != structural => v,
                _ => short_mark(c.status).to_owned(),
            };
            (c.coordinates.as_slice(), text)
        })
        .collect();
    let axis = |d: usize| reading_order(t, d);
    let name = |d: usize, c: i32| match (label(t, d, c), entry(t, d, c)) {
        (Some(l), Some(e)) if e.subtotal => format!("{l} (subtotal)"),
        (Some(l), _) => l.to_owned(),
        (None, _) => "Total".to_owned(),
    };
    let mut out = format!("{title} in {}\n\n", t.datasets.join(" ⋈ "));
    match t.dimensions.len() {
        1 => {
            let rows = axis(0)
                .iter()
                .map(|&r| vec![name(0, r), cells[&[r][..]].clone()])
                .collect();
            out.push_str(&grid(
                vec![t.dimensions[0].variable.clone(), value_heading.to_owned()],
                rows,
            ));
        }
        2 => out.push_str(&block(t, &cells, &[], &axis, &name)),
        _ => {
            for &first in &axis(0) {
                let _ = writeln!(out, "{} = {}", t.dimensions[0].variable, name(0, first));
                out.push_str(&block(t, &cells, &[first], &axis, &name));
                out.push('\n');
            }
        }
    }
    legend(t, &mut out);
    out
}

/// A two-way block: rows along dimension `d`, columns along `d + 1`,
/// with `prefix` holding the coordinates of the dimensions before `d`.
fn block(
    t: &Table,
    cells: &HashMap<&[i32], String>,
    prefix: &[i32],
    axis: &dyn Fn(usize) -> Vec<i32>,
    name: &dyn Fn(usize, i32) -> String,
) -> String {
    let d = prefix.len();
    let columns = axis(d + 1);
    let mut header = vec![format!(
        "{} \\ {}",
        t.dimensions[d].variable,
        t.dimensions[d + 1].variable
    )];
    header.extend(columns.iter().map(|&c| name(d + 1, c)));
    let body = axis(d)
        .into_iter()
        .map(|r| {
            let mut line = vec![name(d, r)];
            for &c in &columns {
                let mut key = prefix.to_vec();
                key.extend([r, c]);
                line.push(cells.get(key.as_slice()).cloned().unwrap_or_default());
            }
            line
        })
        .collect();
    grid(header, body)
}

/// Aligned columns (comfy-table: display width of non-ASCII labels, and
/// wrapped to the terminal's width when printing to one); the first column
/// left-aligned, figures right-aligned.
fn grid(header: Vec<String>, rows: Vec<Vec<String>>) -> String {
    use comfy_table::{CellAlignment, ContentArrangement, Table as Grid};
    let mut g = Grid::new();
    g.load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    for row in rows {
        g.add_row(row);
    }
    for (i, column) in g.column_iter_mut().enumerate() {
        column.set_padding((0, 2));
        if i > 0 {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out: String = g.lines().map(|l| l.trim_end().to_owned() + "\n").collect();
    if out.is_empty() {
        out.push('\n');
    }
    out
}

fn legend(t: &Table, out: &mut String) {
    out.push('\n');
    for (status, _, short, meaning) in &STATUSES[1..] {
        if t.cells.iter().any(|c| c.status == *status as i32) {
            let kind = match status {
                CellStatus::StructuralZero => "",
                _ => "withheld: ",
            };
            let _ = writeln!(out, "  {short}  {kind}{meaning}");
        }
    }
    if let Some(p) = &t.policy {
        let below = t
            .cells
            .iter()
            .filter(|c| c.status == CellStatus::Released as i32)
            .any(|c| c.count.is_some_and(|n| n > 0 && n < p.threshold));
        if below && p.perturbation.is_some() {
            let _ = writeln!(
                out,
                "  a released count from 1 to {} is a perturbed count: the cell holds at least {} persons",
                p.threshold - 1,
                p.threshold
            );
        }
        let perturbation = match &p.perturbation {
            Some(q) if is_magnitude(t) && q.magnitude_kind == "per_unit" => format!(
                "each unit's value perturbed by ±{:.0}–{:.0}%, the same in every table{}",
                100.0 * q.magnitude_min,
                100.0 * q.magnitude_max,
                if t.measure == MeasureKind::Sum as i32 {
                    "; sums add up"
                } else {
                    "; a mean is the perturbed sum over the released count"
                }
            ),
            Some(q) => format!(
                "values perturbed by the cell-key method (counts ±{} at most); totals need not add up",
                q.max_noise
            ),
            None => "values exact".to_owned(),
        };
        let _ = writeln!(
            out,
            "  policy: threshold {}, ({}, {}%)-dominance, p% {}, {perturbation}",
            p.threshold, p.dominance_n, p.dominance_k, p.p_percent
        );
    }
    if let Some(s) = &t.summary {
        let _ = writeln!(
            out,
            "  {} cells: {} released; withheld: {} threshold, {} group, {} dominance, {} p%, {} value counts, {} secondary{}",
            s.cells, s.released, s.withheld_threshold, s.withheld_group, s.withheld_dominance,
            s.withheld_p_percent, s.withheld_value_counts, s.withheld_secondary,
            match s.structural_zeros {
                0 => String::new(),
                n => format!("; {n} structurally empty"),
            }
        );
    }
    let _ = writeln!(out, "  release {}", t.release);
}

fn csv(t: &Table) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let nested = |d: usize| t.dimensions[d].entries.iter().any(|e| e.subtotal);
    let mut header: Vec<String> = Vec::new();
    for (d, dim) in t.dimensions.iter().enumerate() {
        header.push(dim.variable.clone());
        header.push(format!("{}_label", dim.variable));
        if nested(d) {
            header.push(format!("{}_level", dim.variable));
        }
    }
    let figure = match MeasureKind::try_from(t.measure) {
        Ok(MeasureKind::Sum) => "sum",
        Ok(MeasureKind::Mean) => "mean",
        _ => "count",
    };
    header.push(figure.to_owned());
    if is_magnitude(t) {
        header.push("count".to_owned());
    }
    header.push("status".to_owned());
    w.write_record(&header)?;
    for c in &t.cells {
        let mut record: Vec<String> = Vec::new();
        for d in 0..t.dimensions.len() {
            let at = c.coordinates[d];
            record.push(code(t, d, at).unwrap_or("").to_owned());
            record.push(label(t, d, at).unwrap_or("").to_owned());
            if nested(d) {
                record.push(entry(t, d, at).map_or("", |e| e.level.as_str()).to_owned());
            }
        }
        record.push(shown(t, c).unwrap_or_default());
        if is_magnitude(t) {
            record.push(c.count.map(|n| n.to_string()).unwrap_or_default());
        }
        record.push(mark(c.status).to_owned());
        w.write_record(&record)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

fn json(t: &Table) -> anyhow::Result<String> {
    let cells: Vec<serde_json::Value> = t
        .cells
        .iter()
        .map(|c| {
            let coordinates: serde_json::Map<String, serde_json::Value> = t
                .dimensions
                .iter()
                .enumerate()
                .map(|(d, dim)| {
                    let at = c.coordinates[d];
                    let position = code(t, d, at).map(|code| {
                        let e = entry(t, d, at);
                        serde_json::json!({
                            "code": code,
                            "label": label(t, d, at),
                            "level": e.map(|e| e.level.as_str()).filter(|l| !l.is_empty()),
                            "subtotal": e.is_some_and(|e| e.subtotal),
                        })
                    });
                    (dim.variable.clone(), position.into())
                })
                .collect();
            serde_json::json!({
                "coordinates": coordinates,
                "count": c.count,
                "value": c.value,
                "status": mark(c.status),
            })
        })
        .collect();
    let policy = t.policy.as_ref().map(|p| {
        serde_json::json!({
            "threshold": p.threshold,
            "zeros_disclosive": p.zeros_disclosive,
            "group_disclosure": p.group_disclosure,
            "dominance": { "n": p.dominance_n, "k": p.dominance_k },
            "p_percent": p.p_percent,
            "few_values": p.few_values,
            "count_protection": p.count_protection,
            "perturbation": p.perturbation.as_ref().map(|q| serde_json::json!({
                "max_noise": q.max_noise,
                "variance": q.variance,
                "js": q.js,
                "magnitude_kind": q.magnitude_kind,
                "magnitude_min": q.magnitude_min,
                "magnitude_max": q.magnitude_max,
            })),
            "table_rounding": p.table_rounding,
            "release_ledger": p.release_ledger,
        })
    });
    let out = serde_json::json!({
        "release": t.release,
        "measure": measure_name(t),
        "datasets": t.datasets,
        "policy": policy,
        "cells": cells,
    });
    Ok(serde_json::to_string_pretty(&out)? + "\n")
}

fn figure(f: Option<&Figure>) -> String {
    match f {
        Some(Figure {
            rounded: Some(n), ..
        }) => format!("~{n}"),
        Some(f) => short_mark(f.status).to_owned(),
        None => "?".to_owned(),
    }
}

/// Renders linkage figures as text.
pub fn render_linkage(r: &LinkageReport) -> String {
    let (threshold, base) = r
        .policy
        .as_ref()
        .map_or((0, 0), |p| (p.threshold, p.rounding_base));
    let mut rows: Vec<Vec<String>> = r
        .datasets
        .iter()
        .map(|d| vec![d.dataset.clone(), figure(d.persons.as_ref())])
        .collect();
    rows.extend(r.pairs.iter().map(|p| {
        vec![
            format!("{} ⋈ {}", p.left, p.right),
            figure(p.linked.as_ref()),
        ]
    }));
    let mut out = grid(vec!["dataset / linked pair".into(), "persons".into()], rows);
    let _ = writeln!(
        out,
        "\n  ~n  perturbed, rounded to a multiple of {base}; x  withheld: fewer than {threshold} persons;\n  =   withheld: a few persons off a figure reported before"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Cell, Dimension};

    fn table() -> Table {
        let cell = |c: i32, count: Option<u64>, status: CellStatus| Cell {
            coordinates: vec![c],
            count,
            status: status as i32,
            value: None,
        };
        Table {
            dimensions: vec![Dimension {
                variable: "duo.x.niveau".into(),
                categories: vec!["havo".into(), "vwo".into()],
                entries: Vec::new(),
            }],
            cells: vec![
                cell(0, Some(31), CellStatus::Released),
                cell(1, None, CellStatus::WithheldThreshold),
                cell(-1, None, CellStatus::WithheldSecondary),
            ],
            datasets: vec!["duo.x".into()],
            ..Table::default()
        }
    }

    #[test]
    fn csv_marks_totals_with_an_empty_coordinate_and_names_each_status() {
        let out = render_table(&table(), Format::Csv).unwrap();
        assert_eq!(
            out,
            "duo.x.niveau,duo.x.niveau_label,count,status\nhavo,havo,31,released\nvwo,vwo,,withheld_threshold\n,,,withheld_secondary\n"
        );
    }

    #[test]
    fn a_mean_table_shows_its_means_with_the_counts_alongside() {
        let mut t = table();
        t.measure = MeasureKind::Mean as i32;
        t.variable = "cbs.i.inkomen".into();
        t.cells[0].value = Some(41_250.5);
        let csv = render_table(&t, Format::Csv).unwrap();
        assert_eq!(
            csv,
            "duo.x.niveau,duo.x.niveau_label,mean,count,status\nhavo,havo,41250.50,31,released\nvwo,vwo,,,withheld_threshold\n,,,,withheld_secondary\n"
        );
        let text = render_table(&t, Format::Text).unwrap();
        assert!(
            text.contains("41250.50") && !text.contains(" 31 "),
            "{text}"
        );
    }

    #[test]
    fn shares_say_what_they_are_of_and_mark_what_cannot_be_computed() {
        let out = render_shares(&table(), Share::Row);
        assert!(
            out.starts_with(
                "Persons, % of the row total (computed from perturbed values) in duo.x\n"
            ),
            "{out}"
        );
        // The total is withheld: havo's share cannot be computed.
        assert!(
            out.lines()
                .any(|l| l.starts_with("havo") && l.trim_end().ends_with('?')),
            "{out}"
        );
    }

    #[test]
    fn text_shows_marks_for_withheld_cells_and_explains_them() {
        let out = render_table(&table(), Format::Text).unwrap();
        assert!(out.contains("havo") && out.contains("31"));
        assert!(out
            .lines()
            .any(|l| l.starts_with("vwo") && l.trim_end().ends_with('x')));
        assert!(out.contains("x  withheld: too few persons or households"));
        assert!(out.contains("s  withheld: withheld so that the cells above cannot be recomputed"));
        assert!(
            !out.contains("d  withheld"),
            "only the marks used are explained"
        );
    }
}
