//! Signed notes (C2SP `signed-note`) with ECDSA P-256 signatures, the
//! envelope of the audit ledger's checkpoints.
//!
//! A note is a text ending in a newline, a blank line, then signature
//! lines `— <key name> base64(key ID || signature)`. The signature type is
//! C2SP's `0x02` (ECDSA, as transparency-dev's witness implements it): the
//! key ID is the first four bytes of SHA-256 of the public key's DER SPKI,
//! and the signature is ECDSA P-256 over SHA-256 of the note text, ASN.1
//! DER encoded: exactly what AWS KMS returns for an `ECC_NIST_P256` key
//! signing with `ECDSA_SHA_256` and `MessageType=RAW`.
//!
//! A verifier is configured with the public key out of band (`warden
//! audit public-key` prints it) and never takes a key from a note.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// The DER prefix of a P-256 public key's SPKI with an uncompressed point
/// (SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING }): the
/// form KMS's GetPublicKey returns. The 65-byte point follows.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The separator of a signature line: an em dash and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// The C2SP key ID of a type `0x02` (ECDSA) key: the first four bytes of
/// SHA-256 of its DER SPKI.
pub fn key_id(spki_der: &[u8]) -> [u8; 4] {
    let digest = Sha256::digest(spki_der);
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The 65-byte uncompressed point of a P-256 SPKI, or an error saying the
/// key is not one.
fn p256_point(spki_der: &[u8]) -> Result<&[u8]> {
    match spki_der.strip_prefix(&P256_SPKI_PREFIX[..]) {
        Some(point) if point.len() == 65 && point[0] == 0x04 => Ok(point),
        _ => Err(Error::Config(
            "the checkpoint key is not an ECDSA P-256 public key (DER SPKI)".into(),
        )),
    }
}

/// A P-256 point as its DER SPKI.
pub fn spki_of_point(point: &[u8]) -> Vec<u8> {
    let mut der = P256_SPKI_PREFIX.to_vec();
    der.extend_from_slice(point);
    der
}

/// The public key a verifier pins: its name (in signature lines) and its
/// DER SPKI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteKey {
    name: String,
    spki: Vec<u8>,
}

impl NoteKey {
    /// The key named `name` (a schema-less URL, no space or `+`) with this
    /// DER SPKI, which must be an ECDSA P-256 key.
    pub fn new(name: &str, spki_der: Vec<u8>) -> Result<Self> {
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
            return Err(Error::Config(format!(
                "a note key name is non-empty, with no space or '+': {name:?}"
            )));
        }
        p256_point(&spki_der)?;
        Ok(Self {
            name: name.to_owned(),
            spki: spki_der,
        })
    }

    /// The key named `name` from a PEM `PUBLIC KEY` block.
    pub fn from_pem(name: &str, pem: &str) -> Result<Self> {
        Self::new(name, pem_decode(pem, "PUBLIC KEY")?)
    }

    /// The key as a PEM `PUBLIC KEY` block.
    pub fn to_pem(&self) -> String {
        pem_encode(&self.spki, "PUBLIC KEY")
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its DER SPKI.
    pub fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// Its C2SP key ID.
    pub fn id(&self) -> [u8; 4] {
        key_id(&self.spki)
    }

    /// The signature line of `signature` (ASN.1 DER) by this key.
    pub fn signature_line(&self, signature: &[u8]) -> String {
        let mut bytes = self.id().to_vec();
        bytes.extend_from_slice(signature);
        format!(
            "{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(bytes)
        )
    }

    /// The text of `note` if this key signed it. Signatures of other keys
    /// (another name or key ID) are ignored, as C2SP says; a signature of
    /// this key that does not verify, or none at all, is an error.
    pub fn verify<'a>(&self, note: &'a str) -> Result<&'a str> {
        let (text, signatures) = split(note)?;
        let point = p256_point(&self.spki)?;
        let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point);
        let mut found = false;
        for (name, bytes) in signatures {
            if name != self.name || bytes.len() < 4 || bytes[..4] != self.id() {
                continue;
            }
            found = true;
            if key.verify(text.as_bytes(), &bytes[4..]).is_err() {
                return Err(Error::BadRequest(format!(
                    "the signature of {} does not verify: the note was changed, or signed by another key",
                    self.name
                )));
            }
        }
        if found {
            Ok(text)
        } else {
            Err(Error::BadRequest(format!(
                "the note has no signature of the key {} (key ID {})",
                self.name,
                hex::encode(self.id())
            )))
        }
    }
}

/// A note's signatures: (key name, key ID and signature bytes) each.
pub type Signatures<'a> = Vec<(&'a str, Vec<u8>)>;

