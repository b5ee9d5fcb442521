//! Open categorical columns and their labels (issue 8): identifier-like
//! values are refused at upload; a table releases a label only when enough
//! persons hold it in the dataset, pooling the rarer ones into `(other)`;
//! a filter on a rare label fails exactly as one on an absent label; the
//! categories come in natural order.
//!
//! Fixture `cbs.ages` (threshold 10), persons 1..=50 in label order:
//! ```text
//! 5-9              12   released
//! 10-14            15   released
//! 15-19            10   released (exactly the threshold)
//! Schiermonnikoog   3   rare ┐
//! Urk-Oost          1   rare ├ (other): 13
//! Zwolle-Zuid       9   rare ┘
//! ```

mod common;

use common::{bsns, cell, db_rows, exact_policy, fields, reason, said, table_request, TestServer};
use ddc::proto::{self, CellStatus, Filter, TableRequest};
use tonic::Code;

const AGES: &str = "cbs.ages";
const LEEFTIJD: &str = "cbs.ages.leeftijd";
const RARE: [&str; 3] = ["Schiermonnikoog", "Urk-Oost", "Zwolle-Zuid"];
const SHOWN: [&str; 4] = ["5-9", "10-14", "15-19", "(other)"];

fn ages_csv(ids: &[String]) -> String {
    let groups = [
        ("5-9", 12),
        ("10-14", 15),
        ("15-19", 10),
        ("Schiermonnikoog", 3),
        ("Urk-Oost", 1),
        ("Zwolle-Zuid", 9),
    ];
    let mut csv = String::from("bsn,leeftijd,geslacht,inkomen\n");
    let mut next = ids.iter().enumerate();
    for (label, n) in groups {
        for (i, id) in next.by_ref().take(n) {
            let geslacht = if i % 2 == 0 { "m" } else { "v" };
            csv.push_str(&format!("{id},{label},{geslacht},{}\n", 20_000 + 100 * i));
        }
    }
    csv
}

async fn ages_server() -> TestServer {
    let mut s = TestServer::start_with_policy(exact_policy()).await;
    s.create(
        AGES,
        "bsn",
        &["leeftijd:open", "geslacht:cat:m,v", "inkomen:int"],
    )
    .await;
    let r = s.upload(AGES, &ages_csv(&bsns(50))).await.unwrap();
    assert_eq!(r.rows_stored, 50);
    s
}

fn filter(values: &[&str], negate: bool) -> Filter {
    Filter {
        variable: LEEFTIJD.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
        negate,
    }
}

