//! A throwaway certificate authority for development and tests: `ddc pki
//! dev`. Issues the server's certificate and one client certificate per
//! organisation and role, in the subject scheme [`crate::auth`] reads
//! (`O` organisation, `OU` role, `CN` name). Not for production: a real
//! deployment's certificates come from the organisations' own PKI.
//!
//! Keys are ECDSA P-256 (ring). Nothing here touches the network or the
//! store.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};

use crate::auth::Role;

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
#[error("certificate: {0}")]
pub struct PkiError(#[from] rcgen::Error);

/// A certificate and its private key, PEM-encoded.
#[derive(Clone)]
pub struct Issued {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
    /// Its serial number, lower-case hex.
    pub serial: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

/// A certificate authority that lives in memory only.
pub struct DevCa {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    next_serial: u64,
}

impl std::fmt::Debug for DevCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DevCa(..)")
    }
}

/// How long a certificate is valid, in days from now; negative for one that
/// has expired (tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    /// Days before now it starts.
    pub from_days_ago: i64,
    /// Days after now it ends (negative: already ended).
    pub until_days: i64,
}

impl Default for Validity {
    fn default() -> Self {
        Validity {
            from_days_ago: 1,
            until_days: 90,
        }
    }
}

impl DevCa {
    /// A fresh CA named `name`.
    pub fn new(name: &str) -> Result<Self, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(&[(DnType::CommonName, name)]);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        set_validity(
            &mut params,
            Validity {
                from_days_ago: 1,
                until_days: 365,
            },
        );
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(DevCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
            next_serial: 1,
        })
    }

    /// The CA's certificate: what servers and clients trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn issue_server(&mut self, names: &[&str]) -> Result<Issued, PkiError> {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name =
            dn(&[(DnType::CommonName, names.first().copied().unwrap_or("ddc"))]);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params, Validity::default())
    }

    /// A client certificate naming `organisation`, `role` and `name`.
    pub fn issue_client(
        &mut self,
        organisation: &str,
        role: Role,
        name: &str,
        validity: Validity,
    ) -> Result<Issued, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(&[
            (DnType::OrganizationName, organisation),
            (DnType::OrganizationalUnitName, role.as_str()),
            (DnType::CommonName, name),
        ]);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params, validity)
    }

    fn issue(
        &mut self,
        mut params: CertificateParams,
        validity: Validity,
    ) -> Result<Issued, PkiError> {
        let serial = self.next_serial;
        self.next_serial += 1;
        params.serial_number = Some(SerialNumber::from(serial));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, validity);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            serial: format!("{serial:x}"),
        })
    }
}

fn dn(parts: &[(DnType, &str)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (kind, value) in parts {
        dn.push(kind.clone(), *value);
    }
    dn
}

fn set_validity(params: &mut CertificateParams, v: Validity) {
    let now = time_now();
    params.not_before = now - time::Duration::days(v.from_days_ago);
    params.not_after = now + time::Duration::days(v.until_days);
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{identify, AuthError, DenyList};

    fn der(pem: &str) -> Vec<u8> {
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        block.contents
    }

    #[test]
    fn a_client_certificate_names_its_organisation_role_and_name() {
        let mut ca = DevCa::new("ddc dev CA").unwrap();
        let issued = ca
            .issue_client("cbs", Role::Provider, "jansen", Validity::default())
            .unwrap();
        let caller = identify(&der(&issued.cert_pem), &DenyList::default()).unwrap();
        assert_eq!(caller.subject(), "cbs/provider/jansen");
        let id = caller.identity().unwrap();
        assert_eq!((id.organisation.as_str(), id.role), ("cbs", Role::Provider));
        let denied = DenyList::new([format!("0{}", issued.serial)]);
        assert_eq!(
            identify(&der(&issued.cert_pem), &denied),
            Err(AuthError::Revoked(issued.serial.clone()))
        );
    }

    #[test]
    fn a_server_certificate_identifies_no_caller() {
        let mut ca = DevCa::new("ddc dev CA").unwrap();
        let server = ca.issue_server(&["localhost", "127.0.0.1"]).unwrap();
        assert_eq!(
            identify(&der(&server.cert_pem), &DenyList::default()),
            Err(AuthError::Subject)
        );
        assert_eq!(
            identify(b"not a certificate", &DenyList::default()),
            Err(AuthError::Malformed)
        );
    }

    #[test]
    fn serials_are_unique_and_keys_never_print() {
        let mut ca = DevCa::new("ddc dev CA").unwrap();
        let a = ca
            .issue_client("duo", Role::Analyst, "a", Validity::default())
            .unwrap();
        let b = ca
            .issue_client("duo", Role::Analyst, "b", Validity::default())
            .unwrap();
        assert_ne!(a.serial, b.serial);
        assert!(!format!("{a:?}").contains("PRIVATE"));
    }
}