/// A note's text (with its final newline) and its signatures, or an error
/// naming what is malformed.
pub fn split(note: &str) -> Result<(&str, Signatures<'_>)> {
    let malformed = |why: &str| Error::BadRequest(format!("not a signed note: {why}"));
    if note.chars().any(|c| c < ' ' && c != '\n') {
        return Err(malformed("a control character"));
    }
    if !note.ends_with('\n') {
        return Err(malformed("it does not end in a newline"));
    }
    // The text ends at the last blank line.
    let Some(blank) = note.rfind("\n\n") else {
        return Err(malformed("no blank line before the signatures"));
    };
    let text = &note[..=blank];
    let mut signatures = Vec::new();
    for line in note[blank + 2..].lines() {
        let Some(rest) = line.strip_prefix(SIGNATURE_PREFIX) else {
            return Err(malformed("a signature line does not start with an em dash"));
        };
        let Some((name, b64)) = rest.split_once(' ') else {
            return Err(malformed("a signature line has no signature"));
        };
        let bytes = STANDARD
            .decode(b64)
            .map_err(|_| malformed("a signature is not base64"))?;
        signatures.push((name, bytes));
    }
    if signatures.is_empty() {
        return Err(malformed("no signature line"));
    }
    Ok((text, signatures))
}

/// The base64 body of the PEM block `label` in `pem`.
fn pem_decode(pem: &str, label: &str) -> Result<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = pem
        .split_once(&begin)
        .and_then(|(_, rest)| rest.split_once(&end))
        .map(|(body, _)| body)
        .ok_or_else(|| Error::Config(format!("no PEM {label} block")))?;
    let b64: String = body.split_whitespace().collect();
    STANDARD
        .decode(b64)
        .map_err(|_| Error::Config(format!("the PEM {label} block is not base64")))
}

/// `der` as a PEM block `label`, 64 characters a line.
fn pem_encode(der: &[u8], label: &str) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// What signs notes: a KMS key in AWS, a local key in development.
#[async_trait::async_trait]
pub trait NoteSigner: Send + Sync {
    /// The public key its signatures verify with.
    fn key(&self) -> &NoteKey;

    /// An ECDSA P-256 signature (ASN.1 DER) over SHA-256 of `text`.
    async fn sign(&self, text: &[u8]) -> Result<Vec<u8>>;

    /// `text` (ending in a newline) as a note signed by this key.
    async fn sign_note(&self, text: &str) -> Result<String> {
        if !text.ends_with('\n') || text.chars().any(|c| c < ' ' && c != '\n') {
            return Err(Error::internal(
                "a note text ends in a newline and holds no other control character",
            ));
        }
        let signature = self.sign(text.as_bytes()).await?;
        Ok(format!("{text}\n{}", self.key().signature_line(&signature)))
    }
}

/// A P-256 key in this process: `warden serve`'s, generated at start or
/// read from a PKCS#8 PEM (development only; in AWS the key is in KMS).
pub struct LocalNoteSigner {
    pair: ring::signature::EcdsaKeyPair,
    key: NoteKey,
}

impl std::fmt::Debug for LocalNoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalNoteSigner")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl LocalNoteSigner {
    /// A new random key named `name`, and its PKCS#8 PEM (to keep it).
    pub fn generate(name: &str) -> Result<(Self, String)> {
        use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|_| Error::internal("generating a P-256 key failed"))?;
        let pem = pem_encode(pkcs8.as_ref(), "PRIVATE KEY");
        Ok((Self::from_pkcs8(name, pkcs8.as_ref())?, pem))
    }

    /// The key named `name` from a PKCS#8 `PRIVATE KEY` PEM.
    pub fn from_pem(name: &str, pem: &str) -> Result<Self> {
        Self::from_pkcs8(name, &pem_decode(pem, "PRIVATE KEY")?)
    }

    fn from_pkcs8(name: &str, pkcs8: &[u8]) -> Result<Self> {
        use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            pkcs8,
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|_| Error::Config("the checkpoint key is not a P-256 PKCS#8 key".into()))?;
        let key = NoteKey::new(name, spki_of_point(pair.public_key().as_ref()))?;
        Ok(Self { pair, key })
    }
}

#[async_trait::async_trait]
impl NoteSigner for LocalNoteSigner {
    fn key(&self) -> &NoteKey {
        &self.key
    }

    async fn sign(&self, text: &[u8]) -> Result<Vec<u8>> {
        self.pair
            .sign(&ring::rand::SystemRandom::new(), text)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| Error::internal("signing a note failed"))
    }
}

/// A KMS key (`ECC_NIST_P256`, `SIGN_VERIFY`) signing notes with
/// `ECDSA_SHA_256` and `MessageType=RAW`: KMS hashes the text itself, and
/// the private key never leaves KMS.
#[derive(Debug, Clone)]
pub struct KmsNoteSigner {
    client: aws_sdk_kms::Client,
    arn: String,
    key: NoteKey,
}

/// The most KMS signs with `MessageType=RAW`.
const MAX_RAW_MESSAGE: usize = 4096;

