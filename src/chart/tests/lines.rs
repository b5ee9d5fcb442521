//! Line charts: one polyline per unbroken run, gaps and markers at withheld points.

use super::{dimension, filled_rects, hex, layout_of, released, shares, svg, texts, Element};
use crate::chart::{ChartKind, ChartTable};

#[test]
fn lines_have_one_polyline_per_unbroken_run_and_a_gap_at_the_withheld_point() {
    let table = shares();
    let (_, elements) = svg(&table, ChartKind::Lines);
    let layout = layout_of(&table, ChartKind::Lines);
    let x = |c: usize| {
        let (l, r) = layout.category_band(c, 5);
        ((l + r) / 2.0).round() as i32
    };
    let lines = |color: &str| -> Vec<Vec<(i32, i32)>> {
        elements
            .iter()
            .filter(|e| e.name == "polyline" && e.attribute("stroke") == color)
            .map(Element::points)
            .collect()
    };
    // havo: all five points in one line.
    let havo = lines(&hex(0));
    assert_eq!(havo.len(), 1);
    assert_eq!(
        havo[0].iter().map(|p| p.0).collect::<Vec<_>>(),
        (0..5).map(x).collect::<Vec<_>>()
    );
    // vwo: broken at decile 3 into 1–2 and 4–5; no point at decile 3.
    let vwo = lines(&hex(1));
    assert_eq!(vwo.len(), 2);
    assert_eq!(
        vwo[0].iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![x(0), x(1)]
    );
    assert_eq!(
        vwo[1].iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![x(3), x(4)]
    );
    let dots: Vec<f64> = elements
        .iter()
        .filter(|e| e.name == "circle" && e.attribute("fill") == hex(1))
        .map(|e| e.number("cx"))
        .collect();
    assert_eq!(
        dots.len(),
        4 + 1,
        "a dot per released point and one in the legend"
    );
    assert!(!dots.contains(&f64::from(x(2))));

    // The marker sits at decile 3, in vwo's colour; the legend explains it.
    let marker = elements
        .iter()
        .find(|e| e.name == "text" && e.text == "×" && e.attribute("fill") == hex(1))
        .expect("marker in vwo's colour");
    assert_eq!(marker.number("x"), f64::from(x(2)));
    let texts = texts(&elements);
    assert!(texts.contains(&"withheld (dominance)"), "{texts:?}");
    assert!(texts.contains(&"% of row (computed from perturbed values)"));
    assert!(texts.contains(&"havo") && texts.contains(&"vwo"));
}

#[test]
fn a_single_line_has_no_series_legend() {
    let table = ChartTable {
        dimensions: vec![dimension("decile", &["1", "2", "3"])],
        cells: vec![
            released(&[0], 1.5),
            released(&[1], 2.5),
            released(&[2], 2.0),
        ],
        ..shares()
    };
    let (_, elements) = svg(&table, ChartKind::Lines);
    let series: Vec<&Element> = elements
        .iter()
        .filter(|e| e.name == "polyline" && e.attribute("stroke") == hex(0))
        .collect();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].points().len(), 3);
    assert!(
        filled_rects(&elements, &hex(0)).is_empty(),
        "no legend swatch"
    );
    assert!(!texts(&elements).iter().any(|t| t.starts_with("withheld")));
}
