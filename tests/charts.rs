//! `ddc table --chart` and the demo's chart, as users run them: the file
//! is written, withheld cells are marked and carry no value, and a mean
//! table's withheld cell cannot be read off the picture.

mod common;

use common::{bsns, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_and_mean_charts_draw_released_figures_and_mark_the_rest() {
    let mut s = TestServer::start().await;
    s.create(
        "cbs.p",
        "bsn",
        &["sekse:cat:m,v", "regio:cat:noord,zuid", "inkomen:int"],
    )
    .await;
    // 3 persons in (v, zuid): withheld; one of them with an income no
    // released mean comes near.
    let ids = bsns(200);
    let rows: String = ids
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let (sekse, regio, inkomen) = match i {
                0 => ("v", "zuid", 9_876_543),
                1..3 => ("v", "zuid", 30_000),
                _ if i % 3 == 0 => ("v", "noord", 30_000 + i),
                _ if i % 2 == 0 => ("m", "zuid", 35_000 + i),
                _ => ("m", "noord", 40_000 + i),
            };
            format!("{b},{sekse},{regio},{inkomen}\n")
        })
        .collect();
    s.upload("cbs.p", &format!("bsn,sekse,regio,inkomen\n{rows}"))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, extra) in [
        ("count.svg", None),
        ("mean.svg", Some("cbs.p.inkomen")),
        ("count.png", None),
    ] {
        let path = dir.path().join(name);
        let path_arg = path.to_str().unwrap();
        let mut args = vec![
            "table",
            "--by",
            "cbs.p.sekse",
            "--by",
            "cbs.p.regio",
            "--chart",
            path_arg,
            "--server",
            &s.url,
        ];
        if let Some(v) = extra {
            args.extend(["--mean", v]);
        }
        let out = common::ddc_cli(&args);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&path).unwrap();
        if name.ends_with(".png") {
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
            continue;
        }
        let svg = String::from_utf8(bytes).unwrap();
        assert!(svg.contains("<svg"), "{name}");
        assert!(
            svg.contains("withheld"),
            "{name}: the withheld cell is marked"
        );
        assert!(
            svg.contains("Source: cbs.p"),
            "{name}: the notes are under the chart"
        );
        assert!(
            !svg.contains("98765"),
            "{name}: no trace of the withheld income"
        );
    }
    // A chart that cannot be drawn costs no release.
    let out = common::ddc_cli(&[
        "table",
        "--by",
        "cbs.p.sekse",
        "--chart",
        "x.gif",
        "--server",
        &s.url,
    ]);
    assert_eq!(out.status.code(), Some(1));
    s.stop().await;
}

/// At the demo's own size: with far fewer pupils its small-province table
/// can be refused by the differencing rule, which the demo does not expect.
#[test]
fn the_demo_writes_its_equal_opportunity_chart() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("kansen.svg");
    let out = common::ddc_cli(&["demo", "--chart", chart.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("Chart of each level's share per decile"),
        "{said}"
    );
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(
        svg.contains("<polyline") || svg.contains("<path"),
        "a line chart"
    );
    assert!(svg.contains("computed from perturbed values"));
}
