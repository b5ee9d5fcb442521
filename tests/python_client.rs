//! The Python client package (`clients/python`) against the real server:
//! a virtual environment under the target directory, `pip install
//! ./clients/python` (its stubs generated from `proto/` as it builds), then
//! the package's own tests with `DDC_TEST_SERVER` pointing at a fresh
//! development server. Needs `python3` with `venv`, and pip's registry.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::TestServer;

fn run(what: &str, command: &mut Command) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The venv, made once per target directory and reused.
fn venv() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-client-venv");
    let python = dir.join("bin").join("python");
    if !python.exists() {
        run(
            "python3 -m venv",
            Command::new("python3").args(["-m", "venv"]).arg(&dir),
        );
    }
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_package_works_against_the_real_server() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = venv();
    run(
        "pip install ./clients/python",
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(repo.join("clients/python"))
            .current_dir(repo),
    );
    let s = TestServer::start().await;
    let url = s.url.clone();
    let tests = tokio::task::spawn_blocking(move || {
        Command::new(&python)
            .args([
                "-m",
                "unittest",
                "discover",
                "-s",
                "clients/python/tests",
                "-v",
            ])
            .env("DDC_TEST_SERVER", &url)
            .current_dir(repo)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&tests.stderr);
    assert!(
        tests.status.success(),
        "the package's tests failed:\n{said}"
    );
    assert!(
        !said.contains("skipped"),
        "every test ran against the server:\n{said}"
    );
    s.stop().await;
}