impl KmsNoteSigner {
    /// The signer of key `arn`, named `name`; reads its public half once
    /// (GetPublicKey): an ARN's key never changes.
    pub async fn new(client: aws_sdk_kms::Client, arn: &str, name: &str) -> Result<Self> {
        let output = client
            .get_public_key()
            .key_id(arn)
            .send()
            .await
            .map_err(|e| crate::aws::sdk_unavailable("KMS GetPublicKey (checkpoint key)", &e))?;
        let der = output
            .public_key
            .ok_or_else(|| Error::internal("KMS GetPublicKey answered without a key"))?;
        let key = NoteKey::new(name, der.into_inner())?;
        Ok(Self {
            client,
            arn: arn.to_owned(),
            key,
        })
    }
}

#[async_trait::async_trait]
impl NoteSigner for KmsNoteSigner {
    fn key(&self) -> &NoteKey {
        &self.key
    }

    async fn sign(&self, text: &[u8]) -> Result<Vec<u8>> {
        use aws_sdk_kms::primitives::Blob;
        use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
        if text.len() > MAX_RAW_MESSAGE {
            return Err(Error::internal(format!(
                "a note of {} bytes is over KMS's {MAX_RAW_MESSAGE} for a raw message",
                text.len()
            )));
        }
        let output = self
            .client
            .sign()
            .key_id(&self.arn)
            .message(Blob::new(text))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| crate::aws::sdk_unavailable("KMS Sign (checkpoint)", &e))?;
        output
            .signature
            .map(Blob::into_inner)
            .ok_or_else(|| Error::internal("KMS Sign answered without a signature"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Local {
        signer: LocalNoteSigner,
        key: NoteKey,
    }

    fn local(name: &str) -> Local {
        let (signer, _) = LocalNoteSigner::generate(name).unwrap();
        let key = signer.key().clone();
        Local { signer, key }
    }

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn sign(local: &Local, text: &str) -> String {
        block(local.signer.sign_note(text)).unwrap()
    }

    #[test]
    fn a_local_key_kept_as_pem_signs_as_the_same_key() {
        let (signer, pem) = LocalNoteSigner::generate("k").unwrap();
        let again = LocalNoteSigner::from_pem("k", &pem).unwrap();
        assert_eq!(again.key(), signer.key());
        let note = block(again.sign_note(TEXT)).unwrap();
        assert_eq!(signer.key().verify(&note).unwrap(), TEXT);
        assert!(LocalNoteSigner::from_pem("k", &signer.key().to_pem()).is_err());
        assert!(block(again.sign_note("no newline")).is_err());
    }

    const TEXT: &str = "warden.example/audit\nminute 2026-12-07T08:10Z\nsize 3\n";

    #[test]
    fn a_note_signed_by_the_pinned_key_verifies_and_gives_its_text() {
        let key = local("warden.example/audit");
        let note = sign(&key, TEXT);
        assert!(
            note.contains("\n\n\u{2014} warden.example/audit "),
            "{note}"
        );
        assert_eq!(key.key.verify(&note).unwrap(), TEXT);
        // The pinned key read back from its PEM verifies too.
        let pinned = NoteKey::from_pem("warden.example/audit", &key.key.to_pem()).unwrap();
        assert_eq!(pinned, key.key);
        assert_eq!(pinned.verify(&note).unwrap(), TEXT);
    }

    #[test]
    fn a_changed_text_another_key_or_no_signature_is_refused() {
        let key = local("warden.example/audit");
        let note = sign(&key, TEXT);
        let changed = note.replace("size 3", "size 4");
        let err = key.key.verify(&changed).unwrap_err().to_string();
        assert!(err.contains("does not verify"), "{err}");
        // Another key of the same name: its key ID differs, so its
        // signature is ignored, and none of the pinned key is left.
        let other = local("warden.example/audit");
        let err = key.key.verify(&sign(&other, TEXT)).unwrap_err().to_string();
        assert!(err.contains("no signature of the key"), "{err}");
        // Another key's signature with the pinned key's ID forged in.
        let forged = sign(&other, TEXT).replace(
            &STANDARD.encode(other.key.id()),
            &STANDARD.encode(key.key.id()),
        );
        assert!(key.key.verify(&forged).is_err());
        for bad in [
            "",
            "text\n",
            "text\n\n",
            "text\n\nnot a signature\n",
            "a\u{7}b\n\n\u{2014} k AAAA\n",
        ] {
            assert!(key.key.verify(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_key_id_is_the_spki_hash_and_only_p256_keys_are_taken() {
        let key = local("k");
        let digest = Sha256::digest(key.key.spki());
        assert_eq!(key.key.id(), [digest[0], digest[1], digest[2], digest[3]]);
        assert!(NoteKey::new("k", vec![0x30, 0x00]).is_err());
        assert!(NoteKey::new("has space", key.key.spki().to_vec()).is_err());
        assert!(NoteKey::new("has+plus", key.key.spki().to_vec()).is_err());
        assert!(NoteKey::from_pem("k", "no pem here").is_err());
    }
}
