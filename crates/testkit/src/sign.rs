//! Signatures made the way the signing tools make them, for tests and the demo:
//! - cosign key pairs ([`SigningKey`]: ECDSA P-256, Ed25519, RSA) and cosign's simple-signing
//!   payload ([`simple_signing_payload`]), signed over its exact bytes as `cosign sign --key`
//!   does (ECDSA in ASN.1 DER, RSA PKCS #1 v1.5 with SHA-256, Ed25519 over the payload);
//! - Notary Project signatures ([`NotationCa`], [`NotationSigner`]): a CA of the test kit's own
//!   (rcgen), a code-signing leaf, and the JWS envelope `notation sign` writes (ES256).
//!
//! Keyless sigstore bundles come from sigstore's own mock Fulcio and Rekor ([`crate::keyless`]).
//! The cryptography is ring's (what rcgen uses) and, for RSA key generation, RustCrypto's rsa.

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use ring::rand::SystemRandom;
use ring::signature::{self as rsig, KeyPair as _};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// A cosign key pair's algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    EcdsaP256,
    Ed25519,
    Rsa,
}

enum Private {
    Ecdsa(rsig::EcdsaKeyPair),
    Ed25519(rsig::Ed25519KeyPair),
    Rsa(rsig::RsaKeyPair),
}

/// A key pair as `cosign generate-key-pair` makes one (its private half never leaves here).
pub struct SigningKey {
    pub kind: KeyKind,
    private: Private,
    public_pem: String,
}

impl SigningKey {
    pub fn generate(kind: KeyKind) -> Result<Self> {
        let rng = SystemRandom::new();
        let (private, pkcs8) = match kind {
            KeyKind::EcdsaP256 => {
                let pkcs8 = rsig::EcdsaKeyPair::generate_pkcs8(&rsig::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
                    .map_err(|_| anyhow::anyhow!("generating a P-256 key"))?;
                let pair = rsig::EcdsaKeyPair::from_pkcs8(&rsig::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
                    .map_err(|_| anyhow::anyhow!("reading a P-256 key"))?;
                (Private::Ecdsa(pair), pkcs8.as_ref().to_vec())
            }
            KeyKind::Ed25519 => {
                let pkcs8 = rsig::Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| anyhow::anyhow!("generating an Ed25519 key"))?;
                let pair = rsig::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| anyhow::anyhow!("reading an Ed25519 key"))?;
                (Private::Ed25519(pair), pkcs8.as_ref().to_vec())
            }
            KeyKind::Rsa => {
                use rsa::pkcs8::EncodePrivateKey;
                let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).context("generating an RSA key")?;
                let pkcs8 = key.to_pkcs8_der().context("encoding the RSA key")?.as_bytes().to_vec();
                let pair = rsig::RsaKeyPair::from_pkcs8(&pkcs8).map_err(|e| anyhow::anyhow!("reading the RSA key: {e}"))?;
                (Private::Rsa(pair), pkcs8)
            }
        };
        let public_pem = match &private {
            Private::Rsa(_) => {
                use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
                let key = rsa::RsaPrivateKey::from_pkcs8_der(&pkcs8).context("reading the RSA key")?;
                key.to_public_key().to_public_key_pem(rsa::pkcs8::LineEnding::LF).context("encoding the RSA public key")?
            }
            _ => KeyPair::try_from(pkcs8.as_slice()).context("reading the key with rcgen")?.public_key_pem(),
        };
        Ok(Self { kind, private, public_pem })
    }

    /// The public key, PEM (`-----BEGIN PUBLIC KEY-----`), as `cosign.pub` holds it.
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// A signature over `message`, in the encoding cosign stores (base64 of it goes in the
    /// `dev.cosignproject.cosign/signature` annotation).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let rng = SystemRandom::new();
        Ok(match &self.private {
            Private::Ecdsa(pair) => pair.sign(&rng, message).map_err(|_| anyhow::anyhow!("signing"))?.as_ref().to_vec(),
            Private::Ed25519(pair) => pair.sign(message).as_ref().to_vec(),
            Private::Rsa(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(&rsig::RSA_PKCS1_SHA256, &rng, message, &mut signature).map_err(|_| anyhow::anyhow!("signing"))?;
                signature
            }
        })
    }
}

