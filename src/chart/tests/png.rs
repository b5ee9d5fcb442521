//! PNG output: signature, size, and drawn pixels.

use super::{counts_by_decile_and_level, layout_of, shares, svg};
use crate::chart::{palette, render, ChartFormat, ChartKind};

#[test]
fn png_is_a_png_of_the_laid_out_size_with_text_drawn() {
    let table = counts_by_decile_and_level();
    let bytes = render(&table, ChartKind::Bars, ChartFormat::Png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let decoder = ::png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let layout = layout_of(&table, ChartKind::Bars);
    assert_eq!((info.width, info.height), (layout.width, layout.height));
    assert_eq!(info.color_type, ::png::ColorType::Rgb);
    let pixel = |x: u32, y: u32| {
        let i = ((y * info.width + x) * 3) as usize;
        (pixels[i], pixels[i + 1], pixels[i + 2])
    };
    // Dark title text near the top left; a bar's colour inside the plot; white margin.
    let title_ink = (20..300)
        .flat_map(|x| (20..40).map(move |y| (x, y)))
        .filter(|&(x, y)| pixel(x, y).0 < 100)
        .count();
    assert!(title_ink > 100, "title pixels: {title_ink}");
    let c = palette::series(1);
    let bar_pixels = (0..info.width)
        .flat_map(|x| (0..info.height).map(move |y| (x, y)))
        .filter(|&(x, y)| pixel(x, y) == (c.0, c.1, c.2))
        .count();
    assert!(bar_pixels > 1000, "bar pixels: {bar_pixels}");
    assert_eq!(pixel(2, 2), (255, 255, 255));
}

#[test]
fn svg_and_png_have_the_same_size() {
    let table = shares();
    let (_, elements) = svg(&table, ChartKind::Lines);
    let root = &elements[0];
    assert_eq!(root.name, "svg");
    let layout = layout_of(&table, ChartKind::Lines);
    assert_eq!(root.number("width"), f64::from(layout.width));
    assert_eq!(root.number("height"), f64::from(layout.height));
    let png = render(&table, ChartKind::Lines, ChartFormat::Png).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
    let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
    assert_eq!((width, height), (layout.width, layout.height));
}
