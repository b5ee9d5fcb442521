//! `ddc upload` as a data holder runs it on a Dutch export: semicolons,
//! a check first (`--check` stores nothing), every rejected row written to
//! `--rejects` by number, column and reason (never a value), then the
//! upload itself from standard input.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{bsns, db_scalar, TestServer};

fn ddc(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ddc"))
        .args(args)
        .env_remove("DDC_SERVER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_semicolon_file_is_checked_its_rejects_listed_then_uploaded_from_stdin() {
    let mut s = TestServer::start().await;
    s.create("duo.x", "pgn", &["niveau:cat:havo,vwo"]).await;
    let ids = bsns(55);
    // 30 good rows, then 25 bad: a broken identifier or an unknown level.
    let mut file = String::from("pgn;niveau\n");
    let mut broken = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        match i {
            0..30 => file.push_str(&format!("{id};havo\n")),
            30..42 => {
                let bad = format!("{}{}", &id[..8], (id.as_bytes()[8] - b'0' + 1) % 10);
                file.push_str(&format!("{bad};vwo\n"));
                broken.push(bad);
            }
            _ => file.push_str(&format!("{id};mavo\n")),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.csv");
    std::fs::write(&path, &file).unwrap();
    let rejects = dir.path().join("rejects.csv");
    let (path_arg, rejects_arg) = (path.to_str().unwrap(), rejects.to_str().unwrap());

    let out = ddc(
        &[
            "upload",
            "--dataset",
            "duo.x",
            "--delimiter",
            ";",
            "--check",
            "--rejects",
            rejects_arg,
            path_arg,
            "--server",
            &s.url,
        ],
        None,
    );
    let (said, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{said}{err}");
    assert!(
        said.contains("checked duo.x against its declaration: 55 rows read, 30 valid, 25 would be rejected; nothing stored"),
        "{said}"
    );
    assert!(
        said.contains("... and 5 more (--rejects FILE writes every one)"),
        "{said}"
    );
    assert_eq!(s.version("duo.x").await, 0, "a check stores nothing");

    // Every rejected row, by number, column and reason; no value.
    let listed = std::fs::read_to_string(&rejects).unwrap();
    let rows: Vec<u64> = listed
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(rows, (31..=55).collect::<Vec<u64>>(), "{listed}");
    assert!(listed.starts_with("row,column,reason\n"));
    assert!(
        listed.contains("31,pgn,") && listed.contains("43,niveau,"),
        "{listed}"
    );
    for id in ids.iter().chain(&broken) {
        assert!(
            !listed.contains(id.as_str()),
            "an identifier in the rejects file"
        );
    }
    assert!(
        !listed.contains("mavo"),
        "a rejected value in the rejects file"
    );

    // The upload itself, from standard input.
    let out = ddc(
        &[
            "upload",
            "--dataset",
            "duo.x",
            "--delimiter",
            ";",
            "--skip-invalid",
            "-",
            "--server",
            &s.url,
        ],
        Some(file.as_bytes()),
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("duo.x version 1: 55 rows read, 30 stored, 25 rejected"),
        "{said}"
    );
    let (data, _keys) = s.stop().await;
    let checked = db_scalar(
        data.path(),
        "SELECT count(*) FROM audit_log WHERE kind = 'upload.checked'",
    );
    assert_eq!(checked, 1, "the check is audited");
}
