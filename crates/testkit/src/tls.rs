//! A certificate authority of the test kit's own (rcgen), and server certificates it signs, for
//! registries served over HTTPS: a client trusts them only when given [`TestCa::pem`].

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// A CA, made fresh for each test kit (nothing else trusts it).
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

/// A server certificate (PEM chain: the leaf) and its private key (PEM, PKCS#8).
pub struct ServerCert {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A server certificate written to files, as servers' configurations want them.
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    pub fn new() -> Result<Self> {
        let key = KeyPair::generate().context("generating the CA key")?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, "portolan-testkit CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).context("signing the CA certificate")?;
        Ok(Self { pem: cert.pem(), issuer: Issuer::new(params, key) })
    }

    /// The CA certificate (PEM): what a client must trust (Portolan's `ca_file`).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// Writes the CA certificate to `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        std::fs::write(path, &self.pem).with_context(|| format!("writing {}", path.display()))
    }

    /// A server certificate for `names` (IP addresses or DNS names), signed by this CA.
    pub fn server_cert(&self, names: &[&str]) -> Result<ServerCert> {
        let key = KeyPair::generate().context("generating a server key")?;
        let mut params = CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())?;
        params.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or("localhost"));
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer).context("signing a server certificate")?;
        Ok(ServerCert { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }
}

impl ServerCert {
    /// Writes the certificate and key into `dir` (`server.crt`, `server.key`).
    pub fn write(&self, dir: &Path) -> Result<CertFiles> {
        let files = CertFiles { cert: dir.join("server.crt"), key: dir.join("server.key") };
        std::fs::write(&files.cert, &self.cert_pem)?;
        std::fs::write(&files.key, &self.key_pem)?;
        Ok(files)
    }
}

/// An HTTP client (with timeouts) that trusts `ca` besides the system's roots.
pub fn client_trusting(ca: &TestCa) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes())?)
        .timeout(std::time::Duration::from_secs(60))
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_signs_server_certificates() {
        let ca = TestCa::new().unwrap();
        assert!(ca.pem().starts_with("-----BEGIN CERTIFICATE-----"));
        let cert = ca.server_cert(&["127.0.0.1", "localhost"]).unwrap();
        assert!(cert.cert_pem.contains("BEGIN CERTIFICATE"));
        assert!(cert.key_pem.contains("PRIVATE KEY"));
        client_trusting(&ca).unwrap();
    }
}
