//! Attacks across releases, each run against the per-table engine alone
//! (where it succeeds, so the test is real) and with the defence on (where
//! it fails): differencing by population, averaging over rewordings, and
//! recovering an outlier from a sum.

mod common;

use common::{bsns, cell, db_scalar, exact_policy, table_request, TestServer};
use ddc::disclosure::DisclosurePolicy;
use ddc::engine::POPULATION_REFUSAL;
use ddc::proto::{Filter, MeasureKind, Table, TableRequest};
use tonic::Code;
use tonic_types::StatusExt;

const DS: &str = "cbs.people";

/// 400 persons: region r1/r2, age group, decile 1..5. Nine persons are aged
/// 40-44 in r1, all in decile 5; a known person is one of them. One person
/// in r1 is aged 60-64.
fn people() -> String {
    let mut csv = String::from("bsn,region,age,decile\n");
    for (i, id) in bsns(400).iter().enumerate() {
        let (region, age, decile) = if i < 9 {
            ("r1", "40-44", 5)
        } else if i == 9 {
            ("r1", "60-64", 1)
        } else {
            let age = ["20-24", "25-29", "30-34"][i % 3];
            (if i % 2 == 0 { "r1" } else { "r2" }, age, 1 + i % 5)
        };
        csv.push_str(&format!("{id},{region},{age},{decile}\n"));
    }
    csv
}

async fn server(policy: DisclosurePolicy) -> TestServer {
    let mut s = TestServer::start_with_policy(policy).await;
    s.create(
        DS,
        "bsn",
        &[
            "region:cat:r1,r2",
            "age:cat:20-24,25-29,30-34,40-44,60-64",
            "decile:cat:1,2,3,4,5",
        ],
    )
    .await;
    s.upload(DS, &people()).await.unwrap();
    s
}

fn filter(variable: &str, values: &[&str], negate: bool) -> Filter {
    Filter {
        variable: variable.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
        negate,
    }
}

/// Deciles of region r1, and the same without one age group.
fn differencing_pair() -> (TableRequest, TableRequest) {
    let all = TableRequest {
        project: "a".into(),
        ..table_request(&["cbs.people.decile"], &[("cbs.people.region", &["r1"])])
    };
    let mut minus = all.clone();
    minus.project = "b".into();
    minus
        .filters
        .push(filter("cbs.people.age", &["40-44"], true));
    (all, minus)
}

