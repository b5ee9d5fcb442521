//! Readiness for systemd (`Type=notify`): `READY=1` on the socket named by
//! `NOTIFY_SOCKET` once the server serves, `STOPPING=1` when it stops. Does
//! nothing when the variable is not set (not started by systemd).

/// Tells the service manager the server is ready.
pub fn ready() {
    send("READY=1\nSTATUS=serving");
}

/// Tells the service manager the server is stopping.
pub fn stopping() {
    send("STOPPING=1");
}

fn send(message: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send_to(&path, message) {
        tracing::warn!(error = %e, "could not notify the service manager");
    }
}

#[cfg(unix)]
fn send_to(path: &std::ffi::OsStr, message: &str) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::UnixDatagram;
    let socket = UnixDatagram::unbound()?;
    let bytes = path.as_bytes();
    match bytes.strip_prefix(b"@") {
        #[cfg(target_os = "linux")]
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(message.as_bytes(), &addr)?;
        }
        _ => {
            socket.send_to(message.as_bytes(), path)?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn send_to(_path: &std::ffi::OsStr, _message: &str) -> std::io::Result<()> {
    Ok(())
}
