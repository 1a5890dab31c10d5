//! The cryptography behind sigstore-rust, from RustCrypto: sigstore-crypto calls a
//! [`CryptoProvider`] for every hash and signature check (bundles, certificate chains,
//! transparency-log proofs, cosign keys), and this one hands each to RustCrypto's `p256`,
//! `p384`, `ed25519-dalek`, `rsa` and `sha2` — crates the workspace already builds — instead of
//! the default `aws-lc-rs` (a C library, compiled on every fresh clone). Nothing here is
//! cryptography: each scheme is one call into the crate that implements it.
//!
//! Installed once per process by [`install`]; every entry point of this crate calls it first.

use std::sync::Once;

use sha2::Digest;
use sigstore_crypto::{CryptoProvider, Error, HashContext, Result, SigningScheme};
use sigstore_types::HashAlgorithm;

/// Makes this provider sigstore-crypto's, once (later calls do nothing).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Another provider installed first (none is, in Portolan) would simply be used instead.
        let _ = sigstore_crypto::install_default_provider(&RustCrypto);
    });
}

/// The provider: verification only (Portolan signs nothing).
#[derive(Debug)]
pub struct RustCrypto;

enum Hasher {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl HashContext for Hasher {
    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    fn finalize(self: Box<Self>) -> Vec<u8> {
        match *self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

fn invalid(scheme: SigningScheme) -> Error {
    Error::Verification(format!("{} signature invalid", scheme.name()))
}

fn digest_of(algorithm: HashAlgorithm, data: &[u8]) -> Result<Vec<u8>> {
    Ok(match algorithm {
        HashAlgorithm::Sha2256 => sha2::Sha256::digest(data).to_vec(),
        HashAlgorithm::Sha2384 => sha2::Sha384::digest(data).to_vec(),
        HashAlgorithm::Sha2512 => sha2::Sha512::digest(data).to_vec(),
        other => return Err(Error::UnsupportedAlgorithm(format!("cannot compute {other} digests"))),
    })
}

/// ECDSA over a digest: the signature in ASN.1 DER, as X.509, Rekor and cosign write it.
fn ecdsa_prehashed(scheme: SigningScheme, key: &[u8], digest: &[u8], signature: &[u8]) -> Result<()> {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    match scheme {
        SigningScheme::EcdsaP256Sha256 | SigningScheme::EcdsaP256Sha384 => {
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(|_| invalid(scheme))?;
            let signature = p256::ecdsa::Signature::from_der(signature).map_err(|_| invalid(scheme))?;
            key.verify_prehash(digest, &signature).map_err(|_| invalid(scheme))
        }
        SigningScheme::EcdsaP384Sha256 | SigningScheme::EcdsaP384Sha384 => {
            let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(|_| invalid(scheme))?;
            let signature = p384::ecdsa::Signature::from_der(signature).map_err(|_| invalid(scheme))?;
            key.verify_prehash(digest, &signature).map_err(|_| invalid(scheme))
        }
        _ => Err(invalid(scheme)),
    }
}

/// RSA over a digest; `key` is a PKCS#1 `RSAPublicKey`.
fn rsa_prehashed(scheme: SigningScheme, key: &[u8], digest: &[u8], signature: &[u8]) -> Result<()> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::{Pkcs1v15Sign, Pss};
    let key = rsa::RsaPublicKey::from_pkcs1_der(key).map_err(|e| Error::InvalidKey(format!("RSA public key: {e}")))?;
    let checked = match scheme {
        SigningScheme::RsaPkcs1Sha256 => key.verify(Pkcs1v15Sign::new::<sha2::Sha256>(), digest, signature),
        SigningScheme::RsaPkcs1Sha384 => key.verify(Pkcs1v15Sign::new::<sha2::Sha384>(), digest, signature),
        SigningScheme::RsaPkcs1Sha512 => key.verify(Pkcs1v15Sign::new::<sha2::Sha512>(), digest, signature),
        SigningScheme::RsaPssSha256 => key.verify(Pss::new::<sha2::Sha256>(), digest, signature),
        SigningScheme::RsaPssSha384 => key.verify(Pss::new::<sha2::Sha384>(), digest, signature),
        SigningScheme::RsaPssSha512 => key.verify(Pss::new::<sha2::Sha512>(), digest, signature),
        _ => return Err(invalid(scheme)),
    };
    checked.map_err(|_| invalid(scheme))
}

impl CryptoProvider for RustCrypto {
    fn hash(&self, algorithm: HashAlgorithm) -> Result<Box<dyn HashContext>> {
        Ok(Box::new(match algorithm {
            HashAlgorithm::Sha2256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Sha2384 => Hasher::Sha384(sha2::Sha384::new()),
            HashAlgorithm::Sha2512 => Hasher::Sha512(sha2::Sha512::new()),
            other => return Err(Error::UnsupportedAlgorithm(format!("cannot compute {other} digests"))),
        }))
    }

    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        sha2::Sha256::digest(data).into()
    }

    fn sha384(&self, data: &[u8]) -> [u8; 48] {
        sha2::Sha384::digest(data).into()
    }

    fn sha512(&self, data: &[u8]) -> [u8; 64] {
        sha2::Sha512::digest(data).into()
    }

    fn verify_raw(&self, scheme: SigningScheme, key: &[u8], data: &[u8], signature: &[u8]) -> Result<()> {
        match scheme {
            SigningScheme::Ed25519 => {
                let key: &[u8; 32] = key.try_into().map_err(|_| invalid(scheme))?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(key).map_err(|_| invalid(scheme))?;
                let signature = ed25519_dalek::Signature::from_slice(signature).map_err(|_| invalid(scheme))?;
                key.verify_strict(data, &signature).map_err(|_| invalid(scheme))
            }
            SigningScheme::MlDsa44 | SigningScheme::MlDsa65 | SigningScheme::MlDsa87 => {
                Err(Error::UnsupportedAlgorithm(format!("{} signatures are not verified by Portolan", scheme.name())))
            }
            // ECDSA and RSA sign a digest of the data: the same check once it is computed.
            _ => {
                let algorithm = scheme.hash_algorithm().ok_or_else(|| invalid(scheme))?;
                self.verify_prehashed(scheme, key, &digest_of(algorithm, data)?, signature)
            }
        }
    }

    fn verify_prehashed(&self, scheme: SigningScheme, key: &[u8], digest: &[u8], signature: &[u8]) -> Result<()> {
        match scheme {
            SigningScheme::EcdsaP256Sha256
            | SigningScheme::EcdsaP256Sha384
            | SigningScheme::EcdsaP384Sha256
            | SigningScheme::EcdsaP384Sha384 => ecdsa_prehashed(scheme, key, digest, signature),
            SigningScheme::RsaPkcs1Sha256
            | SigningScheme::RsaPkcs1Sha384
            | SigningScheme::RsaPkcs1Sha512
            | SigningScheme::RsaPssSha256
            | SigningScheme::RsaPssSha384
            | SigningScheme::RsaPssSha512 => rsa_prehashed(scheme, key, digest, signature),
            other => Err(Error::UnsupportedAlgorithm(format!("{} has no prehashed form", other.name()))),
        }
    }
}
