//! Hand-checked fixtures for each primary rule, with edge values exactly at
//! each threshold, and household units. Tables go through the real server.

mod common;

use common::{bsns, cell, exact_policy, table_request, TestServer};
use ddc::disclosure::{DisclosurePolicy, GroupDisclosure};
use ddc::proto::{CellStatus, MeasureKind, TableRequest};

use CellStatus::{
    Released as R, WithheldDominance as DOM, WithheldGroup as G, WithheldPPercent as P,
};
use CellStatus::{WithheldThreshold as X, WithheldValueCounts as V};

/// One row: the cell's category, the value, and the household (if any).
type Row = (&'static str, i64, Option<&'static str>);

/// Uploads `rows` into `name` with columns `cel` (categorical) and `v`
/// (`v_spec`), one synthetic person each, and returns the server.
async fn server_with(
    policy: DisclosurePolicy,
    name: &str,
    cells: &str,
    v_spec: &str,
    rows: &[Row],
) -> TestServer {
    let mut s = TestServer::start_with_policy(policy).await;
    let household = if rows.iter().any(|r| r.2.is_some()) {
        "hh"
    } else {
        ""
    };
    s.try_create_with_households(
        name,
        "bsn",
        household,
        &[&format!("cel:cat:{cells}"), v_spec],
    )
    .await
    .unwrap();
    let ids = bsns(rows.len());
    let mut csv = if household.is_empty() {
        "bsn,cel,v\n".to_string()
    } else {
        "bsn,cel,v,hh\n".to_string()
    };
    for (id, (c, v, h)) in ids.iter().zip(rows) {
        match h {
            Some(h) => csv.push_str(&format!("{id},{c},{v},{h}\n")),
            None => csv.push_str(&format!("{id},{c},{v}\n")),
        }
    }
    s.upload(name, &csv).await.unwrap();
    s
}

fn repeat(cel: &'static str, value: i64, n: usize) -> Vec<Row> {
    vec![(cel, value, None); n]
}

/// `n` persons with distinct values from `first` up (so that the variable
/// has many distinct values and is not checked as counts of each value).
fn spread(cel: &'static str, first: i64, n: usize) -> Vec<Row> {
    (0..n as i64).map(|i| (cel, first + i, None)).collect()
}

fn values(cel: &'static str, values: &[i64]) -> Vec<Row> {
    values.iter().map(|&v| (cel, v, None)).collect()
}

fn sum_request(by: &str, variable: &str) -> TableRequest {
    TableRequest {
        measure: MeasureKind::Sum as i32,
        variable: variable.into(),
        ..table_request(&[by], &[])
    }
}

