//! After uploads (accepted and rejected), no raw identifier appears in any
//! byte of the data directory (database, WAL, any other file) or of the
//! server's log, as text or as a binary integer; nor in any response, nor in
//! the linkage log, its export or the release history as auditors read
//! them, where no pseudonym appears either. The key never lands in the data
//! directory.
//!
//! One test in this binary: it installs the process-wide log capture.

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use common::{bsns, table_request, TestServer};
use ddc::proto::LinkageRequest;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every encoding of `id` we look for.
fn needles(id: &str) -> Vec<Vec<u8>> {
    let n: u32 = id.parse().unwrap();
    let mut v = vec![
        id.as_bytes().to_vec(),
        n.to_string().into_bytes(),
        n.to_le_bytes().to_vec(),
        n.to_be_bytes().to_vec(),
    ];
    // As UTF-16 text, in case anything ever writes it so.
    v.push(id.encode_utf16().flat_map(u16::to_le_bytes).collect());
    v
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn all_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn assert_absent(ids: &[String], what: &str, bytes: &[u8]) {
    for id in ids {
        for needle in needles(id) {
            assert!(
                !contains(bytes, &needle),
                "an identifier appears in {what} (encoding of {} bytes)",
                needle.len()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_raw_identifier_reaches_disk_log_or_response() {
    let log = Captured::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    // A known key, so that pseudonyms (and so the file bytes) are deterministic.
    let key = [0x33u8; 32];
    let key_hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let key_dir = common::key_dir_with(key);
    let mut s = TestServer::start_in(tempfile::tempdir().unwrap(), key_dir).await;

    let ids = bsns(40);
    // An invalid one and one 8-digit form: rejections must not echo them either.
    let mut all_ids = ids.clone();
    all_ids.push("900000001".into());
    s.create("duo.p", "pgn", &["niveau:cat:havo,vwo"]).await;
    s.create("cbs.p", "bsn", &["decile:cat:lo,hi"]).await;
    let mut responses = String::new();

    let duo: String = ids[..30].iter().map(|id| format!("{id},havo\n")).collect();
    let bad = format!("pgn,niveau\n{duo}900000001,havo\n{},vwo\n", ids[0]);
    let e = s.upload("duo.p", &bad).await.unwrap_err();
    responses.push_str(&format!("{e:?}"));
    let r = s.upload_with("duo.p", &bad, true, false).await.unwrap();
    responses.push_str(&format!("{r:?}"));
    // A file without its header line: the first row is read as the header.
    let headerless = format!("{},havo\n{}", ids[0], duo);
    let e = s
        .upload_with("duo.p", &headerless, false, true)
        .await
        .unwrap_err();
    assert!(e.message().contains("header"), "{}", e.message());
    responses.push_str(&format!("{e:?}"));
    // Identifiers in an open categorical column are refused, not made categories.
    s.create("cbs.open", "bsn", &["plaats:open"]).await;
    let misaligned: String = ids[..12]
        .iter()
        .zip(&ids[12..24])
        .map(|(a, b)| format!("{a},{b}\n"))
        .collect();
    let e = s
        .upload("cbs.open", &format!("bsn,plaats\n{misaligned}"))
        .await
        .unwrap_err();
    assert!(e.message().contains("looks like a BSN"), "{}", e.message());
    responses.push_str(&format!("{e:?}"));
    let cbs: String = ids[10..].iter().map(|id| format!("{id},lo\n")).collect();
    let r = s
        .upload("cbs.p", &format!("bsn,decile\n{cbs}"))
        .await
        .unwrap();
    responses.push_str(&format!("{r:?}"));
    let t = s
        .table(table_request(&["duo.p.niveau", "cbs.p.decile"], &[]))
        .await
        .unwrap();
    responses.push_str(&format!("{t:?}"));
    let l = s
        .clients
        .release
        .linkage(LinkageRequest::default())
        .await
        .unwrap();
    responses.push_str(&format!("{l:?}"));
    assert_absent(&all_ids, "a response", responses.as_bytes());

    // What auditors read: every log entry, the checkpoint, the releases.
    let mut audited = Vec::new();
    let mut entries = s
        .clients
        .audit
        .list_entries(ddc::proto::ListEntriesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut kinds = std::collections::BTreeSet::new();
    while let Some(e) = tokio_stream::StreamExt::next(&mut entries).await {
        let e = e.unwrap();
        kinds.insert(e.kind.clone());
        audited.extend_from_slice(&e.entry);
        audited.extend_from_slice(format!("{e:?}").as_bytes());
    }
    assert!(
        kinds.contains("upload.rejected") && kinds.contains("upload.accepted"),
        "{kinds:?}"
    );
    let audit = &mut s.clients.audit;
    let checkpoint = audit
        .get_checkpoint(ddc::proto::GetCheckpointRequest {})
        .await
        .unwrap();
    audited.extend_from_slice(format!("{:?}", checkpoint.into_inner()).as_bytes());
    let releases = audit
        .list_releases(ddc::proto::ListReleasesRequest::default())
        .await
        .unwrap()
        .into_inner();
    for r in &releases.releases {
        let record = audit
            .get_release(ddc::proto::GetReleaseRequest { id: r.id })
            .await
            .unwrap();
        audited.extend_from_slice(format!("{:?}", record.into_inner()).as_bytes());
    }
    assert_absent(&all_ids, "what auditors read", &audited);
    let pseudonymiser = ddc::pseudonym::Pseudonymiser::new(
        &ddc::keys::PseudonymKey::from_bytes(key),
        ddc::keys::KeyVersion(1),
    );
    for id in &ids {
        let p =
            pseudonymiser.pseudonymise(&ddc::pseudonym::Identifier::parse(id.as_bytes()).unwrap());
        let hex: String = p.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert!(
            !contains(&audited, p.as_bytes()),
            "a pseudonym in what auditors read"
        );
        assert!(
            !contains(&audited, hex.as_bytes()),
            "a pseudonym in what auditors read"
        );
    }

    // While running (WAL not yet checkpointed) and after shutdown.
    let check_dir = |data_dir: &Path| {
        let files = all_files(data_dir);
        let database = files
            .iter()
            .filter(|(name, _)| !name.ends_with(ddc::store::LOCK_FILE))
            .count();
        assert!(files.iter().any(|(name, _)| name.ends_with("-wal")) || database == 1);
        for (name, bytes) in &files {
            assert_absent(&all_ids, name, bytes);
            assert!(!contains(bytes, &key), "the key appears in {name}");
            assert!(
                !contains(bytes, key_hex.as_bytes()),
                "the key appears in {name}"
            );
        }
    };
    check_dir(s.data_dir.path());
    let (data_dir, _key_dir) = s.stop().await;
    check_dir(data_dir.path());

    let log = log.0.lock().unwrap().clone();
    assert!(contains(&log, b"upload committed"), "the log capture works");
    assert_absent(&all_ids, "the server log", &log);
    assert!(
        !contains(&log, &key) && !contains(&log, key_hex.as_bytes()),
        "the key is in the log"
    );
}
