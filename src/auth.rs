//! Who is calling: the identity a client certificate names.
//!
//! A caller is identified by the leaf certificate it presented over mutual
//! TLS: subject `O` is its organisation (a lower-case name such as `cbs`),
//! `OU` its role (`provider`, `analyst`, `auditor`, `administrator` or
//! `probe`) and
//! `CN` the person or system (e.g. `jansen`). Its log name is
//! `O/OU/CN`. A certificate without exactly one of each, with another
//! role, or whose serial number is on the deny list, identifies nobody.
//! The TLS layer has already verified the chain, the validity period and
//! the key usage; this module only reads the subject.
//!
//! On a development server without TLS (loopback only) every caller is
//! the fixed development identity.
//!
//! The server's edge (`service::gate`) identifies each request once and
//! puts the [`Caller`] in its extensions; handlers read it with [`caller`].

use std::collections::BTreeSet;

/// What a caller may do, by its certificate's `OU`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Declares its organisation's datasets and code lists, uploads to them.
    Provider,
    /// Asks for tables and linkage figures inside projects.
    Analyst,
    /// Reads the linkage log, checkpoints and release history.
    Auditor,
    /// Manages keys, projects and grants.
    Administrator,
    /// A health probe: may ask whether the server serves, nothing else.
    Probe,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::Provider,
        Role::Analyst,
        Role::Auditor,
        Role::Administrator,
        Role::Probe,
    ];

    /// The role's name, as in a certificate's `OU`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Provider => "provider",
            Role::Analyst => "analyst",
            Role::Auditor => "auditor",
            Role::Administrator => "administrator",
            Role::Probe => "probe",
        }
    }

    /// The role named `name`.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// The authenticated caller of an RPC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    subject: String,
    identity: Option<Identity>,
}

/// Organisation, role and name, from a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The organisation (`O`).
    pub organisation: String,
    /// The role (`OU`).
    pub role: Role,
    /// The person or system (`CN`).
    pub name: String,
}

impl Caller {
    /// The development identity of a server without TLS.
    pub fn development() -> Self {
        Caller {
            subject: "development".into(),
            identity: None,
        }
    }

    /// The server itself, for what it does on its own (start-up checks).
    pub fn server() -> Self {
        Caller {
            subject: "server".into(),
            identity: None,
        }
    }

    /// A caller identified by a certificate.
    pub fn identified(identity: Identity) -> Self {
        Caller {
            subject: format!(
                "{}/{}/{}",
                identity.organisation,
                identity.role.as_str(),
                identity.name
            ),
            identity: Some(identity),
        }
    }

    /// The name recorded in the linkage log (`cbs/provider/jansen`).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Organisation, role and name, if a certificate named them.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }
}

/// Why a certificate identifies nobody. Never names a value from it beyond
/// the serial number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No client certificate was presented.
    #[error("no client certificate: ddc identifies callers by their TLS client certificate")]
    NoCertificate,
    /// The certificate does not parse.
    #[error("the client certificate is not a valid X.509 certificate")]
    Malformed,
    /// The subject lacks one `O`, one `OU` or one `CN`, or names another role.
    #[error("the client certificate's subject must name one organisation (O), one role (OU: provider, analyst, auditor, administrator or probe) and one name (CN)")]
    Subject,
    /// The serial number is on the server's deny list.
    #[error("the client certificate (serial {0}) is revoked")]
    Revoked(String),
}

/// Serial numbers (lower-case hex, no separators) of revoked certificates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DenyList(BTreeSet<String>);

impl DenyList {
    /// A deny list of `serials`, written in hex with or without `:`.
    pub fn new<S: AsRef<str>>(serials: impl IntoIterator<Item = S>) -> Self {
        DenyList(
            serials
                .into_iter()
                .map(|s| normal_serial(s.as_ref()))
                .collect(),
        )
    }

    fn contains(&self, serial: &str) -> bool {
        self.0.contains(serial)
    }
}

fn normal_serial(s: &str) -> String {
    let hex: String = s
        .chars()
        .filter(|c| *c != ':')
        .flat_map(char::to_lowercase)
        .collect();
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() { "0" } else { trimmed }.to_owned()
}

/// The caller the leaf certificate `der` (already verified by TLS) names.
pub fn identify(der: &[u8], deny: &DenyList) -> Result<Caller, AuthError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|_| AuthError::Malformed)?;
    let serial: String = cert
        .raw_serial()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let serial = normal_serial(&serial);
    if deny.contains(&serial) {
        return Err(AuthError::Revoked(serial));
    }
    let subject = cert.subject();
    let organisation = only_one(subject.iter_organization())?;
    let role = only_one(subject.iter_organizational_unit())?;
    let name = only_one(subject.iter_common_name())?;
    let role = Role::parse(&role).ok_or(AuthError::Subject)?;
    if !crate::names::is_simple_name(&organisation) {
        return Err(AuthError::Subject);
    }
    Ok(Caller::identified(Identity {
        organisation,
        role,
        name,
    }))
}

/// The text of the one attribute `values` holds; none, several, an empty
/// one or one that is not text identify nobody.
fn only_one<'a>(
    values: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
) -> Result<String, AuthError> {
    let texts: Vec<&str> = values
        .map(|a| a.as_str().map_err(|_| AuthError::Subject))
        .collect::<Result<_, _>>()?;
    match texts.as_slice() {
        [v] if !v.is_empty() => Ok((*v).to_owned()),
        _ => Err(AuthError::Subject),
    }
}

/// The caller of a request, as the server's edge identified it.
pub fn caller<T>(request: &tonic::Request<T>) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(unidentified)
}

/// A request the edge did not identify (only in a server built without
/// it): recorded under a name no certificate can have.
fn unidentified() -> Caller {
    Caller {
        subject: "unidentified".into(),
        identity: None,
    }
}

#[cfg(test)]
mod tests;