/// cosign's simple-signing payload for `digest` pushed as `reference` (`registry/repo`), byte
/// for byte as cosign marshals it.
pub fn simple_signing_payload(reference: &str, digest: &str) -> Vec<u8> {
    format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{reference}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#
    )
    .into_bytes()
}

/// A Notary Project trust store's CA (made fresh; nothing else trusts it).
pub struct NotationCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
    der: Vec<u8>,
}

impl NotationCa {
    pub fn new(name: &str) -> Result<Self> {
        let key = KeyPair::generate().context("generating the CA key")?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CountryName, "US");
        params.distinguished_name.push(DnType::OrganizationName, "Portolan tests");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        params.not_before = OffsetDateTime::now_utc() - time::Duration::days(30);
        params.not_after = OffsetDateTime::now_utc() + time::Duration::days(3650);
        let cert = params.self_signed(&key).context("signing the CA certificate")?;
        Ok(Self { pem: cert.pem(), der: cert.der().to_vec(), issuer: Issuer::new(params, key) })
    }

    /// The CA certificate (PEM): the trust store.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A code-signing certificate for `organization`/`common_name`, valid from `not_before`
    /// to `not_after`.
    pub fn signer(
        &self,
        organization: &str,
        common_name: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<NotationSigner> {
        let key = KeyPair::generate().context("generating a signing key")?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CountryName, "US");
        params.distinguished_name.push(DnType::StateOrProvinceName, "WA");
        params.distinguished_name.push(DnType::OrganizationName, organization);
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params.signed_by(&key, &self.issuer).context("signing the leaf certificate")?;
        let pair = rsig::EcdsaKeyPair::from_pkcs8(&rsig::ECDSA_P256_SHA256_FIXED_SIGNING, &key.serialize_der(), &SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("reading the signing key"))?;
        Ok(NotationSigner { chain: vec![cert.der().to_vec(), self.der.clone()], key: pair })
    }

    /// A code-signing certificate valid now (for a year).
    pub fn current_signer(&self, organization: &str, common_name: &str) -> Result<NotationSigner> {
        let now = OffsetDateTime::now_utc();
        self.signer(organization, common_name, now - time::Duration::days(1), now + time::Duration::days(365))
    }
}

/// A Notary Project signer: a code-signing certificate (with its CA) and its key.
pub struct NotationSigner {
    chain: Vec<Vec<u8>>,
    key: rsig::EcdsaKeyPair,
}

impl NotationSigner {
    /// The JWS envelope `notation sign` attaches for the artifact `target` (its descriptor:
    /// mediaType, digest, size), signed now, optionally expiring at `expiry` (RFC 3339).
    pub fn jws(&self, target: &Value, expiry: Option<&str>) -> Result<Vec<u8>> {
        let signing_time = OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
        let mut critical = vec!["io.cncf.notary.signingScheme"];
        let mut protected = json!({
            "alg": "ES256",
            "cty": "application/vnd.cncf.notary.payload.v1+json",
            "io.cncf.notary.signingScheme": "notary.x509",
            "io.cncf.notary.signingTime": signing_time,
        });
        if let Some(expiry) = expiry {
            critical.push("io.cncf.notary.expiry");
            protected["io.cncf.notary.expiry"] = json!(expiry);
        }
        protected["crit"] = json!(critical);
        let protected = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&protected)?);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json!({"targetArtifact": target}))?);
        let signature = self
            .key
            .sign(&SystemRandom::new(), format!("{protected}.{payload}").as_bytes())
            .map_err(|_| anyhow::anyhow!("signing the envelope"))?;
        Ok(serde_json::to_vec(&json!({
            "payload": payload,
            "protected": protected,
            "header": {
                "x5c": self.chain.iter().map(|c| STANDARD.encode(c)).collect::<Vec<_>>(),
                "io.cncf.notary.signingAgent": "portolan-testkit",
            },
            "signature": URL_SAFE_NO_PAD.encode(signature.as_ref()),
        }))?)
    }

    /// The SHA-256 thumbprints of the chain, as notation annotates its signature manifests.
    pub fn thumbprints(&self) -> Vec<String> {
        self.chain.iter().map(|c| hex::encode(ring::digest::digest(&ring::digest::SHA256, c))).collect()
    }

    /// The public key of the leaf (for tests of the key alone).
    pub fn public_key(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }
}
