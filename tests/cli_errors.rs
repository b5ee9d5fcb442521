//! The CLI's failures, run as a user runs it: documented exit codes that
//! tell a local error from an unreachable server and from a refusal, each
//! cause said once, canonical code names, flags instead of field paths,
//! and no hang on a server that never answers.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::TestServer;
use ddc::cli::{EXIT_LOCAL, EXIT_REFUSED, EXIT_UNREACHABLE};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn exit(out: &Output) -> u8 {
    out.status.code().expect("exited, not killed") as u8
}

#[test]
fn a_local_error_exits_1() {
    let out = common::ddc_cli(&["upload", "--dataset", "duo.x", "/nonexistent/file.csv"]);
    assert_eq!(exit(&out), EXIT_LOCAL, "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot open /nonexistent/file.csv"));
}

#[test]
fn a_server_that_is_not_there_exits_3_with_a_hint() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = common::ddc_cli(&["dataset", "list", "--server", &url]);
    assert_eq!(exit(&out), EXIT_UNREACHABLE, "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains(&format!("cannot reach the server at {url}")),
        "{said}"
    );
    assert!(said.contains("is `ddc serve` running there"), "{said}");
}

#[test]
fn a_server_that_never_answers_does_not_hang_the_cli() {
    // Accepts connections and never says a word.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().take(4) {
            open.push(stream);
        }
        std::thread::sleep(Duration::from_secs(60));
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_ddc"))
        .args(["dataset", "list", "--timeout", "1", "--server", &url])
        .env_remove("DDC_SERVER")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Generous: a CLI that hangs is killed here and the test fails.
    let deadline = Instant::now() + Duration::from_secs(50);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the CLI hung on a server that never answers");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut said = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    assert_eq!(status.code(), Some(i32::from(EXIT_UNREACHABLE)), "{said}");
    assert!(said.contains("did not answer within the timeout"), "{said}");
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_exits_4_and_says_its_code_reason_and_flag_once() {
    let s = TestServer::start().await;
    let out = common::ddc_cli(&["dataset", "show", "nobody.x", "--server", &s.url]);
    assert_eq!(exit(&out), EXIT_REFUSED, "{}", stderr(&out));
    let said = stderr(&out);
    assert!(said.contains("(NOT_FOUND, DATASET_NOT_FOUND)"), "{said}");
    let message = "no dataset is declared under the name given in `name`";
    assert_eq!(said.matches(message).count(), 1, "said once: {said}");

    // A table's bad field is named by its flag, not its proto path.
    let out = common::ddc_cli(&["table", "--by", "nodot", "--server", &s.url]);
    assert_eq!(exit(&out), EXIT_REFUSED, "{}", stderr(&out));
    let said = stderr(&out);
    assert!(said.contains("INVALID_ARGUMENT"), "{said}");
    assert!(said.contains("--by #1: name a variable"), "{said}");
    assert_eq!(
        said.matches("name a variable").count(),
        1,
        "said once: {said}"
    );
    assert!(!said.contains("group_by[0]"), "{said}");
    s.stop().await;
}
