//! Uploads commit only when complete, at most once, never half a file;
//! households survive a restart; idle uploads starve nobody.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{bsns, db_persons, db_rows, db_scalar, table_request, TestServer};
use ddc::client::{self, Retry};
use ddc::proto::{upload_request::Part, UploadEnd, UploadHeader, UploadRequest};
use ddc::service::UploadLimits;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
use tonic_types::StatusExt;

const DS: &str = "duo.pupils";

async fn server_with(limits: UploadLimits) -> TestServer {
    let mut s = TestServer::start_with_limits(limits).await;
    s.create(DS, "pgn", &["niveau:cat:havo,vwo", "leerjaar:int"])
        .await;
    s
}

async fn server() -> TestServer {
    server_with(UploadLimits::default()).await
}

fn file(rows: usize, leerjaar: u32) -> String {
    let body: String = bsns(rows)
        .iter()
        .map(|id| format!("{id},havo,{leerjaar}\n"))
        .collect();
    format!("pgn,niveau,leerjaar\n{body}")
}

fn header(replace: bool) -> UploadHeader {
    UploadHeader {
        dataset: DS.into(),
        replace,
        upload_id: client::new_upload_id(),
        ..Default::default()
    }
}

fn message(part: Part) -> UploadRequest {
    UploadRequest { part: Some(part) }
}

fn end_of(bytes: &[u8]) -> Part {
    Part::End(UploadEnd {
        bytes: bytes.len() as u64,
        sha256: Sha256::digest(bytes).to_vec(),
    })
}

fn reason(status: &tonic::Status) -> String {
    status.get_details_error_info().expect("error info").reason
}

fn audited(s: &TestServer, action: &str) -> i64 {
    db_scalar(
        s.data_dir.path(),
        &format!("SELECT count(*) FROM audit_log WHERE kind = '{action}'"),
    )
}

