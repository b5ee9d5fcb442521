//! Tables along classifications, through the real server: a filter on a
//! sector shows only its levels, structural zeros are shown as such and
//! cause no suppression, levels can be grouped coarser and shown with
//! their parents' subtotals. Each defence is compared with the same data
//! declared without code lists, where the zeros cost whole rows.

mod common;

use common::{bsns, cell, exact_policy, TestServer};
use ddc::proto::{self, CellStatus, CreateCodeListRequest, Filter, TableRequest};
use tonic::Code;
use tonic_types::StatusExt;

const SECTORS: [&str; 4] = ["po", "vo", "mbo", "ho"];
/// Every level with its sector and the pupils it holds per income decile.
const LEVELS: [(&str, &str, usize); 11] = [
    ("groep", "po", 15),
    ("vmbo", "vo", 20),
    ("havo", "vo", 15),
    ("vwo", "vo", 12),
    ("mbo_1", "mbo", 11),
    ("mbo_2", "mbo", 11),
    ("mbo_3", "mbo", 11),
    ("mbo_4", "mbo", 11),
    ("ad", "ho", 10),
    ("bachelor", "ho", 14),
    ("master", "ho", 10),
];
const DECILES: usize = 10;

/// Pupils per (level, decile) as in [`LEVELS`]; CBS knows every pupil's decile.
fn files() -> (String, String) {
    let per_decile: usize = LEVELS.iter().map(|l| l.2).sum();
    let ids = bsns(per_decile * DECILES);
    let mut ids = ids.iter();
    let (mut duo, mut cbs) = (
        String::from("pgn,sector,niveau\n"),
        String::from("bsn,decile\n"),
    );
    for decile in 1..=DECILES {
        for (level, sector, n) in LEVELS {
            for _ in 0..n {
                let id = ids.next().expect("enough identifiers");
                duo.push_str(&format!("{id},{sector},{level}\n"));
                cbs.push_str(&format!("{id},{decile}\n"));
            }
        }
    }
    (duo, cbs)
}

fn code(code: &str, parent: &str) -> proto::Code {
    proto::Code {
        code: code.into(),
        label: format!("Label {code}"),
        label_en: String::new(),
        parent: parent.into(),
    }
}

/// `duo.lijst` on code lists, `duo.plat` the same data on plain
/// categories, and `cbs.inkomen` with the deciles.
async fn server() -> TestServer {
    let mut s = TestServer::start_with_policy(exact_policy()).await;
    let lists = &mut s.clients.classifications;
    let sector = CreateCodeListRequest {
        name: "onderwijssector".into(),
        parent: String::new(),
        codes: SECTORS.iter().map(|c| code(c, "")).collect(),
    };
    lists.create_code_list(sector).await.unwrap();
    let niveau = CreateCodeListRequest {
        name: "onderwijsniveau".into(),
        parent: "onderwijssector".into(),
        codes: LEVELS.iter().map(|(c, p, _)| code(c, p)).collect(),
    };
    lists.create_code_list(niveau).await.unwrap();
    s.create(
        "duo.lijst",
        "pgn",
        &["sector:list:onderwijssector", "niveau:list:onderwijsniveau"],
    )
    .await;
    let levels: Vec<&str> = LEVELS.iter().map(|l| l.0).collect();
    let plain_levels = format!("niveau:cat:{}", levels.join(","));
    let plain_sectors = format!("sector:cat:{}", SECTORS.join(","));
    s.create("duo.plat", "pgn", &[&plain_sectors, &plain_levels])
        .await;
    s.create("cbs.inkomen", "bsn", &["decile:cat:1,2,3,4,5,6,7,8,9,10"])
        .await;
    let (duo, cbs) = files();
    for (name, csv) in [
        ("duo.lijst", &duo),
        ("duo.plat", &duo),
        ("cbs.inkomen", &cbs),
    ] {
        s.upload(name, csv).await.unwrap();
    }
    s
}

fn request(by: &[String], filters: &[(String, &[&str])]) -> TableRequest {
    TableRequest {
        group_by: by.to_vec(),
        filters: filters
            .iter()
            .map(|(variable, values)| Filter {
                variable: variable.clone(),
                values: values.iter().map(|v| v.to_string()).collect(),
                negate: false,
            })
            .collect(),
        datasets: vec!["cbs.inkomen".into()],
        ..Default::default()
    }
}

fn statuses(t: &proto::Table, status: CellStatus) -> usize {
    t.cells.iter().filter(|c| c.status == status as i32).count()
}

