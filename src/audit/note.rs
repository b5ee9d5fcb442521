//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys, and
//! transparency log checkpoints (<https://c2sp.org/tlog-checkpoint>) carried
//! in them.
//!
//! Responsible for: the note and checkpoint text formats, Ed25519 key ids and
//! verifier key strings, signing, and verifying a note against one trusted
//! key. Notes, verifier keys and checkpoints may come from untrusted parties:
//! malformed input is an error, never a panic.
//! Not responsible for: key storage or generation (the caller supplies the
//! 32-byte seed), deciding which keys or origins to trust, multi-key
//! policies (witness quorums), or Merkle proofs (see the `merkle` module).

use crate::audit::merkle::Hash;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use sha2::{Digest, Sha256};
use std::fmt;

#[cfg(test)]
mod tests;

/// Start of every signature line: U+2014 EM DASH, then a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// Notes with more signatures than this are rejected (as Go's sumdb/note does).
const MAX_SIGNATURES: usize = 100;
/// Signature type byte of Ed25519 keys.
const ALG_ED25519: u8 = 0x01;
/// Length of an Ed25519 signature.
const ED25519_SIG_LEN: usize = 64;

/// A tlog checkpoint: the signed head of a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Identifies the log (its configured name; not checked against the key).
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 root hash of the first `size` leaves.
    pub root: Hash,
}

impl Checkpoint {
    /// Returns the note body: origin, decimal size and base64 root, each
    /// followed by a newline, and no extension lines. An origin that is empty
    /// or contains a newline or control character yields a body that
    /// [`Checkpoint::parse`] and [`Signer::sign`] reject.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// Parses a checkpoint body (the note text, ending in a newline).
    /// Extension lines after the root are allowed and ignored.
    pub fn parse(body: &str) -> Result<Checkpoint, NoteError> {
        let text = body
            .strip_suffix('\n')
            .ok_or_else(|| bad_line(body.split('\n').count(), "missing final newline"))?;
        let lines: Vec<&str> = text.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            if line.chars().any(is_forbidden_control) {
                return Err(bad_line(i + 1, "control character"));
            }
            if line.is_empty() {
                return Err(bad_line(i + 1, "empty line"));
            }
        }
        match lines.as_slice() {
            [origin, size, root, ..] => Ok(Checkpoint {
                origin: (*origin).to_owned(),
                size: parse_size(size).map_err(|reason| bad_line(2, reason))?,
                root: parse_root(root).map_err(|reason| bad_line(3, reason))?,
            }),
            _ => Err(bad_line(lines.len() + 1, "missing line")),
        }
    }
}

/// Signs notes with an Ed25519 key. Deliberately neither `Clone` nor a
/// `Debug` that shows key material.
pub struct Signer {
    name: String,
    key_id: [u8; 4],
    public_key: [u8; 32],
    key_pair: Ed25519KeyPair,
}

impl Signer {
    /// Creates a signer for key `name` from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key_pair =
            Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| NoteError::InvalidSeed)?;
        let public_key = public_key_bytes(&key_pair)?;
        Ok(Signer {
            name: name.to_owned(),
            key_id: compute_key_id(name, &public_key),
            public_key,
            key_pair,
        })
    }

    /// Returns the key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the matching verifier (public key).
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            public_key: self.public_key,
        }
    }

    /// Signs `body` (which must end in a newline and contain no control
    /// characters other than newline) and returns the whole signed note.
    pub fn sign(&self, body: &str) -> Result<String, NoteError> {
        check_body(body)?;
        let signature = self.key_pair.sign(body.as_bytes());
        let mut blob = self.key_id.to_vec();
        blob.extend_from_slice(signature.as_ref());
        Ok(format!(
            "{body}\n{SIG_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(blob)
        ))
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .field("key_id", &hex(&self.key_id))
            .finish_non_exhaustive()
    }
}

/// A trusted Ed25519 note verifier key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key_id: [u8; 4],
    public_key: [u8; 32],
}

impl Verifier {
    /// Parses a verifier key string `<name>+<8 lowercase hex key id>+<base64(0x01 ‖ public key)>`.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let (name, rest) = vkey
            .split_once('+')
            .ok_or(NoteError::MalformedVerifierKey("missing '+'"))?;
        check_name(name)?;
        let (id_hex, key_b64) = rest
            .split_once('+')
            .ok_or(NoteError::MalformedVerifierKey("missing second '+'"))?;
        let key_id = parse_key_id(id_hex)?;
        let public_key = parse_public_key(key_b64)?;
        if key_id != compute_key_id(name, &public_key) {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(Verifier {
            name: name.to_owned(),
            key_id,
            public_key,
        })
    }

