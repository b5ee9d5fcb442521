//! Upload → link → table on small fixtures, against hand-computed
//! expectations; linkage figures; persistence across a restart.
//!
//! Fixture (persons numbered 1..=70, each a synthetic BSN):
//! - DUO holds persons 1..=60: 1–30 havo, 31–55 vwo, 56–60 vmbo.
//! - CBS holds persons 11..=70: 11–40 decile `lo`, 41–70 decile `hi`.
//! - Linked: persons 11..=60 (50 persons).
//!
//! niveau × decile over the linked persons:
//! ```text
//!          lo   hi   Total
//! havo     20    0   20      havo/lo holds 100% of its row (group rule:
//! vwo      10   15   25      two holders); the zeros and the vmbo cells
//! vmbo      0    5    5      are below the threshold of 10.
//! Total    30   20   50
//! ```

mod common;

use common::{bsns, cell, exact_policy, table_request, TestServer};
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
    let mut s = TestServer::start_with_policy(exact_policy()).await;
    s.create(DUO, "pgn", &["niveau:cat:havo,vwo,vmbo", "sector:open"])
        .await;
    s.create(CBS, "bsn", &["decile:cat:lo,hi", "income:int"])
        .await;
    let r = s.upload(DUO, &duo_csv(&ids)).await.unwrap();
    assert_eq!((r.rows_read, r.rows_stored, r.version), (60, 60, 1));
    s.upload(CBS, &cbs_csv(&ids)).await.unwrap();
    s
}

use CellStatus::{
    Released as R, WithheldGroup as G, WithheldSecondary as S, WithheldThreshold as X,
};

fn assert_fixture_table(t: &ddc::proto::Table) {
    assert_eq!(t.dimensions[0].categories, ["havo", "vwo", "vmbo"]);
    assert_eq!(t.dimensions[1].categories, ["lo", "hi"]);
    assert_eq!(t.cells.len(), 12);
    // The primary rules, by hand.
    let primary = [
        ([0, 0], G),
        ([0, 1], X),
        ([2, 0], X),
        ([2, 1], X),
        ([2, -1], X),
    ];
    for (coords, status) in primary {
        assert_eq!(cell(t, &coords), (None, status), "cell {coords:?}");
    }
    // Everything else is released exactly (no perturbation in this policy)
    // or withheld as a secondary cell.
    let truth = [
        ([1, 0], 10),
        ([1, 1], 15),
        ([1, -1], 25),
        ([0, -1], 20),
        ([-1, 0], 30),
        ([-1, 1], 20),
        ([-1, -1], 50),
    ];
    for (coords, value) in truth {
        match cell(t, &coords) {
            (Some(n), R) => assert_eq!(n, value, "cell {coords:?}"),
            (None, S) => {}
            other => panic!("cell {coords:?}: {other:?}"),
        }
    }
    // havo/lo and havo/total are equal: releasing the row total would give
    // the group cell away, so it is withheld.
    assert_eq!(cell(t, &[0, -1]), (None, S));
}

/// A 2×2 table in one dataset (one holder: no group rule) with one small
/// cell. The attacker knows the withheld cells' ranges from their status
/// (threshold: 0..9; secondary: at least 10). The cheapest protection is
/// the rectangle of the four interior cells, every margin released:
/// x = vwo/hi ranges over 0..9, well beyond the required ±3.
/// ```text
///          lo   hi   Total
/// havo     30   20   50
/// vwo      20    4   24
/// Total    50   24   74
/// ```
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_small_cell_is_protected_by_the_rectangle_of_interior_cells() {
    let ids = bsns(74);
    let mut s = TestServer::start_with_policy(exact_policy()).await;
    s.create(
        "duo.grid",
        "pgn",
        &["niveau:cat:havo,vwo", "decile:cat:lo,hi"],
    )
    .await;
    let mut csv = String::from("pgn,niveau,decile\n");
    let groups = [
        ("havo", "lo", 30),
        ("havo", "hi", 20),
        ("vwo", "lo", 20),
        ("vwo", "hi", 4),
    ];
    let mut next = ids.iter();
    for (niveau, decile, n) in groups {
        for id in next.by_ref().take(n) {
            csv.push_str(&format!("{id},{niveau},{decile}\n"));
        }
    }
    s.upload("duo.grid", &csv).await.unwrap();
    let t = s
        .table(table_request(&["duo.grid.niveau", "duo.grid.decile"], &[]))
        .await
        .unwrap();
    let expected = [
        ([0, 0], None, S),
        ([0, 1], None, S),
        ([1, 0], None, S),
        ([1, 1], None, X),
        ([0, -1], Some(50), R),
        ([1, -1], Some(24), R),
        ([-1, 0], Some(50), R),
        ([-1, 1], Some(24), R),
        ([-1, -1], Some(74), R),
    ];
    for (coords, count, status) in expected {
        assert_eq!(cell(&t, &coords), (count, status), "cell {coords:?}");
    }
    let summary = t.summary.unwrap();
    assert_eq!(
        (
            summary.released,
            summary.withheld_threshold,
            summary.withheld_secondary
        ),
        (5, 1, 3)
    );
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
async fn three_way_tables_carry_every_margin() {
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
    // 4 × 3 × 2 cells with totals; sector has the single category `vo`, so
    // every cell holds 100% of its sector slice: the group rule withholds it.
    assert_eq!(t.cells.len(), 4 * 3 * 2);
    assert_eq!(cell(&t, &[1, 1, 0]), (None, G));
    assert_eq!(cell(&t, &[1, 0, 0]), (None, G));
    assert_eq!(cell(&t, &[2, 1, 0]), (None, X));
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
            ..Default::default()
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
    let mut s = loaded_server().await;
    let request = table_request(&["duo.fixture.niveau", "cbs.fixture.decile"], &[]);
    let before = s.table(request.clone()).await.unwrap();
    let mut s = s.restart().await;
    assert_eq!(s.version(DUO).await, 1);
    let after = s.table(request).await.unwrap();
    assert_fixture_table(&after);
    assert_eq!(before.cells, after.cells);
    assert!(after.release > before.release, "releases are numbered on");
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