fn counts(t: &Table) -> Vec<Option<u64>> {
    (0..5).map(|d| cell(t, &[d]).0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differencing_by_population_reveals_a_persons_category_without_the_ledger() {
    let policy = DisclosurePolicy {
        release_ledger: false,
        ..DisclosurePolicy::default()
    };
    let mut s = server(policy).await;
    let (all, minus) = differencing_pair();
    let a = counts(&s.table(all).await.unwrap());
    let b = counts(&s.table(minus).await.unwrap());
    // Every cell the nine did not touch is identical (same contributors,
    // same noise); only decile 5 moved: the known person is in decile 5.
    let changed: Vec<usize> = (0..5).filter(|&d| a[d] != b[d]).collect();
    assert_eq!(changed, [4]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_refuses_a_population_a_few_persons_off_in_either_direction_and_any_project() {
    let mut s = server(DisclosurePolicy::default()).await;
    let (all, minus) = differencing_pair();
    let first = s.table(all.clone()).await.unwrap();
    let refused = s.table(minus.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(refused.message(), POPULATION_REFUSAL);
    let dir = s.data_dir.path();
    assert_eq!(
        db_scalar(
            dir,
            "SELECT count(*) FROM audit_log WHERE kind = 'table.refused'"
        ),
        1
    );

    // The same population, reworded, is fine (and gets the same noise).
    let reworded = TableRequest {
        filters: vec![
            filter("cbs.people.region", &["r2"], true),
            filter(
                "cbs.people.age",
                &["20-24", "25-29", "30-34", "40-44", "60-64"],
                false,
            ),
        ],
        ..all.clone()
    };
    assert_eq!(counts(&s.table(reworded).await.unwrap()), counts(&first));
    // A population that differs by at least the threshold is fine.
    let wide = TableRequest {
        filters: vec![
            filter("cbs.people.region", &["r1"], false),
            filter("cbs.people.age", &["20-24"], true),
        ],
        ..all.clone()
    };
    s.table(wide).await.unwrap();
    s.stop().await;

    // Smaller first, then larger: refused as well.
    let mut s = server(DisclosurePolicy::default()).await;
    s.table(minus).await.unwrap();
    assert_eq!(
        s.table(all).await.unwrap_err().message(),
        POPULATION_REFUSAL
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_survives_a_restart() {
    let mut s = server(DisclosurePolicy::default()).await;
    let (all, minus) = differencing_pair();
    s.table(all).await.unwrap();
    let mut s = s.restart().await;
    assert_eq!(
        s.table(minus).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_says_the_same_whether_one_or_nine_persons_differ() {
    let mut s = server(DisclosurePolicy::default()).await;
    let (all, nine_fewer) = differencing_pair();
    s.table(all.clone()).await.unwrap();
    let nine = s.table(nine_fewer).await.unwrap_err();
    let mut one_fewer = all;
    one_fewer
        .filters
        .push(filter("cbs.people.age", &["60-64"], true));
    let one = s.table(one_fewer).await.unwrap_err();
    assert_eq!(nine.message(), one.message());
    assert_eq!(nine.code(), one.code());
    // No details beyond the rule: the same bytes, the reason code alone.
    assert_eq!(nine.details(), one.details());
    let details = one.get_error_details();
    let info = details.error_info().expect("the reason");
    assert_eq!(info.reason, "POPULATION_DIFFERENCING");
    assert!(info.metadata.is_empty(), "{info:?}");
    assert!(details.bad_request().is_none() && details.precondition_failure().is_none());
    assert!(
        !one.message().chars().any(|c| c.is_ascii_digit()),
        "no numbers: {}",
        one.message()
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_wordings_of_one_table_average_to_one_noisy_release() {
    let mut s = server(DisclosurePolicy::default()).await;
    let base = table_request(
        &["cbs.people.decile", "cbs.people.age"],
        &[("cbs.people.region", &["r2"])],
    );
    let ages = ["20-24", "25-29", "30-34", "40-44", "60-64"];
    let mut wordings: Vec<TableRequest> = Vec::new();
    for k in 0..20 {
        let mut w = base.clone();
        w.project = format!("p{}", k % 4);
        match k % 5 {
            0 => {}
            1 => w.filters = vec![filter("cbs.people.region", &["r1"], true)],
            2 => w.filters.push(filter("cbs.people.age", &ages, false)),
            3 => w.filters.push(filter(
                "cbs.people.decile",
                &["5", "4", "3", "2", "1"],
                false,
            )),
            _ => w.datasets.push(DS.into()),
        }
        wordings.push(w);
    }
    let tables: Vec<Table> = futures_collect(&mut s, wordings).await;
    let first: Vec<Option<u64>> = tables[0].cells.iter().map(|c| c.count).collect();
    for t in &tables[1..] {
        assert_eq!(t.cells.iter().map(|c| c.count).collect::<Vec<_>>(), first);
    }
    // The average of the twenty is the one noisy release, not the truth.
    let exact = {
        let mut e = server(exact_policy()).await;
        let t = e.table(base).await.unwrap();
        e.stop().await;
        t
    };
    let differs = exact
        .cells
        .iter()
        .zip(&tables[0].cells)
        .filter(|(x, n)| x.count.is_some() && n.count.is_some() && x.count != n.count)
        .count();
    assert!(
        differs > 0,
        "averaging twenty rewordings did not recover the exact table"
    );
    s.stop().await;
}

async fn futures_collect(s: &mut TestServer, requests: Vec<TableRequest>) -> Vec<Table> {
    let mut out = Vec::new();
    for r in requests {
        out.push(s.table(r).await.unwrap());
    }
    out
}

/// 2,000 ordinary incomes averaging exactly 30,000 and one of 250,000,000 in
/// region r1. An analyst who knows the person is in r1 and the typical
/// income subtracts 2,000 × 30,000 from the cell's sum.
async fn outlier_estimate(policy: DisclosurePolicy) -> (f64, ddc::proto::CellStatus) {
    let mut s = TestServer::start_with_policy(policy).await;
    s.create("cbs.rich", "bsn", &["region:cat:r1,r2", "income:int"])
        .await;
    let mut csv = String::from("bsn,region,income\n");
    for (i, id) in bsns(2_401).iter().enumerate() {
        let (region, income) = match i {
            0 => ("r1", 250_000_000),
            1..=2000 => (
                "r1",
                30_000
                    + if i % 2 == 0 {
                        (i % 1000) as i64
                    } else {
                        -(((i - 1) % 1000) as i64)
                    },
            ),
            _ => ("r2", 30_000),
        };
        csv.push_str(&format!("{id},{region},{income}\n"));
    }
    s.upload("cbs.rich", &csv).await.unwrap();
    let request = TableRequest {
        measure: MeasureKind::Sum as i32,
        variable: "cbs.rich.income".into(),
        ..table_request(&["cbs.rich.region"], &[])
    };
    let t = s.table(request).await.unwrap();
    let (_, status) = cell(&t, &[0]);
    let sum = t.cells[0]
        .value
        .expect("the r1 sum passes dominance and p%");
    s.stop().await;
    (sum - 2_000.0 * 30_000.0, status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outlier_is_recovered_from_an_exact_sum_but_not_from_a_perturbed_one() {
    let truth = 250_000_000.0;
    let (estimate, status) = outlier_estimate(exact_policy()).await;
    assert_eq!(
        status,
        ddc::proto::CellStatus::Released,
        "it passes (2, 90%) and p% = 10"
    );
    assert!(
        (estimate - truth).abs() / truth < 0.01,
        "exact sum: estimate {estimate} within 1%"
    );
    let (estimate, _) = outlier_estimate(DisclosurePolicy::default()).await;
    assert!(
        (estimate - truth).abs() / truth >= 0.10,
        "perturbed sum: estimate {estimate} off by at least p%"
    );
}

/// A holder uploads 30 persons known to be at CBS, asks the linkage
/// figures, then uploads the same 30 plus one person of interest.
async fn linkage_probe(
    policy: DisclosurePolicy,
    target_at_cbs: bool,
) -> (ddc::proto::Figure, ddc::proto::Figure) {
    let mut s = TestServer::start_with_policy(policy).await;
    let ids = bsns(200);
    s.create("cbs.base", "bsn", &["x:cat:a"]).await;
    // CBS holds persons 0..150, and the target (person 199) only if asked.
    let mut cbs: String = ids[..150].iter().map(|id| format!("{id},a\n")).collect();
    if target_at_cbs {
        cbs.push_str(&format!("{},a\n", ids[199]));
    }
    s.upload("cbs.base", &format!("bsn,x\n{cbs}"))
        .await
        .unwrap();
    s.create("duo.probe", "pgn", &["x:cat:a"]).await;
    let probe: String = ids[..30].iter().map(|id| format!("{id},a\n")).collect();
    s.upload("duo.probe", &format!("pgn,x\n{probe}"))
        .await
        .unwrap();
    let figure = |r: ddc::proto::LinkageReport| r.pairs[0].linked.unwrap();
    let request = || ddc::proto::LinkageRequest {
        datasets: vec!["cbs.base".into(), "duo.probe".into()],
        ..Default::default()
    };
    let before = figure(
        s.clients
            .release
            .linkage(request())
            .await
            .unwrap()
            .into_inner(),
    );
    let plus_one = format!("pgn,x\n{probe}{},a\n", ids[199]);
    s.upload_with("duo.probe", &plus_one, false, true)
        .await
        .unwrap();
    let after = figure(
        s.clients
            .release
            .linkage(request())
            .await
            .unwrap()
            .into_inner(),
    );
    s.stop().await;
    (before, after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_cannot_learn_whether_one_person_links_by_uploading_a_set_plus_one() {
    // Exact figures and no ledger: the second figure is the first plus one
    // exactly when the person is at CBS.
    let exact = DisclosurePolicy {
        release_ledger: false,
        rounding_base: 1,
        ..exact_policy()
    };
    for at_cbs in [true, false] {
        let (before, after) = linkage_probe(exact, at_cbs).await;
        assert_eq!(
            after.rounded.unwrap() - before.rounded.unwrap(),
            u64::from(at_cbs)
        );
    }
    // With the ledger the second figure is withheld either way: the probe's
    // own population changed by one, so whether or not the linked one did,
    // the figure is too close to the first.
    for at_cbs in [true, false] {
        let (before, after) = linkage_probe(DisclosurePolicy::default(), at_cbs).await;
        assert!(before.rounded.is_some());
        assert_eq!(
            (after.rounded, after.status),
            (None, ddc::proto::CellStatus::WithheldDifferencing as i32)
        );
    }
}

/// DUO holds everyone of `people()` except, if asked, the one person aged
/// 60-64. A table over DUO ⋈ CBS, then the same without age 60-64: the
/// second is refused whether or not that person is in DUO's data, so the
/// refusal does not say whether the person is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_does_not_say_whether_the_removed_person_links() {
    for in_duo in [true, false] {
        let mut s = server(DisclosurePolicy::default()).await;
        s.create("duo.all", "pgn", &["x:cat:a"]).await;
        let duo: String = bsns(400)
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 9 || in_duo)
            .map(|(_, id)| format!("{id},a\n"))
            .collect();
        s.upload("duo.all", &format!("pgn,x\n{duo}")).await.unwrap();
        let mut all = table_request(&["cbs.people.decile"], &[("cbs.people.region", &["r1"])]);
        all.datasets.push("duo.all".into());
        s.table(all.clone()).await.unwrap();
        let mut minus = all;
        minus
            .filters
            .push(filter("cbs.people.age", &["60-64"], true));
        let refused = s.table(minus).await.unwrap_err();
        assert_eq!(refused.message(), POPULATION_REFUSAL, "in DUO: {in_duo}");
        s.stop().await;
    }
}