    /// Returns the key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the 4-byte key id (SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[..4]).
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// Returns the 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    /// Returns the verifier key string (also what `Display` prints).
    pub fn encode(&self) -> String {
        let mut key = vec![ALG_ED25519];
        key.extend_from_slice(&self.public_key);
        format!("{}+{}+{}", self.name, hex(&self.key_id), BASE64.encode(key))
    }

    /// Checks that `note` carries a valid signature by this key; returns the
    /// body. Signatures by other keys are ignored (not an error) but at least
    /// one by this key must verify, and any by this key that fails rejects
    /// the note.
    pub fn verify<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let (body, signatures) = split_note(note)?;
        let mut verified = false;
        for SignatureLine { name, blob } in signatures {
            let Some((id, signature)) = blob.split_first_chunk::<4>() else {
                continue;
            };
            if name != self.name || *id != self.key_id {
                continue;
            }
            self.check_signature(body, signature)?;
            verified = true;
        }
        if verified {
            Ok(body)
        } else {
            Err(NoteError::NoSignatureByKey(self.name.clone()))
        }
    }

    /// Verifies one Ed25519 signature by this key over `body`.
    fn check_signature(&self, body: &str, signature: &[u8]) -> Result<(), NoteError> {
        if signature.len() != ED25519_SIG_LEN {
            return Err(NoteError::BadSignature(self.name.clone()));
        }
        UnparsedPublicKey::new(&ED25519, &self.public_key)
            .verify(body.as_bytes(), signature)
            .map_err(|_| NoteError::BadSignature(self.name.clone()))
    }
}

impl fmt::Display for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// Verifies `note` with `verifier` and parses its body as a checkpoint.
///
/// Requires only a valid signature by `verifier`; it does not require the
/// origin to equal the key name (ddc's origin is its configured log name), so
/// callers that care must compare `origin` themselves.
pub fn open_checkpoint(note: &str, verifier: &Verifier) -> Result<Checkpoint, NoteError> {
    Checkpoint::parse(verifier.verify(note)?)
}

/// Why a key, note or checkpoint was rejected.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    /// A key name is empty or contains whitespace, '+' or control characters.
    #[error("invalid key name: must be non-empty, without spaces, '+' or control characters")]
    InvalidKeyName,
    /// A verifier key string is malformed.
    #[error("malformed verifier key: {0}")]
    MalformedVerifierKey(&'static str),
    /// A verifier key is not an Ed25519 key.
    #[error("unsupported signature algorithm 0x{0:02x}")]
    UnsupportedAlgorithm(u8),
    /// A verifier key's id does not match its name and public key.
    #[error("verifier key id does not match its name and public key")]
    KeyIdMismatch,
    /// ring rejected the Ed25519 seed.
    #[error("invalid Ed25519 seed")]
    InvalidSeed,
    /// A note (or a body to sign) is malformed.
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    /// A note has more than 100 signatures.
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    /// No signature line names this key (name and key id).
    #[error("note has no signature by key {0}")]
    NoSignatureByKey(String),
    /// A signature line names this key but does not verify.
    #[error("invalid signature by key {0}")]
    BadSignature(String),
    /// A checkpoint body is malformed at the given 1-based line.
    #[error("malformed checkpoint, line {line}: {reason}")]
    MalformedCheckpoint {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Builds a checkpoint error.
fn bad_line(line: usize, reason: &'static str) -> NoteError {
    NoteError::MalformedCheckpoint { line, reason }
}

/// Control characters forbidden in notes: those below U+0020 other than newline.
fn is_forbidden_control(c: char) -> bool {
    c < ' ' && c != '\n'
}

/// Key names: non-empty, no (Unicode) whitespace, no '+', no control characters.
fn check_name(name: &str) -> Result<(), NoteError> {
    let bad_char = |c: char| c.is_whitespace() || c == '+' || c.is_control();
    if name.is_empty() || name.chars().any(bad_char) {
        Err(NoteError::InvalidKeyName)
    } else {
        Ok(())
    }
}

/// A note text: ends in a newline, no forbidden control characters.
fn check_body(body: &str) -> Result<(), NoteError> {
    if !body.ends_with('\n') {
        return Err(NoteError::MalformedNote("text does not end in a newline"));
    }
    if body.chars().any(is_forbidden_control) {
        return Err(NoteError::MalformedNote("control character"));
    }
    Ok(())
}

/// Ed25519 key id: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[..4].
fn compute_key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', ALG_ED25519])
        .chain_update(public_key)
        .finalize();
    let mut id = [0; 4];
    id.copy_from_slice(&digest[..4]);
    id
}

/// The 32-byte public key of a ring key pair.
fn public_key_bytes(key_pair: &Ed25519KeyPair) -> Result<[u8; 32], NoteError> {
    key_pair
        .public_key()
        .as_ref()
        .try_into()
        .map_err(|_| NoteError::InvalidSeed)
}

/// Parses exactly 8 lowercase hex digits.
fn parse_key_id(id_hex: &str) -> Result<[u8; 4], NoteError> {
    let is_lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if id_hex.len() != 8 || !id_hex.bytes().all(is_lower_hex) {
        return Err(NoteError::MalformedVerifierKey(
            "key id is not 8 lowercase hex digits",
        ));
    }
    u32::from_str_radix(id_hex, 16)
        .map(u32::to_be_bytes)
        .map_err(|_| NoteError::MalformedVerifierKey("key id is not 8 lowercase hex digits"))
}

/// Parses base64(0x01 ‖ 32-byte Ed25519 public key).
fn parse_public_key(key_b64: &str) -> Result<[u8; 32], NoteError> {
    let key = BASE64
        .decode(key_b64)
        .map_err(|_| NoteError::MalformedVerifierKey("public key is not base64"))?;
    match key.split_first() {
        Some((&ALG_ED25519, public_key)) => public_key
            .try_into()
            .map_err(|_| NoteError::MalformedVerifierKey("public key is not 32 bytes")),
        Some((&alg, _)) => Err(NoteError::UnsupportedAlgorithm(alg)),
        None => Err(NoteError::MalformedVerifierKey("empty public key")),
    }
}

/// One parsed signature line.
struct SignatureLine<'a> {
    /// Key name.
    name: &'a str,
    /// Decoded key id ‖ signature (at least 5 bytes).
    blob: Vec<u8>,
}

