//! Upload → link → table on a small fixture, against a hand-computed
//! expectation; linkage figures; persistence across a restart.
//!
//! Fixture (persons numbered 1..=70, each a synthetic BSN):
//! - DUO holds persons 1..=60: 1–30 havo, 31–55 vwo, 56–60 vmbo.
//! - CBS holds persons 11..=70: 11–40 decile `lo`, 41–70 decile `hi`.
//! - Linked: persons 11..=60 (50 persons).
//!
//! niveau × decile over the linked persons, threshold 10:
//! ```text
//!          lo   hi   Total
//! havo     20    0x   20s
//! vwo      10   15    25
//! vmbo      0x   5x    5x
//! Total    30s  20s   50s
//! ```

mod common;

use common::{bsns, cell, table_request, TestServer};
use ddc::proto::{CellStatus, LinkageRequest};

const DUO: &str = "duo.fixture";
const CBS: &str = "cbs.fixture";

fn duo_csv(ids: &[String]) -> String {
    let mut csv = String::from("pgn,niveau,sector\n");
    for p in 1..=60usize {
        let niveau = match p {
            1..=30 => "havo",
            31..=55 => "vwo",
            _ => "vmbo",
        };
        csv.push_str(&format!("{},{niveau},vo\n", ids[p - 1]));
    }
    csv
}

fn cbs_csv(ids: &[String]) -> String {
    let mut csv = String::from("decile,bsn,income\n");
    for p in 11..=70usize {
        let decile = if p <= 40 { "lo" } else { "hi" };
        csv.push_str(&format!("{decile},{},{}\n", ids[p - 1], 1000 * p));
    }
    csv
}

async fn loaded_server() -> TestServer {
    let ids = bsns(70);
    let mut s = TestServer::start().await;
    s.create(DUO, "pgn", &["niveau:cat:havo,vwo,vmbo", "sector:open"])
        .await;
    s.create(CBS, "bsn", &["decile:cat:lo,hi", "income:int"])
        .await;
    let r = s.upload(DUO, &duo_csv(&ids)).await.unwrap();
    assert_eq!((r.rows_read, r.rows_stored, r.version), (60, 60, 1));
    s.upload(CBS, &cbs_csv(&ids)).await.unwrap();
    s
}

use CellStatus::{Released as R, WithheldSecondary as S, WithheldThreshold as X};

