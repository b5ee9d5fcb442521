//! The shipped deployment runs: the systemd unit verifies and scores "OK"
//! (where systemd-analyze is installed), and the binary started with the
//! unit's own command line, environment and a copy of the shipped
//! configuration (its paths moved to a temporary directory) reports ready
//! over `NOTIFY_SOCKET`, serves over mutual TLS, and stops on SIGTERM.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::pki::{list, Pki};
use ddc::auth::Role;
use ddc::pki::Validity;

const UNIT: &str = include_str!("../deploy/systemd/ddc.service");
const CONFIG: &str = include_str!("../deploy/ddc.toml");

/// The values of `key=` lines of the unit.
fn unit_values(key: &str) -> Vec<String> {
    UNIT.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_systemd_unit_verifies_and_its_exposure_is_ok() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze is not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("ddc.service");
    let exec = unit_values("ExecStart").remove(0);
    let rewritten = UNIT.replace(
        &exec,
        &exec.replacen("/usr/local/bin/ddc", env!("CARGO_BIN_EXE_ddc"), 1),
    );
    std::fs::write(&unit, rewritten).unwrap();
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--threshold=49"])
        .arg(&unit)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&security.stdout);
    assert!(security.status.success(), "{said}");
    assert!(said.contains(" OK ") || said.contains("SAFE"), "{said}");
}

/// The shipped configuration with every path moved under `root`.
fn config_under(root: &Path, pki: &Pki, keys: &Path) -> String {
    let mut text = CONFIG.to_owned();
    for (from, to) in [
        ("/var/lib/ddc/data.keys", keys.to_path_buf()),
        ("/var/lib/ddc/data", root.join("data")),
        ("/etc/ddc/tls/server.pem", pki.path("server.pem")),
        ("/etc/ddc/tls/server.key", pki.path("server.key")),
        ("/etc/ddc/tls/clients-ca.pem", pki.path("ca.pem")),
        ("0.0.0.0:50051", PathBuf::from("127.0.0.1:0")),
    ] {
        assert!(
            text.contains(from),
            "the shipped configuration names {from}"
        );
        text = text.replace(from, to.to_str().unwrap());
    }
    // The master key comes from the unit's credential, not the file.
    text.lines()
        .filter(|l| !l.starts_with("master_key_file"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_runs_with_the_units_command_line_and_the_shipped_configuration() {
    let root = tempfile::tempdir().unwrap();
    let mut pki = Pki::new();
    let server = pki.ca.issue_server(&["127.0.0.1"]).unwrap();
    pki.save("server", &server);
    let keys = common::key_dir_with([8; 32]);
    let credentials = root.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    std::fs::copy(
        keys.path().join(common::TEST_MASTER_KEY),
        credentials.join("master.key"),
    )
    .unwrap();
    let config = root.path().join("ddc.toml");
    std::fs::write(&config, config_under(root.path(), &pki, keys.path())).unwrap();
    let notify = root.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();

    // The unit's ExecStart, with the binary and the configuration path
    // replaced, and its Environment= with %d the credentials directory.
    let exec = unit_values("ExecStart").remove(0);
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/ddc"));
    let args: Vec<String> = words
        .map(|w| {
            if w == "/etc/ddc/ddc.toml" {
                config.to_str().unwrap().to_owned()
            } else {
                w.to_owned()
            }
        })
        .collect();
    let mut command = Command::new(env!("CARGO_BIN_EXE_ddc"));
    command.args(&args);
    for env in unit_values("Environment") {
        let (name, value) = env.split_once('=').unwrap();
        command.env(name, value.replace("%d", credentials.to_str().unwrap()));
    }
    let mut child = command
        .env("NOTIFY_SOCKET", &notify)
        .env("DDC_LOG_FORMAT", "text")
        .env_remove("DDC_MASTER_KEY")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).expect("READY=1 arrives");
    assert!(std::str::from_utf8(&buf[..n]).unwrap().contains("READY=1"));

    let (lines, rest) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines() {
            let _ = lines.send(line.unwrap());
        }
    });
    let line = rest
        .iter()
        .find(|l| l.contains("serving"))
        .expect("a serving line");
    let url = common::loopback_url(&line).replacen("http://", "https://", 1);
    let (auditor, _) = pki.client("aud", "ocw", Role::Auditor, Validity::default());
    let mut clients = ddc::client::connect_tls(&url, &auditor).await.unwrap();
    let checkpoint = clients
        .audit
        .get_checkpoint(ddc::proto::GetCheckpointRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        checkpoint.note.starts_with("ddc.example.nl/log\n"),
        "the configured origin"
    );
    assert!(
        list(&url, &auditor).await.is_err(),
        "an auditor lists no datasets"
    );

    // The probe of the Kubernetes example: `ddc health` with its own certificate.
    let (probe, _) = pki.client("probe", "ddc", Role::Probe, Validity::default());
    let health = |tls: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ddc"));
        c.args(["health", "--server", &url]);
        if tls {
            c.arg("--tls-ca")
                .arg(&probe.ca)
                .arg("--tls-cert")
                .arg(&probe.cert);
            c.arg("--tls-key").arg(&probe.key);
        }
        c.env_remove("DDC_TLS_CA").output().unwrap()
    };
    let ok = health(true);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "SERVING\n");
    assert!(
        !health(false).status.success(),
        "no probe without a certificate"
    );

    // SIGTERM: the server says it is stopping and exits cleanly.
    unsafe_free_sigterm(child.id());
    let n = socket.recv(&mut buf).expect("STOPPING=1 arrives");
    assert!(std::str::from_utf8(&buf[..n])
        .unwrap()
        .contains("STOPPING=1"));
    let status = child.wait().unwrap();
    let log: Vec<String> = rest.try_iter().collect();
    assert!(status.success(), "{status}: {log:#?}");
}

/// Sends SIGTERM through the `kill` command (no unsafe code in tests).
fn unsafe_free_sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