/// Splits a note into its body and its signature lines.
fn split_note(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), NoteError> {
    if note.chars().any(is_forbidden_control) {
        return Err(NoteError::MalformedNote("control character"));
    }
    // The body ends at the last blank line (the body may contain blank lines).
    let split = note.rfind("\n\n").ok_or(NoteError::MalformedNote(
        "no blank line before the signatures",
    ))?;
    let (body, block) = (&note[..=split], &note[split + 2..]);
    let lines = block.strip_suffix('\n').ok_or(NoteError::MalformedNote(
        "signature block does not end in a newline",
    ))?;
    if lines.split('\n').count() > MAX_SIGNATURES {
        return Err(NoteError::TooManySignatures);
    }
    let signatures = lines
        .split('\n')
        .map(parse_signature_line)
        .collect::<Result<_, _>>()?;
    Ok((body, signatures))
}

/// Parses `— <key name> <base64(key id ‖ signature)>` (without the newline).
fn parse_signature_line(line: &str) -> Result<SignatureLine<'_>, NoteError> {
    let rest = line
        .strip_prefix(SIG_PREFIX)
        .ok_or(NoteError::MalformedNote(
            "signature line does not start with \"\u{2014} \"",
        ))?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or(NoteError::MalformedNote("signature line has no signature"))?;
    check_name(name).map_err(|_| NoteError::MalformedNote("invalid key name in signature line"))?;
    let blob = BASE64
        .decode(b64)
        .map_err(|_| NoteError::MalformedNote("signature is not base64"))?;
    if blob.len() < 5 {
        return Err(NoteError::MalformedNote("signature is too short"));
    }
    Ok(SignatureLine { name, blob })
}

/// Parses a decimal tree size: digits only, no leading zeros except "0".
fn parse_size(line: &str) -> Result<u64, &'static str> {
    if line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) {
        return Err("tree size is not a decimal number");
    }
    if line.len() > 1 && line.starts_with('0') {
        return Err("tree size has leading zeros");
    }
    line.parse().map_err(|_| "tree size overflows u64")
}

/// Parses a standard, padded base64 root hash of exactly 32 bytes.
fn parse_root(line: &str) -> Result<Hash, &'static str> {
    let bytes = BASE64.decode(line).map_err(|_| "root hash is not base64")?;
    bytes.try_into().map_err(|_| "root hash is not 32 bytes")
}

/// Lowercase hex of a short byte string.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
