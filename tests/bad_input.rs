//! Bad input gets a clear error with the right code, names the row and
//! column at fault, never echoes a value, and stores nothing.

mod common;

use std::io::{self, Read};

use common::{bsns, db_persons, db_rows, said, table_request, TestServer};
use ddc::proto::{self, upload_request::Part, UploadHeader, UploadRequest};
use tonic::Code;
use tonic_types::StatusExt;

const DS: &str = "duo.bad";

async fn server() -> TestServer {
    let mut s = TestServer::start().await;
    s.create(
        DS,
        "pgn",
        &["niveau:cat:havo,vwo", "leerjaar:int", "cijfer:dec:1"],
    )
    .await;
    s
}

/// Field violations as `(field, description)`.
fn violations(status: &tonic::Status) -> Vec<(String, String)> {
    status
        .get_details_bad_request()
        .map(|b| {
            b.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts the upload was rejected and nothing at all was stored.
async fn assert_nothing_stored(s: &mut TestServer) {
    assert_eq!(s.version(DS).await, 0);
    assert_eq!(db_persons(s.data_dir.path()), 0);
    assert_eq!(db_rows(s.data_dir.path()), 0);
}

fn good_rows(n: usize) -> String {
    bsns(n)
        .iter()
        .map(|id| format!("{id},havo,3,7.5\n"))
        .collect()
}

async fn rejected(s: &mut TestServer, csv: &str) -> tonic::Status {
    let status = s
        .upload(DS, csv)
        .await
        .expect_err("upload must be rejected");
    assert_nothing_stored(s).await;
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_bad_row_is_named_by_row_and_column() {
    let mut s = server().await;
    let ids = bsns(8);
    let csv = format!(
        "pgn,niveau,leerjaar,cijfer\n\
         {},havo,3,7.5\n\
         {},mavo,3,7.5\n\
         {},havo,drie,7.5\n\
         {},havo,3,7.55\n\
         {},havo,3\n\
         249566757,havo,3,7.5\n\
         {},vwo,,7.5\n",
        ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]
    );
    let status = rejected(&mut s, &csv).await;
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = violations(&status).into_iter().map(|v| v.0).collect();
    assert_eq!(
        fields,
        [
            "rows[2].niveau",
            "rows[3].leerjaar",
            "rows[4].cijfer",
            "rows[5]",
            "rows[6].pgn",
            "rows[7].leerjaar",
        ]
    );
    assert!(
        status.message().contains("6 invalid row(s)"),
        "{}",
        status.message()
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_twice_in_one_upload_is_rejected_naming_both_rows() {
    let mut s = server().await;
    let ids = bsns(3);
    let csv = format!(
        "pgn,niveau,leerjaar,cijfer\n{0},havo,3,7.5\n{1},havo,3,7.5\n{0},vwo,4,6.0\n",
        ids[0], ids[1]
    );
    let status = rejected(&mut s, &csv).await;
    assert_eq!(
        violations(&status),
        [(
            "rows[3].pgn".into(),
            "the same person appears at row 1".into()
        )]
    );
    // Also as an 8-digit number: the same person after normalisation.
    let eight = "pgn,niveau,leerjaar,cijfer\n012345672,havo,3,7.5\n12345672,havo,3,7.5\n";
    let status = rejected(&mut s, eight).await;
    assert_eq!(violations(&status)[0].0, "rows[2].pgn");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_missing_columns_reject_the_header() {
    let mut s = server().await;
    let status = rejected(
        &mut s,
        &format!("pgn,niveau,leerjaar,extra\n{}", good_rows(1)),
    )
    .await;
    assert_eq!(status.code(), Code::InvalidArgument);
    let v = violations(&status);
    assert!(
        // The undeclared column is the caller's text: named by its position only.
        v.contains(&(
            "header".into(),
            "field 4 of the header line is not a declared column (is the header line missing?)"
                .into()
        )),
        "{v:?}"
    );
    assert!(!said(&status).contains("extra"));
    assert!(
        v.contains(&("header.cijfer".into(), "missing column".into())),
        "{v:?}"
    );
    let status = rejected(&mut s, "niveau,leerjaar,cijfer\nhavo,3,7.5\n").await;
    assert!(violations(&status).contains(&("header.pgn".into(), "missing column".into())));
    assert!(!said(&status).contains("extra"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_file_is_rejected() {
    let mut s = server().await;
    let status = rejected(&mut s, "pgn,niveau,leerjaar,cijfer\n").await;
    assert_eq!(status.code(), Code::InvalidArgument);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_invalid_stores_the_valid_rows_and_reports_the_rest() {
    let mut s = server().await;
    let ids = bsns(4);
    let csv = format!(
        "pgn,niveau,leerjaar,cijfer\n{0},havo,3,7.5\n{1},mavo,3,7.5\n{2},vwo,4,8.0\n{0},vwo,4,8.0\n{3},vwo,5,6.5\n",
        ids[0], ids[1], ids[2], ids[3]
    );
    let r = s.upload_with(DS, &csv, true, false).await.unwrap();
    // Row 2 is invalid; rows 1 and 4 are the same person, so neither is kept.
    assert_eq!((r.rows_read, r.rows_stored, r.rows_rejected), (5, 2, 3));
    let rows: Vec<(u64, &str)> = r
        .problems
        .iter()
        .map(|p| (p.row, p.column.as_str()))
        .collect();
    assert_eq!(rows, [(1, "pgn"), (2, "niveau"), (4, "pgn")]);
    assert_eq!(db_rows(s.data_dir.path()), 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_upload_needs_replace() {
    let mut s = server().await;
    let csv = format!("pgn,niveau,leerjaar,cijfer\n{}", good_rows(3));
    s.upload(DS, &csv).await.unwrap();
    let status = s.upload(DS, &csv).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(s.version(DS).await, 1);
    assert_eq!(
        s.upload_with(DS, &csv, false, true).await.unwrap().version,
        2
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_into_an_unknown_dataset_is_not_found() {
    let mut s = server().await;
    let status = s.upload("duo.nope", "pgn\n").await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(
        status.message().contains("header.dataset"),
        "{}",
        status.message()
    );
    assert!(!said(&status).contains("nope"));
    s.stop().await;
}

/// A source that yields some rows, then fails.
struct FailingReader {
    data: io::Cursor<Vec<u8>>,
}

impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.data.read(buf)? {
            0 => Err(io::Error::other("disk vanished")),
            n => Ok(n),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_breaks_off_stores_nothing() {
    let mut s = server().await;
    let csv = format!("pgn,niveau,leerjaar,cijfer\n{}", good_rows(50));
    let header = UploadHeader {
        dataset: DS.into(),
        skip_invalid: false,
        replace: false,
        upload_id: ddc::client::new_upload_id(),
        ..Default::default()
    };
    let source = FailingReader {
        data: io::Cursor::new(csv.clone().into_bytes()),
    };
    let err = ddc::client::upload(&mut s.clients.ingest, header, source, |_| {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    // Give the server a moment to see the reset stream; it must store nothing.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_nothing_stored(&mut s).await;

    // A raw stream whose client goes away mid-file.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(UploadRequest {
        part: Some(Part::Header(UploadHeader {
            dataset: DS.into(),
            upload_id: ddc::client::new_upload_id(),
            ..Default::default()
        })),
    })
    .await
    .unwrap();
    tx.send(UploadRequest {
        part: Some(Part::Chunk(csv.as_bytes()[..200].to_vec())),
    })
    .await
    .unwrap();
    let mut ingest = s.clients.ingest.clone();
    let call = tokio::spawn(async move {
        ingest
            .upload(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    call.abort();
    drop(tx);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_nothing_stored(&mut s).await;

    // The dataset is not stuck: a clean upload still commits.
    assert_eq!(s.upload(DS, &csv).await.unwrap().rows_stored, 50);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_header_mid_stream_is_a_protocol_error() {
    let mut s = server().await;
    let header = UploadHeader {
        dataset: DS.into(),
        upload_id: ddc::client::new_upload_id(),
        ..Default::default()
    };
    let messages = vec![
        UploadRequest {
            part: Some(Part::Header(header.clone())),
        },
        UploadRequest {
            part: Some(Part::Chunk(
                format!("pgn,niveau,leerjaar,cijfer\n{}", good_rows(2)).into_bytes(),
            )),
        },
        UploadRequest {
            part: Some(Part::Header(header)),
        },
    ];
    let status = s
        .clients
        .ingest
        .upload(tokio_stream::iter(messages))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_nothing_stored(&mut s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_dataset_declarations_are_rejected_with_the_field_at_fault() {
    let mut s = server().await;
    let status = s
        .try_create("cbs.x", "bsn", &["a:cat:p,p", "Bad:int"])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = violations(&status).into_iter().map(|v| v.0).collect();
    assert_eq!(
        fields,
        [
            "schema.columns[0].categorical.categories[1]",
            "schema.columns[1].name"
        ]
    );
    let status = s
        .try_create("duo.bad", "pgn", &["x:int"])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    // The name must carry the organisation's prefix.
    let status = s
        .clients
        .ingest
        .create_dataset(proto::CreateDatasetRequest {
            name: "cbs.y".into(),
            organisation: "duo".into(),
            schema: Some(proto::Schema {
                identifier_column: "bsn".into(),
                ..Default::default()
            }),
        })
        .await;
    assert_eq!(status.unwrap_err().code(), Code::InvalidArgument);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_requests_naming_unknown_things_say_which_field_without_echoing_it() {
    let mut s = server().await;
    s.upload(DS, &format!("pgn,niveau,leerjaar,cijfer\n{}", good_rows(3)))
        .await
        .unwrap();
    type Case<'a> = (
        Vec<&'a str>,
        Vec<(&'a str, &'a [&'a str])>,
        Code,
        &'a str,
        &'a str,
    );
    let cases: [Case; 6] = [
        (
            vec!["duo.nope.niveau"],
            vec![],
            Code::NotFound,
            "group_by[0]",
            "nope",
        ),
        (
            vec!["duo.bad.kleur"],
            vec![],
            Code::NotFound,
            "group_by[0]",
            "kleur",
        ),
        (
            vec!["duo.bad.leerjaar"],
            vec![],
            Code::InvalidArgument,
            "numeric",
            "\u{0}",
        ),
        (
            vec!["niveau"],
            vec![],
            Code::InvalidArgument,
            "dataset.column",
            "\u{0}",
        ),
        (
            vec!["duo.bad.niveau"],
            vec![("duo.bad.niveau", &["havo", "mavo"])],
            Code::InvalidArgument,
            "filters[0].values[1]",
            "mavo",
        ),
        (
            vec![],
            vec![],
            Code::InvalidArgument,
            "one to three",
            "\u{0}",
        ),
    ];
    for (by, filters, code, mentions, never) in cases {
        let status = s.table(table_request(&by, &filters)).await.unwrap_err();
        assert_eq!(status.code(), code, "{by:?}");
        assert!(status.message().contains(mentions), "{}", status.message());
        assert!(!said(&status).contains(never), "{status:?}");
    }
    s.create("cbs.empty", "bsn", &["d:cat:a"]).await;
    let status = s
        .table(table_request(&["cbs.empty.d"], &[]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    s.stop().await;
}