fn withheld(t: &proto::Table) -> usize {
    t.cells.len() - statuses(t, CellStatus::Released) - statuses(t, CellStatus::StructuralZero)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vo_table_comes_out_whole_when_levels_are_declared_on_a_code_list() {
    let mut s = server().await;
    let by = |ds: &str| vec![format!("{ds}.niveau"), "cbs.inkomen.decile".to_owned()];
    let vo = |ds: &str| vec![(format!("{ds}.sector"), &["vo"][..])];
    let t = s
        .table(request(&by("duo.lijst"), &vo("duo.lijst")))
        .await
        .unwrap();
    // Only the vo levels are shown, with their labels, in list order.
    assert_eq!(t.dimensions[0].categories, ["vmbo", "havo", "vwo"]);
    let labels: Vec<&str> = t.dimensions[0]
        .entries
        .iter()
        .map(|e| e.label.as_str())
        .collect();
    assert_eq!(labels, ["Label vmbo", "Label havo", "Label vwo"]);
    assert_eq!(t.cells.len(), 4 * 11);
    assert_eq!(withheld(&t), 0, "every cell passes the primary rules");
    let released = (Some(15), CellStatus::Released);
    assert_eq!(cell(&t, &[1, 0]), released, "havo, decile 1");
    assert_eq!(cell(&t, &[1, -1]), (Some(150), CellStatus::Released));
    assert_eq!(cell(&t, &[-1, -1]), (Some(470), CellStatus::Released));

    // The same data on plain categories: the other sectors' levels are rows
    // of zeros, withheld, and protecting them costs released-size cells.
    let flat = s
        .table(request(&by("duo.plat"), &vo("duo.plat")))
        .await
        .unwrap();
    assert_eq!(flat.dimensions[0].categories.len(), 11);
    assert_eq!(statuses(&flat, CellStatus::WithheldThreshold), 8 * 11);
    assert!(statuses(&flat, CellStatus::WithheldSecondary) > 0);
    let havo_row = (-1..10).filter(|&d| cell(&flat, &[2, d]).1 != CellStatus::Released);
    assert!(
        havo_row.count() > 0,
        "secondary suppression reaches the vo rows"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structural_zeros_are_shown_as_such_and_withhold_nothing() {
    let mut s = server().await;
    let by = |ds: &str| vec![format!("{ds}.sector"), format!("{ds}.niveau")];
    let t = s.table(request(&by("duo.lijst"), &[])).await.unwrap();
    assert_eq!(t.cells.len(), 5 * 12);
    // Every level lies in one sector: the other 3 × 11 combinations are empty by definition.
    assert_eq!(statuses(&t, CellStatus::StructuralZero), 33);
    assert_eq!(
        cell(&t, &[0, 2]),
        (Some(0), CellStatus::StructuralZero),
        "po × havo"
    );
    // havo holds 100% of its column, as every level does of its sector's:
    // known by definition, so the group rule does not withhold it.
    assert_eq!(cell(&t, &[1, 2]), (Some(150), CellStatus::Released));
    assert_eq!(withheld(&t), 0);
    assert_eq!(t.summary.unwrap().structural_zeros, 33);

    // With plain categories every zero and every 100% cell is withheld.
    let flat = s.table(request(&by("duo.plat"), &[])).await.unwrap();
    assert_eq!(statuses(&flat, CellStatus::StructuralZero), 0);
    assert!(withheld(&flat) >= 33 + 11, "{} withheld", withheld(&flat));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn levels_group_coarser_and_show_their_parents_subtotals() {
    let mut s = server().await;
    let by = |v: &str| vec![v.to_owned(), "cbs.inkomen.decile".to_owned()];
    let coarse = s
        .table(request(&by("duo.lijst.niveau@onderwijssector"), &[]))
        .await
        .unwrap();
    assert_eq!(coarse.dimensions[0].categories, SECTORS);
    assert_eq!(coarse.dimensions[0].entries[1].level, "onderwijssector");
    assert_eq!(
        cell(&coarse, &[1, 0]),
        (Some(47), CellStatus::Released),
        "vo, decile 1"
    );
    assert_eq!(
        cell(&coarse, &[3, -1]),
        (Some(340), CellStatus::Released),
        "ho"
    );

    let nested = s
        .table(request(&by("duo.lijst.niveau+onderwijssector"), &[]))
        .await
        .unwrap();
    let d = &nested.dimensions[0];
    assert_eq!(d.categories.len(), 11 + 4);
    let entry = |code: &str| d.entries.iter().position(|e| e.code == code).unwrap();
    let vo = entry("vo");
    assert!(d.entries[vo].subtotal && d.entries[vo].parent == -1);
    assert_eq!(d.entries[entry("havo")].parent, vo as i32);
    assert_eq!(
        cell(&nested, &[vo as i32, -1]),
        (Some(470), CellStatus::Released)
    );
    assert_eq!(withheld(&nested), 0);

    // A filter at the sector level of the levels' own column is the same
    // as a filter on the sector column.
    let on_level = [("duo.lijst.niveau@onderwijssector".to_owned(), &["vo"][..])];
    let t = s
        .table(request(&by("duo.lijst.niveau"), &on_level))
        .await
        .unwrap();
    assert_eq!(t.dimensions[0].categories, ["vmbo", "havo", "vwo"]);
    assert_eq!(cell(&t, &[-1, -1]), (Some(470), CellStatus::Released));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_levels_are_refused_at_the_field_without_echo() {
    let mut s = server().await;
    for by in [
        "duo.lijst.niveau@gemeente",
        "duo.plat.niveau@onderwijssector",
    ] {
        let e = s.table(request(&[by.to_owned()], &[])).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        let bad = e.get_details_bad_request().expect("field violations");
        assert_eq!(bad.field_violations[0].field, "group_by[0]");
        assert!(!format!("{e:?}").contains("gemeente"));
    }
    // A subtotal level must be coarser than the level grouped at.
    let e = s
        .table(request(
            &["duo.lijst.niveau@onderwijssector+onderwijsniveau".to_owned()],
            &[],
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    s.stop().await;
}