fn status(t: &ddc::proto::Table, coords: &[i32]) -> CellStatus {
    cell(t, coords).1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threshold_withholds_nine_and_releases_ten() {
    let mut rows = repeat("a", 1, 10);
    rows.extend(repeat("b", 1, 30));
    rows.extend(repeat("c", 1, 40));
    let mut s = server_with(exact_policy(), "cbs.t", "a,b,c,d", "v:int", &rows).await;
    let t = s
        .table(table_request(
            &["cbs.t.cel"],
            &[("cbs.t.cel", &["a", "b", "c"])],
        ))
        .await
        .unwrap();
    assert_eq!(
        cell(&t, &[0]),
        (Some(10), R),
        "exactly at the threshold is released"
    );
    s.stop().await;

    let mut rows = repeat("a", 1, 9);
    rows.extend(repeat("b", 1, 30));
    rows.extend(repeat("c", 1, 40));
    let mut s = server_with(exact_policy(), "cbs.t", "a,b,c", "v:int", &rows).await;
    let t = s.table(table_request(&["cbs.t.cel"], &[])).await.unwrap();
    assert_eq!(status(&t, &[0]), X, "one below the threshold is withheld");
    // The total is released, so one more cell must go: the cheapest, b.
    assert_eq!(cell(&t, &[1]), (None, CellStatus::WithheldSecondary));
    assert_eq!(cell(&t, &[2]), (Some(40), R));
    assert_eq!(cell(&t, &[-1]), (Some(79), R));
    // An empty category is withheld too (zeros are disclosive by default).
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_cells_follow_the_policy() {
    let mut rows = repeat("a", 1, 20);
    rows.extend(repeat("b", 1, 30));
    let mut s = server_with(exact_policy(), "cbs.z", "a,b,c", "v:int", &rows).await;
    let t = s.table(table_request(&["cbs.z.cel"], &[])).await.unwrap();
    assert_eq!(status(&t, &[2]), X);
    s.stop().await;
    let policy = DisclosurePolicy {
        zeros_disclosive: false,
        ..exact_policy()
    };
    let mut s = server_with(policy, "cbs.z", "a,b,c", "v:int", &rows).await;
    let t = s.table(table_request(&["cbs.z.cel"], &[])).await.unwrap();
    assert_eq!(cell(&t, &[2]), (Some(0), R));
    assert_eq!(cell(&t, &[-1]), (Some(50), R));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cell_holding_its_whole_row_is_withheld_when_the_group_rule_applies() {
    // b holds every person: 100% of the (one-way) total.
    let rows = repeat("b", 1, 30);
    let always = DisclosurePolicy {
        group_disclosure: GroupDisclosure::Always,
        zeros_disclosive: false,
        ..exact_policy()
    };
    let mut s = server_with(always, "cbs.g", "a,b", "v:int", &rows).await;
    let t = s.table(table_request(&["cbs.g.cel"], &[])).await.unwrap();
    assert_eq!(status(&t, &[0]), G, "the zero is a group disclosure");
    assert_eq!(status(&t, &[1]), G, "the 100% cell is a group disclosure");
    s.stop().await;
    // One holder and the default policy: the rule applies to multi-holder tables only.
    let single = DisclosurePolicy {
        zeros_disclosive: false,
        ..exact_policy()
    };
    let mut s = server_with(single, "cbs.g", "a,b", "v:int", &rows).await;
    let t = s.table(table_request(&["cbs.g.cel"], &[])).await.unwrap();
    assert_eq!(cell(&t, &[1]), (Some(30), R));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dominance_withholds_just_over_k_percent_and_releases_exactly_k() {
    // a: top two are 4500 + 4500 = 90% of 10000: released (the rule is "more than").
    // b: top two are 4501 + 4501 of 10002: 90.008%: withheld.
    // The eight others sum to 1000 with distinct values.
    let others = [121, 122, 123, 124, 126, 127, 128, 129];
    let mut rows = values("a", &[4500, 4500]);
    rows.extend(values("a", &others));
    rows.extend(values("b", &[4501, 4501]));
    rows.extend(values("b", &others));
    rows.extend(spread("c", 1000, 20));
    rows.extend(spread("d", 2000, 20));
    let mut s = server_with(exact_policy(), "cbs.d", "a,b,c,d", "v:int", &rows).await;
    let t = s.table(sum_request("cbs.d.cel", "cbs.d.v")).await.unwrap();
    assert_eq!(status(&t, &[1]), DOM);
    assert_ne!(status(&t, &[0]), DOM);
    assert!(matches!(
        status(&t, &[0]),
        R | CellStatus::WithheldSecondary
    ));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p_percent_withholds_below_p_and_releases_exactly_p() {
    // With dominance off (k = 100), the p% rule alone: X − x1 − x2 < p·x1.
    // a: x1 = 1000, x2 = 500, rest = 100 = 10% of x1 exactly: released.
    // b: x1 = 1000, x2 = 500, rest = 99: withheld.
    let policy = DisclosurePolicy {
        dominance_k: 100.0,
        ..exact_policy()
    };
    let mut rows = values("a", &[1000, 500, 7, 8, 9, 10, 11, 12, 13, 14, 16]);
    rows.extend(values("b", &[1000, 500, 7, 8, 9, 10, 11, 12, 13, 14, 15]));
    rows.extend(spread("c", 1000, 20));
    rows.extend(spread("d", 2000, 20));
    let mut s = server_with(policy, "cbs.p", "a,b,c,d", "v:int", &rows).await;
    let t = s.table(sum_request("cbs.p.cel", "cbs.p.v")).await.unwrap();
    assert_eq!(status(&t, &[1]), P);
    assert_ne!(status(&t, &[0]), P);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_few_valued_variable_is_checked_as_counts_of_each_value() {
    // A 0/1 variable: in a, 9 ones and 1 zero (the zero is one person);
    // in b, 15 ones and 15 zeros.
    let mut rows = repeat("a", 1, 9);
    rows.push(("a", 0, None));
    rows.extend(repeat("b", 1, 15));
    rows.extend(repeat("b", 0, 15));
    rows.extend(repeat("c", 1, 15));
    rows.extend(repeat("c", 0, 15));
    let mut s = server_with(exact_policy(), "cbs.f", "a,b,c", "v:int", &rows).await;
    let mean = TableRequest {
        measure: MeasureKind::Mean as i32,
        ..sum_request("cbs.f.cel", "cbs.f.v")
    };
    let t = s.table(mean).await.unwrap();
    assert_eq!(status(&t, &[0]), V);
    let (value, st) = (cell(&t, &[2]).0, status(&t, &[2]));
    assert!(
        st == R || st == CellStatus::WithheldSecondary,
        "{st:?} {value:?}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_household_counts_once_however_many_members_are_in_the_cell() {
    // Cell a: 12 persons in 9 households (one household of 4): 9 units < 10.
    // Cell b: 12 persons in 12 households.
    let mut rows: Vec<Row> = vec![("a", 30_000, Some("h-big")); 4];
    let singles_a = ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"];
    rows.extend(singles_a.iter().map(|h| ("a", 30_000, Some(*h))));
    let singles_b = [
        "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9", "b10", "b11", "b12",
    ];
    rows.extend(singles_b.iter().map(|h| ("b", 30_000, Some(*h))));
    let mut s = server_with(exact_policy(), "cbs.h", "a,b", "v:int:household", &rows).await;
    let t = s.table(sum_request("cbs.h.cel", "cbs.h.v")).await.unwrap();
    assert_eq!(status(&t, &[0]), X, "9 households, although 12 persons");
    // The same data with the value declared per person passes the threshold.
    s.stop().await;
    let mut s = server_with(
        exact_policy(),
        "cbs.h",
        "a,b",
        "v:int",
        &rows.iter().map(|r| (r.0, r.1, None)).collect::<Vec<_>>(),
    )
    .await;
    let t = s.table(sum_request("cbs.h.cel", "cbs.h.v")).await.unwrap();
    assert_ne!(status(&t, &[0]), X);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rich_household_dominates_as_one_unit() {
    // Cell a: one household of 3 members, household income 200,000 (a
    // contribution of 600,000), and 9 single households of 5,000.
    // Per household: top two ≈ 605,000 of 645,000 = 93.8%: dominated.
    // Counted per person it would be 400,000 of 645,000 = 62%: not.
    // (The singles' incomes differ by a euro each, so that the variable has
    // many distinct values.)
    let mut rows: Vec<Row> = vec![("a", 200_000, Some("rich")); 3];
    let singles = ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"];
    rows.extend(
        singles
            .iter()
            .zip(0..)
            .map(|(h, i)| ("a", 4_996 + i, Some(*h))),
    );
    let others = [
        "o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8", "o9", "o10", "o11", "o12",
    ];
    rows.extend(
        others
            .iter()
            .zip(0..)
            .map(|(h, i)| ("b", 5_000 + i, Some(*h))),
    );
    let mut s = server_with(exact_policy(), "cbs.r", "a,b", "v:int:household", &rows).await;
    let t = s.table(sum_request("cbs.r.cel", "cbs.r.v")).await.unwrap();
    assert_eq!(status(&t, &[0]), DOM);
    s.stop().await;
}