fn assert_no_rare_label(what: &str, text: &str) {
    for label in RARE {
        assert!(!text.contains(label), "{what} names a rare label: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifier_spellings_in_an_open_column_are_refused_by_row_without_echo() {
    let mut s = TestServer::start().await;
    s.create("cbs.plaats", "bsn", &["plaats:open"]).await;
    let spellings = [
        "486297135.0",
        "0579403063",
        "BSN047938808",
        "497-513-845",
        "7.34778181E+08",
        "1e9",
        "-4.9E7",
    ];
    let ids = bsns(spellings.len() + 2);
    let mut csv = format!("bsn,plaats\n{},Delft\n", ids[0]);
    for (id, value) in ids[1..].iter().zip(spellings) {
        csv.push_str(&format!("{id},{value}\n"));
    }
    csv.push_str(&format!("{},(other)\n", ids[spellings.len() + 1]));
    let status = s.upload("cbs.plaats", &csv).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason(&status).0, "INVALID_ROWS");
    // Rows 2..=8 are the spellings, row 9 the reserved label.
    let expected: Vec<String> = (2..=spellings.len() + 2)
        .map(|row| format!("rows[{row}].plaats"))
        .collect();
    assert_eq!(fields(&status), expected);
    let told = said(&status);
    assert!(told.contains("looks like an identifier"), "{told}");
    assert!(told.contains("reserved"), "{told}");
    for value in spellings.iter().chain(&["(other)"]) {
        assert!(!told.contains(value), "the refusal echoes a value: {told}");
    }
    assert_eq!(s.version("cbs.plaats").await, 0);
    assert_eq!(db_rows(s.data_dir.path()), 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_misses_are_ordinary_open_categories() {
    let mut s = TestServer::start().await;
    s.create("cbs.plaats", "bsn", &["plaats:open"]).await;
    let values = ["12-14 jaar", "1234AB", "groep 8", "2.5E+3"];
    let csv: String = bsns(values.len())
        .iter()
        .zip(values)
        .map(|(id, v)| format!("{id},{v}\n"))
        .collect();
    let r = s
        .upload("cbs.plaats", &format!("bsn,plaats\n{csv}"))
        .await
        .unwrap();
    assert_eq!(r.rows_stored, values.len() as u64);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rare_labels_are_pooled_into_other_and_never_released() {
    let mut s = ages_server().await;
    let mut responses = String::new();

    let t = s.table(table_request(&[LEEFTIJD], &[])).await.unwrap();
    assert_eq!(t.dimensions[0].categories, SHOWN);
    let released = |n| (Some(n), CellStatus::Released);
    assert_eq!(
        cell(&t, &[2]),
        released(10),
        "held by exactly the threshold"
    );
    assert_eq!(cell(&t, &[3]), released(13), "the rare persons, pooled");
    assert_eq!(cell(&t, &[-1]), released(50));
    responses.push_str(&format!("{t:?}"));

    let two_way = table_request(&[LEEFTIJD, "cbs.ages.geslacht"], &[]);
    let t = s.table(two_way).await.unwrap();
    assert_eq!(t.dimensions[0].categories, SHOWN);
    responses.push_str(&format!("{t:?}"));

    for measure in [proto::MeasureKind::Sum, proto::MeasureKind::Mean] {
        let request = TableRequest {
            measure: measure as i32,
            variable: "cbs.ages.inkomen".into(),
            ..table_request(&[LEEFTIJD], &[])
        };
        let t = s.table(request).await.unwrap();
        assert_eq!(t.dimensions[0].categories, SHOWN);
        responses.push_str(&format!("{t:?}"));
    }

    // `(other)` selects every pooled person; negated, every shown one.
    let pooled = TableRequest {
        filters: vec![filter(&["(other)"], false)],
        ..table_request(&[LEEFTIJD], &[])
    };
    let t = s.table(pooled).await.unwrap();
    assert_eq!(t.dimensions[0].categories, ["(other)"]);
    assert_eq!(cell(&t, &[-1]), released(13));
    responses.push_str(&format!("{t:?}"));
    // (By age: by sex, each sex's shown persons would differ from the
    // two-way table's sex margin by the few pooled persons of that sex,
    // which the release ledger refuses.)
    let not_pooled = TableRequest {
        filters: vec![filter(&["(other)"], true)],
        ..table_request(&[LEEFTIJD], &[])
    };
    let t = s.table(not_pooled).await.unwrap();
    assert_eq!(cell(&t, &[-1]), released(37));
    responses.push_str(&format!("{t:?}"));

    for f in [filter(&["5-9", RARE[2]], false), filter(&[RARE[0]], true)] {
        let request = TableRequest {
            filters: vec![f],
            ..table_request(&[LEEFTIJD], &[])
        };
        let status = s.table(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        responses.push_str(&said(&status));
    }
    assert_no_rare_label("a response", &responses);
    assert!(responses.contains("15-19"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_on_a_rare_label_fails_exactly_as_one_on_an_absent_label() {
    let mut s = ages_server().await;
    for negate in [false, true] {
        let mut refusals = Vec::new();
        for value in [RARE[1], "Nergens"] {
            let request = TableRequest {
                filters: vec![filter(&["10-14", value], negate)],
                ..table_request(&["cbs.ages.geslacht"], &[])
            };
            refusals.push(s.table(request).await.unwrap_err());
        }
        let [rare, absent] = &refusals[..] else {
            unreachable!()
        };
        assert_eq!(rare.code(), Code::InvalidArgument);
        assert_eq!(fields(rare), ["filters[0].values[1]"]);
        assert_eq!(rare.code(), absent.code());
        assert_eq!(rare.message(), absent.message());
        assert_eq!(rare.details(), absent.details());
        assert_eq!(reason(rare), reason(absent));
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_categories_come_in_natural_order_also_after_a_restart() {
    let mut s = TestServer::start_with_policy(exact_policy()).await;
    s.create("duo.groep", "pgn", &["groep:open"]).await;
    // Ten persons each, so nothing is pooled; string order would put
    // `10-14` and `groep 10` first.
    let labels = ["groep 10", "10-14", "groep 2", "5-9"];
    let ids = bsns(10 * labels.len());
    let csv: String = ids
        .iter()
        .zip(labels.iter().flat_map(|l| [l; 10]))
        .map(|(id, l)| format!("{id},{l}\n"))
        .collect();
    s.upload("duo.groep", &format!("pgn,groep\n{csv}"))
        .await
        .unwrap();
    let request = table_request(&["duo.groep.groep"], &[]);
    let natural = ["5-9", "10-14", "groep 2", "groep 10"];
    let t = s.table(request.clone()).await.unwrap();
    assert_eq!(t.dimensions[0].categories, natural);
    // No rare value: no pooled category, and naming it is naming nothing.
    let pooled = TableRequest {
        filters: vec![Filter {
            variable: "duo.groep.groep".into(),
            values: vec!["(other)".into()],
            negate: false,
        }],
        ..request.clone()
    };
    let status = s.table(pooled).await.unwrap_err();
    assert_eq!(fields(&status), ["filters[0].values[0]"]);
    let mut s = s.restart().await;
    let t = s.table(request).await.unwrap();
    assert_eq!(t.dimensions[0].categories, natural);
    s.stop().await;
}
