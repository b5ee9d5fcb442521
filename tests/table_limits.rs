//! One analyst must not occupy the machine: a table over its attacker budget
//! is refused (and audited) as RESOURCE_EXHAUSTED, the same way every time;
//! a caller gets one table in the attacker check at a time while cheap
//! tables keep being answered; oversized requests are refused as
//! INVALID_ARGUMENT before any work, and nothing of them is stored.

mod common;

use std::sync::{mpsc, Mutex};

use common::{bsns, db_scalar, exact_policy, table_request, TestServer};
use ddc::engine::AttackerHook;
use ddc::proto::{Filter, TableRequest};
use ddc::server::ServerConfig;
use tonic::Code;
use tonic_types::StatusExt;

/// Persons per (niveau, regio): three cells below the threshold of 10,
/// every margin at least 10.
const GRID: [[usize; 4]; 4] = [
    [3, 20, 20, 20],
    [20, 4, 20, 20],
    [20, 20, 5, 20],
    [20, 20, 20, 20],
];
const NIVEAUS: [&str; 4] = ["a", "b", "c", "d"];
const REGIOS: [&str; 4] = ["n", "o", "z", "w"];

/// A server configured by `configure`, holding `duo.t` filled from [`GRID`].
async fn server(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let mut s = TestServer::start_configured(exact_policy(), configure).await;
    s.create("duo.t", "bsn", &["niveau:cat:a,b,c,d", "regio:cat:n,o,z,w"])
        .await;
    let persons: usize = GRID.iter().flatten().sum();
    let mut ids = bsns(persons).into_iter();
    let mut csv = String::from("bsn,niveau,regio\n");
    for (i, row) in GRID.iter().enumerate() {
        for (j, &n) in row.iter().enumerate() {
            for id in ids.by_ref().take(n) {
                csv.push_str(&format!("{id},{},{}\n", NIVEAUS[i], REGIOS[j]));
            }
        }
    }
    s.upload("duo.t", &csv).await.unwrap();
    s
}

/// Has unsafe cells: needs the attacker check.
fn expensive() -> TableRequest {
    table_request(&["duo.t.niveau", "duo.t.regio"], &[])
}

/// Every cell and margin safe: no attacker check.
fn cheap() -> TableRequest {
    table_request(&["duo.t.niveau"], &[])
}

fn releases(s: &TestServer) -> i64 {
    db_scalar(s.data_dir.path(), "SELECT count(*) FROM releases")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_over_its_attacker_budget_is_refused_while_a_cheap_table_is_released() {
    let mut s = server(|c| c.table_limits.attacker.work = 10).await;

    let refused = s.table(expensive()).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(reason(&refused), "ATTACKER_BUDGET_EXCEEDED");
    assert!(
        refused.message().contains("coarsen"),
        "{}",
        refused.message()
    );
    assert_eq!(releases(&s), 0);

    let table = s.table(cheap()).await.unwrap();
    assert!(table.cells.iter().all(|c| c.count.is_some()));
    assert_eq!(releases(&s), 1);

    let audited = db_scalar(
        s.data_dir.path(),
        "SELECT count(*) FROM audit_log WHERE kind = 'table.refused' AND CAST(entry AS TEXT) LIKE '%attacker_budget%'",
    );
    assert_eq!(audited, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_over_budget_request_is_refused_again_identically() {
    let mut s = server(|c| c.table_limits.attacker.work = 10).await;
    let first = s.table(expensive()).await.unwrap_err();
    let again = s.table(expensive()).await.unwrap_err();
    assert_eq!(first.code(), Code::ResourceExhausted);
    assert_eq!(
        (first.code(), first.message()),
        (again.code(), again.message())
    );
    assert_eq!(releases(&s), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_budget_releases_the_same_table() {
    let mut s = server(|_| {}).await;
    let table = s.table(expensive()).await.unwrap();
    assert!(table.cells.iter().any(|c| c.count.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_audited_table_of_the_same_caller_is_refused_while_the_first_runs() {
    // The hook holds the first attacker check, slot taken, until `go` is dropped.
    let (started, check_started) = mpsc::channel::<()>();
    let (go, wait_for_go) = mpsc::channel::<()>();
    let wait_for_go = Mutex::new(wait_for_go);
    let hook = AttackerHook::new(move || {
        let _ = started.send(());
        let _ = wait_for_go.lock().unwrap().recv();
    });
    let mut s = server(|c| {
        c.table_limits.attacker_checks_per_caller = 1;
        c.table_limits.attacker_checks_total = 2;
        c.attacker_hook = Some(hook);
    })
    .await;

    let mut release = s.clients.release.clone();
    let first = tokio::spawn(async move { release.tabulate(expensive()).await });
    tokio::task::spawn_blocking(move || check_started.recv())
        .await
        .unwrap()
        .expect("the first table reaches its attacker check");

    let second = s.table(expensive()).await.unwrap_err();
    assert_eq!(second.code(), Code::ResourceExhausted, "{second:?}");
    assert_eq!(reason(&second), "ATTACKER_CHECKS_BUSY");
    assert!(second.message().contains("busy"), "{}", second.message());
    let audited = db_scalar(
        s.data_dir.path(),
        "SELECT count(*) FROM audit_log WHERE kind = 'table.refused' AND CAST(entry AS TEXT) LIKE '%attacker_checks_busy%'",
    );
    assert_eq!(audited, 1, "the busy refusal is audited");
    // A table that needs no attacker check is still answered.
    s.table(cheap()).await.unwrap();

    drop(go);
    let first = first.await.unwrap().expect("the first table is released");
    assert!(first.into_inner().cells.iter().any(|c| c.count.is_none()));
    // With the first done, the caller's slot is free again.
    s.table(expensive()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_filter_values_are_refused_as_invalid_argument() {
    let mut s = server(|_| {}).await;
    let mut request = cheap();
    request.filters = vec![Filter {
        variable: "duo.t.regio".into(),
        // Valid categories, which a table would otherwise accept.
        values: (0..100_000).map(|i| REGIOS[i % 4].to_owned()).collect(),
        negate: false,
    }];
    let refused = s.table(request).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let bad = refused.get_details_bad_request().expect("field violations");
    assert_eq!(bad.field_violations[0].field, "filters[0].values");
    assert!(
        !refused.message().contains("value9"),
        "{}",
        refused.message()
    );
    assert!(!bad.field_violations[0].description.contains("value9"));
    assert_eq!(releases(&s), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_project_name_is_refused_and_not_stored() {
    let mut s = server(|_| {}).await;
    let audit_bytes = |s: &TestServer| {
        db_scalar(
            s.data_dir.path(),
            "SELECT coalesce(sum(length(entry)), 0) FROM audit_log",
        )
    };
    let before = audit_bytes(&s);
    let mut request = cheap();
    request.project = "p".repeat(900 << 10);
    let refused = s.table(request).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let bad = refused.get_details_bad_request().expect("field violations");
    assert_eq!(bad.field_violations[0].field, "project");
    assert!(refused.message().len() < 200, "{}", refused.message());
    assert_eq!(releases(&s), 0);
    assert_eq!(audit_bytes(&s), before);
}

fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status.get_details_error_info().expect("error info").reason
}
