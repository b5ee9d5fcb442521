//! Transport security: the server's TLS with required client certificates,
//! and the client's TLS settings. PEM files in, tonic configurations out.
//!
//! A server either speaks TLS (its certificate and key, and the CA that
//! issues client certificates) or, for development only and only on a
//! loopback address, plaintext. A client speaks TLS to an `https://`
//! address and refuses one without TLS settings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::auth::DenyList;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Plaintext on an address others can reach.
    #[error("plaintext is for development on a loopback address only; {0} is not one: give TLS settings")]
    PlaintextNotLoopback(SocketAddr),
    /// An `https` address without the client's TLS settings, or the reverse.
    #[error("{0}")]
    Address(String),
}

/// The server's TLS files and its certificate deny list.
#[derive(Clone, Debug)]
pub struct ServerTls {
    /// The server's certificate chain (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The CA certificate(s) client certificates must chain to (PEM).
    pub client_ca: PathBuf,
    /// Revoked client certificates, by serial number.
    pub deny: DenyList,
}

/// How the server is reached.
#[derive(Clone, Debug)]
pub enum Transport {
    /// TLS with client certificates: callers are who their certificates say.
    Tls(ServerTls),
    /// Plaintext, every caller the development identity: loopback only.
    PlaintextDevelopment,
}

impl Transport {
    /// The tonic configuration, after checking plaintext is on loopback.
    pub fn server_config(&self, listen: SocketAddr) -> Result<Option<ServerTlsConfig>, TlsError> {
        match self {
            Transport::PlaintextDevelopment if !listen.ip().is_loopback() => {
                Err(TlsError::PlaintextNotLoopback(listen))
            }
            Transport::PlaintextDevelopment => Ok(None),
            Transport::Tls(t) => Ok(Some(
                ServerTlsConfig::new()
                    .identity(Identity::from_pem(read(&t.cert)?, read(&t.key)?))
                    .client_ca_root(Certificate::from_pem(read(&t.client_ca)?))
                    // A request without a certificate reaches the edge,
                    // which answers UNAUTHENTICATED; a bad one fails the
                    // handshake.
                    .client_auth_optional(true),
            )),
        }
    }
}

/// The client's TLS files.
#[derive(Clone, Debug)]
pub struct ClientTls {
    /// The CA certificate the server's certificate must chain to (PEM).
    pub ca: PathBuf,
    /// The client's certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
}

impl ClientTls {
    /// The tonic configuration.
    pub fn config(&self) -> Result<ClientTlsConfig, TlsError> {
        Ok(ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(&self.ca)?))
            .identity(Identity::from_pem(read(&self.cert)?, read(&self.key)?)))
    }
}

/// The URL to connect to for `address` (`https://h:p`, `http://h:p` or
/// `h:p`): `https` with TLS settings, `http` without; an `https` address
/// without TLS settings, or TLS settings for an `http` one, is an error.
pub fn client_url(address: &str, tls: bool) -> Result<String, TlsError> {
    match (address.split_once("://"), tls) {
        (Some(("https", _)), true) | (Some(("http", _)), false) => Ok(address.to_owned()),
        (Some(("https", _)), false) => Err(TlsError::Address(format!(
            "{address} is an https address: give --tls-ca, --tls-cert and --tls-key"
        ))),
        (Some(("http", _)), true) => Err(TlsError::Address(format!(
            "{address} is a plaintext address, but TLS settings are given: use https://"
        ))),
        (Some((scheme, _)), _) => Err(TlsError::Address(format!(
            "unknown scheme {scheme}: use https://host:port or host:port"
        ))),
        (None, true) => Ok(format!("https://{address}")),
        (None, false) => Ok(format!("http://{address}")),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_tls_settings_must_agree() {
        assert_eq!(
            client_url("https://ddc:443", true).unwrap(),
            "https://ddc:443"
        );
        assert_eq!(client_url("ddc:443", true).unwrap(), "https://ddc:443");
        assert_eq!(
            client_url("127.0.0.1:50051", false).unwrap(),
            "http://127.0.0.1:50051"
        );
        assert!(client_url("https://ddc:443", false).is_err());
        assert!(client_url("http://ddc:80", true).is_err());
        assert!(client_url("ftp://ddc", true).is_err());
    }

    #[test]
    fn plaintext_only_on_loopback() {
        let dev = Transport::PlaintextDevelopment;
        assert!(dev
            .server_config("127.0.0.1:1".parse().unwrap())
            .unwrap()
            .is_none());
        assert!(dev
            .server_config("[::1]:1".parse().unwrap())
            .unwrap()
            .is_none());
        assert!(matches!(
            dev.server_config("0.0.0.0:1".parse().unwrap()),
            Err(TlsError::PlaintextNotLoopback(_))
        ));
    }
}
