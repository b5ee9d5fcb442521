//! Refusals: dimensions, extensions, malformed tables, too much to draw.

use std::path::Path;

use super::{
    counts_by_decile_and_level, counts_by_level, dimension, filled_rects, hex, released, svg,
    texts, withheld,
};
use crate::chart::{
    render, ChartCell, ChartDimension, ChartError, ChartFormat, ChartKind, ChartTable,
};

#[test]
fn three_dimensions_are_refused() {
    let mut table = counts_by_decile_and_level();
    table.dimensions.push(dimension("geslacht", &["m", "v"]));
    for cell in &mut table.cells {
        cell.coordinates.push(0);
    }
    for kind in [ChartKind::Bars, ChartKind::Lines] {
        let error = render(&table, kind, ChartFormat::Svg).unwrap_err();
        assert!(
            matches!(error, ChartError::TooManyDimensions { count: 3 }),
            "{error}"
        );
    }
    table.dimensions.clear();
    let error = render(&table, ChartKind::Bars, ChartFormat::Png).unwrap_err();
    assert!(matches!(error, ChartError::NoDimensions), "{error}");
}

#[test]
fn the_format_comes_from_the_extension_in_any_case() {
    assert_eq!(
        ChartFormat::from_path(Path::new("out/a.svg")).unwrap(),
        ChartFormat::Svg
    );
    assert_eq!(
        ChartFormat::from_path(Path::new("A.SVG")).unwrap(),
        ChartFormat::Svg
    );
    assert_eq!(
        ChartFormat::from_path(Path::new("b.Png")).unwrap(),
        ChartFormat::Png
    );
    for bad in ["chart.pdf", "chart", "chart.svg.gz", ".png", "chart."] {
        let error = ChartFormat::from_path(Path::new(bad)).unwrap_err();
        assert!(
            matches!(error, ChartError::UnknownExtension { .. }),
            "{bad}: {error}"
        );
        assert!(error.to_string().contains(".svg or .png"));
    }
}

#[test]
fn malformed_tables_are_refused_with_the_reason() {
    let base = counts_by_level();
    let with_cells = |cells: Vec<ChartCell>| ChartTable {
        cells,
        ..base.clone()
    };
    type Expected = fn(&ChartError) -> bool;
    let cases: Vec<(ChartTable, Expected)> = vec![
        (with_cells(vec![]), |e| matches!(e, ChartError::NoCells)),
        (with_cells(vec![released(&[0, 1], 1.0)]), |e| {
            matches!(
                e,
                ChartError::CoordinateCount {
                    cell: 0,
                    expected: 1,
                    found: 2
                }
            )
        }),
        (with_cells(vec![released(&[4], 1.0)]), |e| {
            matches!(
                e,
                ChartError::CoordinateOutOfRange {
                    index: 4,
                    labels: 4,
                    ..
                }
            )
        }),
        (
            with_cells(vec![released(&[1], 1.0), withheld(&[1], "threshold")]),
            |e| matches!(e, ChartError::DuplicateCell { cell: 1 }),
        ),
        (
            with_cells(vec![ChartCell {
                coordinates: vec![0],
                value: Some(7.0),
                withheld: Some("threshold".to_string()),
            }]),
            |e| matches!(e, ChartError::WithheldWithValue { cell: 0 }),
        ),
        (with_cells(vec![released(&[0], f64::INFINITY)]), |e| {
            matches!(e, ChartError::NonFiniteValue { cell: 0 })
        }),
        (
            ChartTable {
                dimensions: vec![dimension("leeg", &[])],
                ..base.clone()
            },
            |e| matches!(e, ChartError::EmptyDimension { .. }),
        ),
    ];
    for (table, expected) in cases {
        let error = render(&table, ChartKind::Bars, ChartFormat::Svg).unwrap_err();
        assert!(expected(&error), "unexpected error: {error}");
    }
}

#[test]
fn too_many_series_or_categories_are_refused() {
    let many: Vec<String> = (0..11).map(|i| i.to_string()).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let table = ChartTable {
        dimensions: vec![dimension("a", &["x"]), dimension("b", &many)],
        cells: vec![released(&[0, 0], 1.0)],
        ..counts_by_level()
    };
    let error = render(&table, ChartKind::Lines, ChartFormat::Svg).unwrap_err();
    assert!(
        matches!(
            error,
            ChartError::TooManySeries {
                count: 11,
                max: 10,
                ..
            }
        ),
        "{error}"
    );

    let labels: Vec<String> = (0..201).map(|i| i.to_string()).collect();
    let table = ChartTable {
        dimensions: vec![ChartDimension {
            variable: "postcode".to_string(),
            labels,
        }],
        cells: vec![released(&[0], 1.0)],
        ..counts_by_level()
    };
    let error = render(&table, ChartKind::Bars, ChartFormat::Svg).unwrap_err();
    assert!(
        matches!(error, ChartError::TooManyCategories { count: 201, .. }),
        "{error}"
    );
}

#[test]
fn a_table_with_every_cell_withheld_still_draws_its_markers() {
    let table = ChartTable {
        cells: (0..4).map(|i| withheld(&[i], "threshold")).collect(),
        ..counts_by_level()
    };
    let (_, elements) = svg(&table, ChartKind::Bars);
    assert!(filled_rects(&elements, &hex(0)).is_empty());
    assert_eq!(
        texts(&elements).iter().filter(|t| **t == "×").count(),
        4 + 1
    );
}