fn assert_fixture_table(t: &ddc::proto::Table) {
    assert_eq!(t.dimensions[0].categories, ["havo", "vwo", "vmbo"]);
    assert_eq!(t.dimensions[1].categories, ["lo", "hi"]);
    let expected = [
        ([0, 0], Some(20), R),
        ([0, 1], None, X),
        ([0, -1], None, S),
        ([1, 0], Some(10), R),
        ([1, 1], Some(15), R),
        ([1, -1], Some(25), R),
        ([2, 0], None, X),
        ([2, 1], None, X),
        ([2, -1], None, X),
        ([-1, 0], None, S),
        ([-1, 1], None, S),
        ([-1, -1], None, S),
    ];
    assert_eq!(t.cells.len(), expected.len());
    for (coords, count, status) in expected {
        assert_eq!(cell(t, &coords), (count, status), "cell {coords:?}");
    }
    let summary = t.summary.unwrap();
    assert_eq!(
        (
            summary.released,
            summary.withheld_threshold,
            summary.withheld_secondary
        ),
        (4, 4, 4)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_way_table_over_linked_persons_matches_the_hand_computed_one() {
    let mut s = loaded_server().await;
    let t = s
        .table(table_request(
            &["duo.fixture.niveau", "cbs.fixture.decile"],
            &[],
        ))
        .await
        .unwrap();
    assert_eq!(t.datasets, [DUO, CBS]);
    assert_fixture_table(&t);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_on_a_grouping_variable_limits_its_categories() {
    let mut s = loaded_server().await;
    let t = s
        .table(table_request(
            &["duo.fixture.niveau"],
            &[("duo.fixture.niveau", &["havo", "vwo"])],
        ))
        .await
        .unwrap();
    // DUO alone: havo 30, vwo 25, total 55 — every cell passes.
    assert_eq!(t.dimensions[0].categories, ["havo", "vwo"]);
    assert_eq!(cell(&t, &[0]), (Some(30), R));
    assert_eq!(cell(&t, &[1]), (Some(25), R));
    assert_eq!(cell(&t, &[-1]), (Some(55), R));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_a_dataset_restricts_the_population_to_linked_persons() {
    let mut s = loaded_server().await;
    let mut request = table_request(&["cbs.fixture.decile"], &[]);
    let alone = s.table(request.clone()).await.unwrap();
    assert_eq!(cell(&alone, &[0]), (Some(30), R));
    assert_eq!(cell(&alone, &[1]), (Some(30), R));
    request.datasets.push(DUO.into());
    let linked = s.table(request).await.unwrap();
    assert_eq!(cell(&linked, &[0]), (Some(30), R));
    assert_eq!(cell(&linked, &[1]), (Some(20), R));
    assert_eq!(cell(&linked, &[-1]), (Some(50), R));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_way_tables_carry_every_margin_and_check_them() {
    let mut s = loaded_server().await;
    let t = s
        .table(table_request(
            &[
                "duo.fixture.niveau",
                "cbs.fixture.decile",
                "duo.fixture.sector",
            ],
            &[],
        ))
        .await
        .unwrap();
    // 4 × 3 × 2 cells with totals; sector has the single category `vo`.
    assert_eq!(t.cells.len(), 4 * 3 * 2);
    assert_eq!(cell(&t, &[1, 1, 0]), (Some(15), R));
    assert_eq!(cell(&t, &[1, 1, -1]), (Some(15), R));
    assert_eq!(cell(&t, &[1, -1, 0]), (Some(25), R));
    assert_eq!(cell(&t, &[0, -1, -1]), (None, S));
    assert_eq!(cell(&t, &[-1, -1, -1]), (None, S));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linkage_figures_are_rounded_and_thresholded() {
    let mut s = loaded_server().await;
    let ids = bsns(70);
    s.create("duo.tiny", "pgn", &["x:cat:a"]).await;
    // Seven persons, all also in DUO's fixture: every figure about them is below 10.
    let tiny: String = ids[..7].iter().map(|id| format!("{id},a\n")).collect();
    s.upload("duo.tiny", &format!("pgn,x\n{tiny}"))
        .await
        .unwrap();
    let report = s
        .clients
        .release
        .linkage(LinkageRequest {
            datasets: vec![DUO.into(), CBS.into(), "duo.tiny".into()],
        })
        .await
        .unwrap()
        .into_inner();
    let persons: Vec<_> = report
        .datasets
        .iter()
        .map(|d| d.persons.unwrap().rounded)
        .collect();
    assert_eq!(persons, [Some(60), Some(60), None]);
    let linked: Vec<_> = report
        .pairs
        .iter()
        .map(|p| (p.left.as_str(), p.right.as_str(), p.linked.unwrap().rounded))
        .collect();
    assert_eq!(
        linked,
        [
            (DUO, CBS, Some(50)),
            (DUO, "duo.tiny", None),
            (CBS, "duo.tiny", None)
        ]
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_uploads_survive_a_restart() {
    let s = loaded_server().await;
    let (data_dir, key_dir) = s.stop().await;
    let mut s = TestServer::start_in(data_dir, key_dir).await;
    assert_eq!(s.version(DUO).await, 1);
    let t = s
        .table(table_request(
            &["duo.fixture.niveau", "cbs.fixture.decile"],
            &[],
        ))
        .await
        .unwrap();
    assert_fixture_table(&t);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_dataset_keeps_each_persons_number() {
    let mut s = loaded_server().await;
    let ids = bsns(70);
    let persons_before = common::db_persons(s.data_dir.path());
    let r = s
        .upload_with(DUO, &duo_csv(&ids), false, true)
        .await
        .unwrap();
    assert_eq!(r.version, 2);
    assert_eq!(common::db_persons(s.data_dir.path()), persons_before);
    let t = s
        .table(table_request(
            &["duo.fixture.niveau", "cbs.fixture.decile"],
            &[],
        ))
        .await
        .unwrap();
    assert_fixture_table(&t);
    s.stop().await;
}
