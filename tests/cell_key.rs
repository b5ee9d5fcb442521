//! The cell-key method through the server: the same persons get the same
//! noise however the request is worded; different sets get their own;
//! noise stays within the perturbation table's bounds; a re-upload keeps
//! each person's record key; and the differencing attack on sums no longer
//! yields one person's value.

mod common;

use common::{bsns, cell, db_scalar, table_request, TestServer};
use ddc::disclosure::DisclosurePolicy;
use ddc::proto::{CellStatus, Filter, MeasureKind, TableRequest};

const DS: &str = "cbs.ck";
const CATEGORIES: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", "h"];

/// Person i: category i % 8, region r1 when (i / 8) is even, sex v for
/// i % 3 == 0, income 20,000 + 37·i. Returns the CSV and the true counts
/// per category in region r1.
fn fixture(n: usize) -> (String, [u64; 8]) {
    let mut csv = String::from("bsn,cel,region,sex,income\n");
    let mut r1 = [0u64; 8];
    for (i, id) in bsns(n).iter().enumerate() {
        let region = if in_r1(i) { "r1" } else { "r2" };
        let sex = if i % 3 == 0 { "v" } else { "m" };
        if region == "r1" {
            r1[i % 8] += 1;
        }
        csv.push_str(&format!(
            "{id},{},{region},{sex},{}\n",
            CATEGORIES[i % 8],
            20_000 + 37 * i
        ));
    }
    (csv, r1)
}

fn in_r1(i: usize) -> bool {
    (i / 8).is_multiple_of(2)
}

async fn server() -> (TestServer, [u64; 8]) {
    server_with(DisclosurePolicy::default()).await
}

async fn server_with(policy: DisclosurePolicy) -> (TestServer, [u64; 8]) {
    let mut s = TestServer::start_with_policy(policy).await;
    s.create(
        DS,
        "bsn",
        &[
            "cel:cat:a,b,c,d,e,f,g,h",
            "region:cat:r1,r2",
            "sex:cat:m,v",
            "income:int",
        ],
    )
    .await;
    let (csv, r1) = fixture(400);
    s.upload(DS, &csv).await.unwrap();
    (s, r1)
}

fn filter(variable: &str, values: &[&str], negate: bool) -> Filter {
    Filter {
        variable: variable.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
        negate,
    }
}