/// Waits (boundedly) for an audit entry written after a call ended.
async fn wait_audited(s: &TestServer, action: &str, n: i64) -> i64 {
    for _ in 0..100 {
        if audited(s, action) >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    audited(s, action)
}

/// The sum of `leerjaar` over the dataset: tells which version is stored.
async fn stored_rows_and_version(s: &mut TestServer) -> (i64, u64) {
    (db_rows(s.data_dir.path()), s.version(DS).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_replace_keeps_the_acknowledged_version() {
    let mut s = server().await;
    s.upload(DS, &file(3_000, 3)).await.unwrap();
    let second = file(3_000, 4);
    // A row cut mid-field: what a cancelled client leaves behind.
    let cut = &second.as_bytes()[..second.len() / 2 + 3];
    let (tx, rx) = mpsc::channel(4);
    tx.send(message(Part::Header(header(true)))).await.unwrap();
    tx.send(message(Part::Chunk(cut.to_vec()))).await.unwrap();
    let mut ingest = s.clients.ingest.clone();
    let call = tokio::spawn(async move { ingest.upload(ReceiverStream::new(rx)).await });
    // Time for the server to open the upload (generous on a busy machine).
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    call.abort();
    drop(tx);
    assert_eq!(wait_audited(&s, "upload.broken", 1).await, 1);
    assert_eq!(stored_rows_and_version(&mut s).await, (3_000, 1));
    assert_eq!(audited(&s, "upload.accepted"), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_deadline_mid_file_stores_nothing() {
    let mut s = server().await;
    let csv = file(2_000, 3);
    let (tx, rx) = mpsc::channel(4);
    tx.send(message(Part::Header(header(false)))).await.unwrap();
    tx.send(message(Part::Chunk(csv.as_bytes()[..20_000].to_vec())))
        .await
        .unwrap();
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    request.set_timeout(Duration::from_millis(1_500));
    let status = s.clients.ingest.upload(request).await.unwrap_err();
    // tonic's client reports its own deadline as CANCELLED.
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    drop(tx);
    assert_eq!(wait_audited(&s, "upload.broken", 1).await, 1);
    assert_eq!(stored_rows_and_version(&mut s).await, (0, 0));
    assert_eq!(db_persons(s.data_dir.path()), 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_ends_without_its_closing_message_is_refused() {
    let mut s = server().await;
    let csv = file(500, 3);
    let messages = vec![
        message(Part::Header(header(false))),
        message(Part::Chunk(csv.clone().into_bytes())),
    ];
    let status = s
        .clients
        .ingest
        .upload(tokio_stream::iter(messages))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("UploadEnd"),
        "{}",
        status.message()
    );
    assert_eq!(stored_rows_and_version(&mut s).await, (0, 0));
    assert_eq!(audited(&s, "upload.broken"), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closing_message_that_does_not_match_the_bytes_is_refused() {
    let mut s = server().await;
    let csv = file(500, 3).into_bytes();
    let short = &csv[..csv.len() - 10];
    let mut wrong_digest = end_of(&csv);
    if let Part::End(e) = &mut wrong_digest {
        e.sha256[0] ^= 1;
    }
    // Bytes lost in transit; a digest that does not match; a chunk after the end.
    let cases = [
        vec![Part::Chunk(short.to_vec()), end_of(&csv)],
        vec![Part::Chunk(csv.clone()), wrong_digest],
        vec![
            Part::Chunk(csv.clone()),
            end_of(&csv),
            Part::Chunk(vec![b'\n']),
        ],
    ];
    let reasons = ["UPLOAD_MISMATCH", "UPLOAD_MISMATCH", "UPLOAD_PROTOCOL"];
    for (i, (parts, expected)) in cases.into_iter().zip(reasons).enumerate() {
        let mut messages = vec![message(Part::Header(header(false)))];
        messages.extend(parts.into_iter().map(message));
        let status = s
            .clients
            .ingest
            .upload(tokio_stream::iter(messages))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "case {i}");
        assert_eq!(reason(&status), expected, "case {i}");
        assert_eq!(stored_rows_and_version(&mut s).await, (0, 0), "case {i}");
    }
    assert_eq!(audited(&s, "upload.broken"), 3);
    // The same file with its true closing message commits.
    let messages = vec![
        message(Part::Header(header(false))),
        message(Part::Chunk(csv.clone())),
        message(end_of(&csv)),
    ];
    let receipt = s
        .clients
        .ingest
        .upload(tokio_stream::iter(messages))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((receipt.rows_stored, receipt.version), (500, 1));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeating_a_committed_upload_id_returns_the_original_receipt() {
    let mut s = server().await;
    s.create("duo.other", "pgn", &["leerjaar:int"]).await;
    let first_header = header(false);
    let upload = |s: &mut TestServer, h: UploadHeader, csv: String| {
        let mut ingest = s.clients.ingest.clone();
        async move { client::upload(&mut ingest, h, std::io::Cursor::new(csv), |_| {}).await }
    };
    let first = upload(&mut s, first_header.clone(), file(40, 3))
        .await
        .unwrap();
    assert!(!first.replayed);
    // The retry carries the same id; even a different file is not stored again.
    let again = upload(&mut s, first_header.clone(), file(60, 5))
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(
        (
            again.version,
            again.rows_read,
            again.rows_stored,
            again.upload_id.as_str()
        ),
        (1, 40, 40, first.upload_id.as_str())
    );
    assert_eq!(stored_rows_and_version(&mut s).await, (40, 1));
    assert_eq!(audited(&s, "upload.accepted"), 1);
    assert_eq!(audited(&s, "upload.replayed"), 1);

    let mut elsewhere = first_header.clone();
    elsewhere.dataset = "duo.other".into();
    let status = upload(&mut s, elsewhere, "pgn,leerjaar\n".into())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert_eq!(reason(&status), "UPLOAD_ID_REUSED");

    for bad in ["", "short", "has spaces in it 0123456789", &"x".repeat(65)] {
        let mut h = header(false);
        h.upload_id = bad.into();
        let status = upload(&mut s, h, file(5, 3)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}");
    }
    s.stop().await;
}

/// A loopback proxy that, on its first connection only, swallows the
/// server's first response HEADERS frame (sent once the upload has
/// committed) and cuts the connection: the receipt is lost.
async fn receipt_eating_proxy(target: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect(target).await.unwrap();
            tokio::spawn(relay(client, server, std::mem::take(&mut first)));
        }
    });
    addr
}

async fn relay(client: TcpStream, server: TcpStream, eat_receipt: bool) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    });
    // HTTP/2 frames: 9-byte header (24-bit length, type, flags, stream id).
    let mut buffer = Vec::new();
    let mut chunk = vec![0u8; 16 << 10];
    'relay: loop {
        let n = match server_read.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buffer.extend_from_slice(&chunk[..n]);
        while buffer.len() >= 9 {
            let length =
                usize::from(buffer[0]) << 16 | usize::from(buffer[1]) << 8 | usize::from(buffer[2]);
            if buffer.len() < 9 + length {
                break;
            }
            let stream =
                u32::from_be_bytes([buffer[5], buffer[6], buffer[7], buffer[8]]) & 0x7fff_ffff;
            if eat_receipt && buffer[3] == 0x1 && stream != 0 {
                break 'relay;
            }
            let frame: Vec<u8> = buffer.drain(..9 + length).collect();
            if client_write.write_all(&frame).await.is_err() {
                break 'relay;
            }
        }
    }
    up.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_receipt_is_recovered_by_retrying_without_a_second_version() {
    let mut s = server().await;
    let target = s.url.trim_start_matches("http://").parse().unwrap();
    let proxy = receipt_eating_proxy(target).await;
    let mut via_proxy = client::connect(&format!("http://{proxy}")).await.unwrap();
    let retries = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&retries);
    let csv = file(300, 3);
    let receipt = client::upload_with_retry(
        &mut via_proxy.ingest,
        header(false),
        move || Ok(std::io::Cursor::new(csv.clone())),
        Retry {
            attempts: 3,
            backoff: Duration::from_millis(50),
        },
        |_| {},
        move |_, _| {
            seen.fetch_add(1, Ordering::SeqCst);
        },
    )
    .await
    .unwrap();
    assert_eq!(
        retries.load(Ordering::SeqCst),
        1,
        "one retry after the lost receipt"
    );
    assert!(receipt.replayed, "the retry finds the committed upload");
    assert_eq!((receipt.version, receipt.rows_stored), (1, 300));
    assert_eq!(stored_rows_and_version(&mut s).await, (300, 1));
    assert_eq!(audited(&s, "upload.accepted"), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stray_quote_rejects_its_own_row_and_reading_goes_on() {
    let mut s = server().await;
    let ids = bsns(1_006);
    let mut csv = String::from("pgn,niveau,leerjaar\n");
    for (i, id) in ids.iter().enumerate() {
        if i == 5 {
            csv.push_str(&format!("{id},\"havo,3\n"));
        } else {
            csv.push_str(&format!("{id},havo,3\n"));
        }
    }
    let status = s.upload(DS, &csv).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = status
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields.len(), 1);
    assert!(
        fields[0].contains('6') && fields[0].contains("niveau"),
        "{fields:?}"
    );
    assert_eq!(stored_rows_and_version(&mut s).await, (0, 0));

    let receipt = s.upload_with(DS, &csv, true, false).await.unwrap();
    assert_eq!(
        (
            receipt.rows_read,
            receipt.rows_stored,
            receipt.rows_rejected
        ),
        (1_006, 1_005, 1)
    );
    assert_eq!(receipt.problems[0].row, 6);
    assert_eq!(receipt.problems[0].column, "niveau");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_read_are_the_data_lines_of_the_file() {
    let mut s = server().await;
    let ids = bsns(6);
    // Quoted fields, CRLF, a blank line in the middle, a missing final
    // line break and blank lines at the end.
    let csv = format!(
        "pgn,niveau,leerjaar\r\n\"{}\",\"havo\",3\r\n{},vwo,4\n\n{},havo,\"5\"\n{},\"vw\"\"o\",5\n{},havo,6\n{},vwo,7\n\n\n",
        ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]
    );
    let receipt = s.upload_with(DS, &csv, true, false).await.unwrap();
    assert_eq!(
        (
            receipt.rows_read,
            receipt.rows_stored,
            receipt.rows_rejected
        ),
        (7, 6 - 1, 2)
    );
    let rows: Vec<(u64, &str)> = receipt
        .problems
        .iter()
        .map(|p| (p.row, p.column.as_str()))
        .collect();
    assert_eq!(rows, [(3, ""), (5, "niveau")]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn households_are_stored_and_survive_a_restart() {
    let mut s = TestServer::start().await;
    s.try_create_with_households("cbs.persons", "bsn", "hh", &["inkomen:int:household"])
        .await
        .unwrap();
    let ids = bsns(30);
    let body: String = ids
        .iter()
        .enumerate()
        .map(|(i, id)| format!("{id},H{},{}\n", i / 3, 1000 * (i / 3)))
        .collect();
    s.upload("cbs.persons", &format!("bsn,hh,inkomen\n{body}"))
        .await
        .unwrap();
    let s = s.restart().await;
    let stored = db_scalar(
        s.data_dir.path(),
        "SELECT coalesce(sum(count), 0) FROM household_chunks",
    );
    assert_eq!(stored, 10);
    let (data_dir, key_dir) = s.stop().await;
    let store = ddc::store::Store::open(data_dir.path()).unwrap();
    let (sealed_under, _) = store
        .store_key(ddc::keystore::KeyPurpose::Storage)
        .unwrap()
        .unwrap();
    let snapshot = store.load(sealed_under).unwrap();
    assert_eq!(snapshot.households, 10);
    let (_, households) = store.load_sealed_pseudonyms(sealed_under).unwrap();
    assert_eq!(households.len(), 10);
    drop(key_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_hundred_idle_uploads_starve_neither_health_nor_tables() {
    let mut s = server_with(UploadLimits {
        total: 1_000,
        per_organisation: 1_000,
        idle: Duration::from_secs(120),
    })
    .await;
    s.upload(DS, &file(200, 3)).await.unwrap();
    let mut senders = Vec::new();
    let mut calls = Vec::new();
    for i in 0..600 {
        // Several connections, as many clients would open.
        if i % 100 == 0 {
            calls.push(Vec::new());
        }
        let channel = client::connect(&s.url).await.unwrap();
        let (tx, rx) = mpsc::channel(1);
        tx.send(message(Part::Header(header(true)))).await.unwrap();
        senders.push(tx);
        let mut ingest = channel.ingest.clone();
        let call = tokio::spawn(async move { ingest.upload(ReceiverStream::new(rx)).await });
        calls.last_mut().unwrap().push(call);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(
        tonic::transport::Endpoint::from_shared(s.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    let answer = tokio::time::timeout(
        Duration::from_secs(30),
        health.check(tonic_health::pb::HealthCheckRequest::default()),
    )
    .await;
    assert!(answer.expect("health answers").is_ok());
    let table = tokio::time::timeout(
        Duration::from_secs(30),
        s.table(table_request(&["duo.pupils.niveau"], &[])),
    )
    .await;
    assert!(table.expect("a table answers").is_ok());
    drop(senders);
    for call in calls.into_iter().flatten() {
        call.abort();
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_beyond_the_limits_are_refused_and_idle_ones_cancelled() {
    let mut s = server_with(UploadLimits {
        total: 3,
        per_organisation: 2,
        idle: Duration::from_secs(3),
    })
    .await;
    s.create("cbs.persons", "bsn", &["leerjaar:int"]).await;
    let open = |s: &TestServer, dataset: &str| {
        let (tx, rx) = mpsc::channel(1);
        let mut h = header(false);
        h.dataset = dataset.into();
        tx.try_send(message(Part::Header(h))).unwrap();
        let mut ingest = s.clients.ingest.clone();
        let call = tokio::spawn(async move { ingest.upload(ReceiverStream::new(rx)).await });
        (tx, call)
    };
    let duo = [open(&s, DS), open(&s, DS)];
    // Time for the server to admit them (generous on a busy machine).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_tx, third) = open(&s, DS);
    let status = third.await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(reason(&status), "UPLOAD_LIMIT");
    let cbs = open(&s, "cbs.persons");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_tx, fourth) = open(&s, "cbs.persons");
    assert_eq!(
        fourth.await.unwrap().unwrap_err().code(),
        Code::ResourceExhausted
    );
    // The open ones send nothing: each is cancelled after the idle time.
    for (_tx, call) in duo.into_iter().chain([cbs]) {
        let status = call.await.unwrap().unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded);
        assert_eq!(reason(&status), "UPLOAD_IDLE");
    }
    assert_eq!(audited(&s, "upload.refused"), 2);
    assert_eq!(audited(&s, "upload.broken"), 3);
    assert_eq!(db_rows(s.data_dir.path()), 0);
    // Their permits are free again.
    assert_eq!(s.upload(DS, &file(20, 3)).await.unwrap().rows_stored, 20);
    s.stop().await;
}

/// A table is released while an upload is in its commit: the upload takes
/// the store lock, which a release needs for its record, only to write, not
/// while it resolves and seals its persons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_is_released_while_an_upload_resolves_and_seals() {
    let (hook, upload_sealed, go) = hold_upload(1);
    let mut s =
        TestServer::start_configured(common::exact_policy(), |c| c.sealed_hook = Some(hook)).await;
    s.create("duo.t", "bsn", &["x:cat:a,b"]).await;
    let ids = bsns(60);
    let csv = |ids: &[String]| -> String {
        let rows: String = ids
            .iter()
            .enumerate()
            .map(|(i, id)| format!("{id},{}\n", if i % 2 == 0 { "a" } else { "b" }))
            .collect();
        format!("bsn,x\n{rows}")
    };
    s.upload("duo.t", &csv(&ids[..40])).await.unwrap();

    let mut ingest = s.clients.ingest.clone();
    let header = UploadHeader {
        dataset: "duo.t".into(),
        replace: true,
        upload_id: client::new_upload_id(),
        ..Default::default()
    };
    let body = std::io::Cursor::new(csv(&ids).into_bytes());
    let upload =
        tokio::spawn(async move { client::upload(&mut ingest, header, body, |_| {}).await });
    tokio::task::spawn_blocking(move || upload_sealed.recv())
        .await
        .unwrap()
        .expect("the replacing upload reaches its commit");

    let during = tokio::time::timeout(
        Duration::from_secs(60),
        s.table(table_request(&["duo.t.x"], &[])),
    )
    .await
    .expect("the table does not wait for the upload's commit")
    .unwrap();
    assert_eq!(
        common::cell(&during, &[-1]).0,
        Some(40),
        "the version before"
    );

    drop(go);
    upload.await.unwrap().expect("the upload commits");
    let after = s.table(table_request(&["duo.t.x"], &[])).await.unwrap();
    assert_eq!(common::cell(&after, &[-1]).0, Some(60));
}

/// A dataset deleted while an upload of it commits: the upload fails as
/// NOT_FOUND, and nothing of it stays in the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_whose_dataset_is_deleted_meanwhile_fails_and_leaves_nothing() {
    let (hook, upload_sealed, go) = hold_upload(0);
    let mut s =
        TestServer::start_configured(common::exact_policy(), |c| c.sealed_hook = Some(hook)).await;
    s.create("duo.weg", "bsn", &["x:cat:a,b"]).await;
    let rows: String = bsns(30).iter().map(|id| format!("{id},a\n")).collect();
    let mut ingest = s.clients.ingest.clone();
    let header = UploadHeader {
        dataset: "duo.weg".into(),
        upload_id: client::new_upload_id(),
        ..Default::default()
    };
    let body = std::io::Cursor::new(format!("bsn,x\n{rows}").into_bytes());
    let upload =
        tokio::spawn(async move { client::upload(&mut ingest, header, body, |_| {}).await });
    tokio::task::spawn_blocking(move || upload_sealed.recv())
        .await
        .unwrap()
        .expect("the upload reaches its commit");
    s.clients
        .ingest
        .delete_dataset(ddc::proto::DeleteDatasetRequest {
            name: "duo.weg".into(),
        })
        .await
        .unwrap();
    drop(go);
    let status = upload.await.unwrap().expect_err("the dataset is gone");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(
        db_scalar(s.data_dir.path(), "SELECT count(*) FROM column_chunks"),
        0
    );
    assert_eq!(db_persons(s.data_dir.path()), 0);
}

/// Two uploads open at once: the second, streamed while the first commits,
/// links the persons they share to the first's (the pseudonym indexes are
/// kept for it, or rebuilt from the store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_open_while_another_commits_links_the_persons_they_share() {
    let (hook, first_sealed, go) = hold_upload(0);
    let mut s =
        TestServer::start_configured(common::exact_policy(), |c| c.sealed_hook = Some(hook)).await;
    s.create("duo.a", "bsn", &["x:cat:a"]).await;
    s.create("duo.b", "bsn", &["x:cat:a"]).await;
    let ids = bsns(45);
    let spawn_upload = |dataset: &str, ids: &[String]| {
        let mut ingest = s.clients.ingest.clone();
        let header = UploadHeader {
            dataset: dataset.into(),
            upload_id: client::new_upload_id(),
            ..Default::default()
        };
        let rows: String = ids.iter().map(|id| format!("{id},a\n")).collect();
        let body = std::io::Cursor::new(format!("bsn,x\n{rows}").into_bytes());
        tokio::spawn(async move { client::upload(&mut ingest, header, body, |_| {}).await })
    };
    let first = spawn_upload("duo.a", &ids[..30]);
    tokio::task::spawn_blocking(move || first_sealed.recv())
        .await
        .unwrap()
        .expect("the first upload reaches its commit");
    let second = spawn_upload("duo.b", &ids[15..]);
    // Let the second stream in and wait for the first's commit.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(go);
    first.await.unwrap().expect("the first commits");
    second.await.unwrap().expect("the second commits");
    assert_eq!(db_persons(s.data_dir.path()), 45, "15 persons shared");
}

/// A hook that holds the `nth` upload (from 0) once its persons are sealed,
/// until the returned sender is dropped; the receiver hears when it holds.
fn hold_upload(
    nth: u32,
) -> (
    ddc::engine::TestHook,
    std::sync::mpsc::Receiver<()>,
    std::sync::mpsc::Sender<()>,
) {
    let (sealed, held) = std::sync::mpsc::channel::<()>();
    let (go, wait_for_go) = std::sync::mpsc::channel::<()>();
    let wait_for_go = std::sync::Mutex::new(wait_for_go);
    let uploads = AtomicU32::new(0);
    let hook = ddc::engine::TestHook::new(move || {
        if uploads.fetch_add(1, Ordering::SeqCst) == nth {
            let _ = sealed.send(());
            let _ = wait_for_go.lock().unwrap().recv();
        }
    });
    (hook, held, go)
}