fn counts(t: &ddc::proto::Table) -> Vec<Option<u64>> {
    (0..8).map(|c| cell(t, &[c]).0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_persons_get_the_same_noise_however_the_request_is_worded() {
    let (mut s, _) = server().await;
    let base = table_request(&["cbs.ck.cel"], &[("cbs.ck.region", &["r1"])]);
    let reference = counts(&s.table(base.clone()).await.unwrap());
    let mut wordings = vec![
        TableRequest {
            filters: vec![filter("cbs.ck.region", &["r2"], true)],
            ..base.clone()
        },
        TableRequest {
            filters: vec![
                filter("cbs.ck.region", &["r1"], false),
                filter("cbs.ck.sex", &["m", "v"], false),
            ],
            ..base.clone()
        },
        TableRequest {
            project: "another".into(),
            ..base.clone()
        },
        TableRequest {
            datasets: vec![DS.into()],
            ..base.clone()
        },
    ];
    for w in wordings.drain(..) {
        assert_eq!(
            counts(&s.table(w.clone()).await.unwrap()),
            reference,
            "{w:?}"
        );
    }
    // The same cells inside a two-way table (region as the second dimension).
    let two_way = s
        .table(table_request(&["cbs.ck.cel", "cbs.ck.region"], &[]))
        .await
        .unwrap();
    let from_two_way: Vec<Option<u64>> = (0..8).map(|c| cell(&two_way, &[c, 0]).0).collect();
    assert_eq!(from_two_way, reference);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_stays_within_the_table_and_differs_between_sets() {
    let (mut s, r1) = server().await;
    let d = i64::from(s.policy.perturbation.unwrap().max_noise);
    let mut noises = Vec::new();
    // Each category holds 50 persons, half of them in r1: sixteen sets.
    for (region, truth) in [("r1", r1), ("r2", r1.map(|n| 50 - n))] {
        let t = s
            .table(table_request(
                &["cbs.ck.cel"],
                &[("cbs.ck.region", &[region])],
            ))
            .await
            .unwrap();
        for (c, &true_count) in truth.iter().enumerate() {
            let (count, status) = cell(&t, &[c as i32]);
            assert_eq!(status, CellStatus::Released);
            let noise = count.unwrap() as i64 - true_count as i64;
            assert!(noise.abs() <= d, "noise {noise} beyond D = {d}");
            noises.push(noise);
        }
    }
    noises.sort_unstable();
    noises.dedup();
    assert!(
        noises.len() >= 2,
        "sixteen different sets all got the same noise: {noises:?}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_upload_keeps_every_persons_record_key_and_so_the_noise() {
    let (mut s, _) = server().await;
    let request = table_request(&["cbs.ck.cel"], &[("cbs.ck.region", &["r1"])]);
    let before = s.table(request.clone()).await.unwrap();
    let (csv, _) = fixture(400);
    s.upload_with(DS, &csv, false, true).await.unwrap();
    let after = s.table(request).await.unwrap();
    assert_eq!(counts(&before), counts(&after));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sum_minus_the_same_sum_filtered_no_longer_gives_one_persons_value() {
    // The women of category a in r1 are fewer than the threshold: with the
    // release ledger on, the second table is refused outright.
    let (mut s, _) = server().await;
    let sum = |filters: Vec<Filter>| TableRequest {
        measure: MeasureKind::Sum as i32,
        variable: "cbs.ck.income".into(),
        filters,
        ..table_request(&["cbs.ck.cel"], &[])
    };
    s.table(sum(vec![filter("cbs.ck.region", &["r1"], false)]))
        .await
        .unwrap();
    let refused = s
        .table(sum(vec![
            filter("cbs.ck.region", &["r1"], false),
            filter("cbs.ck.sex", &["m"], false),
        ]))
        .await
        .unwrap_err();
    assert_eq!(refused.message(), ddc::engine::POPULATION_REFUSAL);
    s.stop().await;

    // Without the ledger, the noise alone keeps the difference inexact.
    let (mut s, _) = server_with(DisclosurePolicy {
        release_ledger: false,
        ..DisclosurePolicy::default()
    })
    .await;
    // Sum of income in each category of region r1, then the same sum over
    // the men only: the difference for category a is the women's income.
    let sum = |filters: Vec<Filter>| TableRequest {
        measure: MeasureKind::Sum as i32,
        variable: "cbs.ck.income".into(),
        filters,
        ..table_request(&["cbs.ck.cel"], &[])
    };
    let all = s
        .table(sum(vec![filter("cbs.ck.region", &["r1"], false)]))
        .await
        .unwrap();
    let men = s
        .table(sum(vec![
            filter("cbs.ck.region", &["r1"], false),
            filter("cbs.ck.sex", &["m"], false),
        ]))
        .await
        .unwrap();
    let income = |i: usize| (20_000 + 37 * i) as f64;
    let in_a_r1 = |i: &usize| i.is_multiple_of(8) && in_r1(*i);
    let women: f64 = (0..400)
        .filter(in_a_r1)
        .filter(|i| i % 3 == 0)
        .map(income)
        .sum();
    let (Some(a_all), Some(a_men)) = (all.cells[0].value, men.cells[0].value) else {
        panic!(
            "both sums are released: {:?} / {:?}",
            all.cells[0], men.cells[0]
        );
    };
    // Every unit's value is multiplied by its own 1 ± [15%, 25%], the same
    // in both tables: the difference is the women's perturbed sum, never
    // their exact one, and within 25% of it.
    let difference = a_all - a_men;
    assert_ne!(difference, women, "the difference is not the exact value");
    assert!(
        (difference - women).abs() <= 0.25 * women + 1e-6,
        "{difference} vs {women}"
    );
    let true_all: f64 = (0..400).filter(in_a_r1).map(income).sum();
    assert!((a_all - true_all).abs() <= 0.25 * true_all && a_all != true_all);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_unit_noise_adds_up_and_counts_come_alongside() {
    let (mut s, r1) = server().await;
    let request = TableRequest {
        measure: MeasureKind::Sum as i32,
        variable: "cbs.ck.income".into(),
        ..table_request(&["cbs.ck.cel", "cbs.ck.region"], &[])
    };
    let sums = s.table(request.clone()).await.unwrap();
    let counts = s
        .table(TableRequest {
            measure: MeasureKind::Count as i32,
            variable: String::new(),
            ..request
        })
        .await
        .unwrap();
    // Each unit carries its own noise into every cell: the released sums
    // of a row add up to its margin (up to rounding of floats).
    for c in 0..8 {
        let value = |region: i32| {
            sums.cells
                .iter()
                .find(|x| x.coordinates == [c, region])
                .and_then(|x| x.value)
                .expect("released")
        };
        let total = value(-1);
        assert!(
            (value(0) + value(1) - total).abs() < 1e-6 * total,
            "row {c}"
        );
    }
    // The counts are the count table's.
    for (a, b) in sums.cells.iter().zip(&counts.cells) {
        assert_eq!(a.count, b.count);
    }
    assert_eq!(
        (0..8)
            .map(|c| cell(&sums, &[c, 0]).0.is_some())
            .collect::<Vec<_>>(),
        r1.map(|n| n >= 10).to_vec()
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_release_is_stored_with_its_request_under_its_project() {
    let (mut s, _) = server().await;
    let request = TableRequest {
        project: "onderwijs-kansen".into(),
        ..table_request(&["cbs.ck.cel"], &[("cbs.ck.region", &["r1"])])
    };
    let t = s.table(request).await.unwrap();
    let dir = s.data_dir.path();
    assert_eq!(
        db_scalar(
            dir,
            "SELECT count(*) FROM releases WHERE project = 'onderwijs-kansen'"
        ),
        1
    );
    assert_eq!(
        db_scalar(
            dir,
            "SELECT count(*) FROM releases WHERE request LIKE '%cbs.ck.region%'"
        ),
        1
    );
    assert_eq!(
        db_scalar(dir, "SELECT max(id) FROM releases"),
        t.release as i64
    );
    s.stop().await;
}
