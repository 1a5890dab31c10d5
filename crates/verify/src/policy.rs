//! Trust policies: what a signature must be to count, and where. Raw input as the configuration
//! file has it ([`RawTrustPolicy`]) is validated into [`TrustPolicies`] in one step that reports
//! every mistake at once ([`build`]) — unreadable keys, unknown algorithms, a policy matching no
//! registry, a glob or regex that does not compile, a trusted root that does not parse.
//!
//! Reading a `_file` or `_env` value is the caller's (the server's configuration): this crate
//! does no I/O and is handed the text through [`Material`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use globset::{GlobMatcher, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use sigstore_crypto::KeyAlgorithm;
use sigstore_trust_root::TrustedRoot;
use sigstore_types::DerPublicKey;

use crate::limits::{MAX_IDENTITY_REGEX, MAX_TRUST_STORE};

/// One `[[trust_policies]]` table, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrustPolicy {
    /// Shown with every result it gives ("verified by ci-release").
    pub name: String,
    /// Registry name or glob (as in grants). Default `*`.
    #[serde(default = "any")]
    pub registry: String,
    /// Repository globs (as in grants: `*` stays within one path part, `**` crosses them).
    #[serde(default = "all_repositories")]
    pub repositories: Vec<String>,
    /// The sigstore trusted root for keyless certificates and transparency-log proofs:
    /// `public-good` (built in; the default), `github` (GitHub's own instance, built in) or
    /// `none`; or a `trusted_root.json` file.
    pub trusted_root: Option<String>,
    pub trusted_root_file: Option<PathBuf>,
    /// cosign key pairs' public keys.
    #[serde(default)]
    pub cosign_keys: Vec<RawKey>,
    /// Signatures made with a cosign key must also have a verified transparency-log entry.
    #[serde(default)]
    pub require_tlog_for_keys: bool,
    /// Keyless signers: a certificate identity and its OIDC issuer.
    #[serde(default)]
    pub keyless: Vec<RawKeyless>,
    /// Notary Project signatures.
    pub notation: Option<RawNotation>,
}

fn any() -> String {
    "*".to_owned()
}

fn all_repositories() -> Vec<String> {
    vec!["**".to_owned()]
}

/// A public key (PEM), given as a value, a file or an environment variable.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    /// Shown as the signer ("verified by ci-release, key release-2025"). Default: `key <n>`.
    pub name: Option<String>,
    pub public_key: Option<String>,
    pub public_key_file: Option<PathBuf>,
    pub public_key_env: Option<String>,
}

/// A keyless signer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeyless {
    /// The OIDC issuer, exactly (`https://token.actions.githubusercontent.com`).
    pub issuer: String,
    /// The certificate identity (its SAN), exactly…
    pub identity: Option<String>,
    /// …or a glob over it (`*` stays between `/`, `**` crosses them)…
    pub identity_glob: Option<String>,
    /// …or a regular expression the whole identity must match.
    pub identity_regex: Option<String>,
    /// A verified transparency-log entry is required (default true; false accepts a signing
    /// time from a timestamp authority alone).
    pub require_tlog: Option<bool>,
    /// The certificate's embedded SCT must verify against the trusted root's CT logs (default
    /// true).
    pub require_sct: Option<bool>,
}

/// Notary Project signatures: a trust store of CA certificates, the identities trusted, and
/// how strictly (Notation's `signatureVerification` levels).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotation {
    /// `strict` (default), `permissive`, `audit` or `skip`.
    pub verification: Option<String>,
    /// CA certificates (PEM, one or more), as a value, a file or an environment variable.
    pub trust_store: Option<String>,
    pub trust_store_file: Option<PathBuf>,
    pub trust_store_env: Option<String>,
    /// `"*"`, or `"x509.subject: C=US, O=Acme, CN=release"`: every attribute given must be in
    /// the signing certificate's subject.
    #[serde(default)]
    pub trusted_identities: Vec<String>,
}

/// Where a value is, for the caller to read ([`Material`]).
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    Value(&'a str),
    File(&'a std::path::Path),
    Env(&'a str),
}

/// Reads a value where it is: the text, or why it cannot be read.
pub type Material<'a> = &'a dyn Fn(Source<'_>) -> Result<String, String>;

/// The sigstore instance whose certificates and logs a policy trusts.
pub struct Root {
    /// `public-good`, `github`, `none` or the file's path.
    pub name: String,
    pub(crate) verifier: sigstore_verify::Verifier,
}

impl std::fmt::Debug for Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Root").field("name", &self.name).finish_non_exhaustive()
    }
}

/// A trusted cosign public key.
#[derive(Clone, Debug)]
pub struct CosignKey {
    pub name: String,
    pub(crate) key: DerPublicKey,
    pub algorithm: KeyAlgorithm,
}

/// How a keyless signer's certificate identity is matched.
#[derive(Clone, Debug)]
pub enum IdentityMatch {
    Exact(String),
    Glob(String, GlobMatcher),
    Regex(String, regex::Regex),
}

impl IdentityMatch {
    pub fn matches(&self, identity: &str) -> bool {
        match self {
            IdentityMatch::Exact(expected) => expected == identity,
            IdentityMatch::Glob(_, glob) => glob.is_match(identity),
            IdentityMatch::Regex(_, regex) => regex.is_match(identity),
        }
    }
}

impl std::fmt::Display for IdentityMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdentityMatch::Exact(s) => write!(f, "{s}"),
            IdentityMatch::Glob(s, _) => write!(f, "{s} (glob)"),
            IdentityMatch::Regex(s, _) => write!(f, "{s} (regex)"),
        }
    }
}

/// A trusted keyless signer.
#[derive(Clone, Debug)]
pub struct Keyless {
    pub issuer: String,
    pub identity: IdentityMatch,
    pub require_tlog: bool,
    pub require_sct: bool,
}

/// Notation's `signatureVerification` levels: which failures count, and which are only noted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Everything enforced: integrity, authenticity (chain and identity), the certificate's
    /// validity at signing time, the signature's expiry.
    Strict,
    /// Integrity and authenticity enforced; expiry and certificate validity only noted.
    Permissive,
    /// Integrity enforced; everything else only noted (to watch before enforcing).
    Audit,
    /// Notary Project signatures are not checked under this policy.
    Skip,
}

impl Level {
    pub fn key(self) -> &'static str {
        match self {
            Level::Strict => "strict",
            Level::Permissive => "permissive",
            Level::Audit => "audit",
            Level::Skip => "skip",
        }
    }
}

/// A distinguished name's attributes as `(type, value)`, types upper-cased (`CN`, `O`…).
pub type Dn = Vec<(String, String)>;

/// A trusted Notary Project identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotationIdentity {
    Any,
    /// Every attribute must be in the signing certificate's subject.
    Subject(Dn),
}

/// The Notary Project part of a policy.
#[derive(Clone, Debug)]
pub struct Notation {
    pub level: Level,
    /// The trust store's CA certificates (DER), anchors of every chain.
    pub(crate) trust_store: Vec<Vec<u8>>,
    pub identities: Vec<NotationIdentity>,
}

/// One validated trust policy.
#[derive(Debug)]
pub struct TrustPolicy {
    pub name: String,
    pub registry: String,
    pub repositories: Vec<String>,
    registry_glob: GlobMatcher,
    repository_globs: GlobSet,
    pub root: Arc<Root>,
    pub keys: Vec<CosignKey>,
    pub require_tlog_for_keys: bool,
    pub keyless: Vec<Keyless>,
    pub notation: Option<Notation>,
}

impl TrustPolicy {
    /// Whether the policy applies to this repository of this registry.
    pub fn covers(&self, registry: &str, repository: &str) -> bool {
        self.registry_glob.is_match(registry) && self.repository_globs.is_match(repository)
    }
}

/// Every trust policy of the configuration.
#[derive(Debug, Default, Clone)]
pub struct TrustPolicies {
    policies: Vec<Arc<TrustPolicy>>,
}

impl TrustPolicies {
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    pub fn all(&self) -> &[Arc<TrustPolicy>] {
        &self.policies
    }

    /// The policies that apply to this repository, in configuration order.
    pub fn covering(&self, registry: &str, repository: &str) -> Vec<Arc<TrustPolicy>> {
        self.policies.iter().filter(|p| p.covers(registry, repository)).cloned().collect()
    }
}

/// Validates `raw` against the configured registries, reading keys, roots and trust stores
/// through `material`. Every mistake is reported, each prefixed with where it is
/// (`trust_policies[0].cosign_keys[1]: …`).
pub fn build(raw: &[RawTrustPolicy], registries: &[&str], material: Material<'_>) -> Result<TrustPolicies, Vec<String>> {
    crate::provider::install();
    let mut errors = Vec::new();
    let mut roots: HashMap<String, Arc<Root>> = HashMap::new();
    let mut policies = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (i, p) in raw.iter().enumerate() {
        let at = format!("trust_policies[{i}]");
        let before = errors.len();
        if p.name.trim().is_empty() {
            errors.push(format!("{at}.name: is empty; every policy is named in the results it gives"));
        } else if !names.insert(p.name.clone()) {
            errors.push(format!("{at}.name: {:?} is used twice", p.name));
        }
        let registry_glob = match portolan_access::validate::compile_pattern(&p.registry) {
            Ok(glob) => {
                let m = glob.compile_matcher();
                if !registries.iter().any(|r| m.is_match(r)) {
                    errors.push(if registries.is_empty() {
                        format!("{at}.registry: {:?} matches no registry: none are configured", p.registry)
                    } else {
                        format!("{at}.registry: {:?} matches none of the configured registries ({})", p.registry, registries.join(", "))
                    });
                }
                Some(m)
            }
            Err(message) => {
                errors.push(format!("{at}.registry: {message}"));
                None
            }
        };
        if p.repositories.is_empty() {
            errors.push(format!("{at}.repositories: is empty, so the policy would cover nothing; leave it out to cover every repository"));
        }
        let mut set = GlobSetBuilder::new();
        for (j, pattern) in p.repositories.iter().enumerate() {
            match portolan_access::validate::compile_pattern(pattern) {
                Ok(glob) => {
                    set.add(glob);
                }
                Err(message) => errors.push(format!("{at}.repositories[{j}]: {message}")),
            }
        }
        let repository_globs = set.build().map_err(|e| errors.push(format!("{at}.repositories: {e}"))).ok();
        if p.cosign_keys.is_empty() && p.keyless.is_empty() && p.notation.is_none() {
            errors.push(format!("{at}: trusts nothing: give cosign_keys, keyless or notation"));
        }
        let root = root_of(p, &at, &mut roots, material, &mut errors);
        if p.require_tlog_for_keys && root.as_ref().is_some_and(|r| r.name == "none") {
            errors.push(format!("{at}.require_tlog_for_keys: needs a trusted_root with a transparency log (it is \"none\")"));
        }
        let keys: Vec<CosignKey> = p
            .cosign_keys
            .iter()
            .enumerate()
            .filter_map(|(j, k)| key_of(k, j, &format!("{at}.cosign_keys[{j}]"), material, &mut errors))
            .collect();
        let keyless: Vec<Keyless> =
            p.keyless.iter().enumerate().filter_map(|(j, k)| keyless_of(k, &format!("{at}.keyless[{j}]"), &mut errors)).collect();
        if !p.keyless.is_empty() && root.as_ref().is_some_and(|r| r.name == "none") {
            errors.push(format!("{at}.keyless: needs a trusted_root with a certificate authority (it is \"none\")"));
        }
        let notation = p.notation.as_ref().and_then(|n| notation_of(n, &format!("{at}.notation"), material, &mut errors));
        if errors.len() > before {
            continue;
        }
        let (Some(registry_glob), Some(repository_globs), Some(root)) = (registry_glob, repository_globs, root) else { continue };
        policies.push(Arc::new(TrustPolicy {
            name: p.name.clone(),
            registry: p.registry.clone(),
            repositories: p.repositories.clone(),
            registry_glob,
            repository_globs,
            root,
            keys,
            require_tlog_for_keys: p.require_tlog_for_keys,
            keyless,
            notation,
        }));
    }
    if errors.is_empty() { Ok(TrustPolicies { policies }) } else { Err(errors) }
}

/// Reads a value given as at most one of value, `_file` and `_env` (`field` names them).
fn one_of(
    field: &str,
    value: Option<&str>,
    file: Option<&std::path::Path>,
    env: Option<&str>,
    material: Material<'_>,
) -> Result<Option<String>, String> {
    let given = [value.is_some(), file.is_some(), env.is_some()].iter().filter(|x| **x).count();
    if given > 1 {
        return Err(format!("give only one of {field}, {field}_file and {field}_env"));
    }
    let source = match (value, file, env) {
        (Some(v), _, _) => Source::Value(v),
        (_, Some(f), _) => Source::File(f),
        (_, _, Some(e)) => Source::Env(e),
        _ => return Ok(None),
    };
    material(source).map(Some)
}

/// The instance a policy trusts, shared by every policy naming the same one.
fn root_of(
    p: &RawTrustPolicy,
    at: &str,
    roots: &mut HashMap<String, Arc<Root>>,
    material: Material<'_>,
    errors: &mut Vec<String>,
) -> Option<Arc<Root>> {
    let (name, json) = match (&p.trusted_root, &p.trusted_root_file) {
        (Some(_), Some(_)) => {
            errors.push(format!("{at}: give only one of trusted_root and trusted_root_file"));
            return None;
        }
        (_, Some(file)) => {
            let name = file.display().to_string();
            if let Some(root) = roots.get(&name) {
                return Some(root.clone());
            }
            match material(Source::File(file)) {
                Ok(json) => (name, json),
                Err(e) => {
                    errors.push(format!("{at}.trusted_root_file: {e}"));
                    return None;
                }
            }
        }
        (named, None) => {
            let name = named.clone().unwrap_or_else(|| "public-good".to_owned());
            if let Some(root) = roots.get(&name) {
                return Some(root.clone());
            }
            let json = match name.as_str() {
                "public-good" => sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT.to_owned(),
                "github" => sigstore_trust_root::SIGSTORE_GITHUB_TRUSTED_ROOT.to_owned(),
                "none" => EMPTY_ROOT.to_owned(),
                other => {
                    errors.push(format!(
                        "{at}.trusted_root: {other:?} is not a built-in root (public-good, github or none); give a file as trusted_root_file"
                    ));
                    return None;
                }
            };
            (name, json)
        }
    };
    let verifier = TrustedRoot::from_json(&json)
        .map_err(|e| format!("not a sigstore trusted_root.json ({e})"))
        .and_then(|root| sigstore_verify::Verifier::new(&root).map_err(|e| format!("the trusted root cannot be used ({e})")));
    match verifier {
        Ok(verifier) => {
            let root = Arc::new(Root { name: name.clone(), verifier });
            roots.insert(name, root.clone());
            Some(root)
        }
        Err(e) => {
            let field = if p.trusted_root_file.is_some() { "trusted_root_file" } else { "trusted_root" };
            errors.push(format!("{at}.{field}: {e}"));
            None
        }
    }
}

/// A root that trusts no authority and no log: for policies of keys without transparency logs.
const EMPTY_ROOT: &str = r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[],"certificateAuthorities":[],"ctlogs":[],"timestampAuthorities":[]}"#;

fn key_of(raw: &RawKey, index: usize, at: &str, material: Material<'_>, errors: &mut Vec<String>) -> Option<CosignKey> {
    let pem = match one_of("public_key", raw.public_key.as_deref(), raw.public_key_file.as_deref(), raw.public_key_env.as_deref(), material)
    {
        Ok(Some(pem)) => pem,
        Ok(None) => {
            errors.push(format!("{at}: give public_key, public_key_file or public_key_env"));
            return None;
        }
        Err(e) => {
            errors.push(format!("{at}: {e}"));
            return None;
        }
    };
    let name = raw.name.clone().unwrap_or_else(|| format!("key {}", index + 1));
    let key = match DerPublicKey::from_pem(pem.trim()) {
        Ok(key) => key,
        Err(_) => {
            errors.push(format!("{at}: not a PEM public key (-----BEGIN PUBLIC KEY-----, as `cosign public-key` prints it)"));
            return None;
        }
    };
    match KeyAlgorithm::from_spki(&key) {
        Ok(algorithm @ (KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 | KeyAlgorithm::Ed25519)) => {
            Some(CosignKey { name, key, algorithm })
        }
        Ok(KeyAlgorithm::Rsa) => {
            // RustCrypto's rsa reads keys of up to 4096 bits.
            match sigstore_crypto::VerificationKey::from_spki(&key) {
                Ok(k) if rsa_bits(k.as_bytes()).is_some_and(|b| (2048..=4096).contains(&b)) => {
                    Some(CosignKey { name, key, algorithm: KeyAlgorithm::Rsa })
                }
                _ => {
                    errors.push(format!("{at}: an RSA key must have 2048 to 4096 bits"));
                    None
                }
            }
        }
        Ok(other) => {
            errors.push(format!("{at}: unknown algorithm {other:?}: keys are ECDSA P-256 or P-384, Ed25519 or RSA"));
            None
        }
        Err(e) => {
            errors.push(format!("{at}: unknown algorithm ({e}): keys are ECDSA P-256 or P-384, Ed25519 or RSA"));
            None
        }
    }
}

pub(crate) fn rsa_bits(pkcs1: &[u8]) -> Option<usize> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::traits::PublicKeyParts;
    rsa::RsaPublicKey::from_pkcs1_der(pkcs1).ok().map(|k| k.n().bits())
}

fn keyless_of(raw: &RawKeyless, at: &str, errors: &mut Vec<String>) -> Option<Keyless> {
    let before = errors.len();
    if raw.issuer.trim().is_empty() {
        errors.push(format!("{at}.issuer: is empty; name the OIDC issuer, e.g. https://token.actions.githubusercontent.com"));
    }
    let given = [&raw.identity, &raw.identity_glob, &raw.identity_regex].iter().filter(|x| x.is_some()).count();
    if given != 1 {
        errors.push(format!("{at}: give exactly one of identity, identity_glob and identity_regex"));
    }
    let identity = match (&raw.identity, &raw.identity_glob, &raw.identity_regex) {
        (Some(exact), None, None) if !exact.is_empty() => Some(IdentityMatch::Exact(exact.clone())),
        (None, Some(glob), None) => match portolan_access::validate::compile_pattern(glob) {
            Ok(g) => Some(IdentityMatch::Glob(glob.clone(), g.compile_matcher())),
            Err(e) => {
                errors.push(format!("{at}.identity_glob: {e}"));
                None
            }
        },
        (None, None, Some(re)) => match regex::RegexBuilder::new(&format!("^(?:{re})$")).size_limit(MAX_IDENTITY_REGEX).build() {
            Ok(r) => Some(IdentityMatch::Regex(re.clone(), r)),
            Err(e) => {
                errors.push(format!("{at}.identity_regex: {re:?} is not a regular expression Portolan can use ({e})"));
                None
            }
        },
        (Some(_), None, None) => {
            errors.push(format!("{at}.identity: is empty"));
            None
        }
        _ => None,
    };
    if errors.len() > before {
        return None;
    }
    Some(Keyless {
        issuer: raw.issuer.clone(),
        identity: identity?,
        require_tlog: raw.require_tlog.unwrap_or(true),
        require_sct: raw.require_sct.unwrap_or(true),
    })
}

fn notation_of(raw: &RawNotation, at: &str, material: Material<'_>, errors: &mut Vec<String>) -> Option<Notation> {
    let before = errors.len();
    let level = match raw.verification.as_deref().unwrap_or("strict") {
        "strict" => Level::Strict,
        "permissive" => Level::Permissive,
        "audit" => Level::Audit,
        "skip" => Level::Skip,
        other => {
            errors.push(format!("{at}.verification: {other:?} is not strict, permissive, audit or skip"));
            Level::Strict
        }
    };
    let pem = match one_of(
        "trust_store",
        raw.trust_store.as_deref(),
        raw.trust_store_file.as_deref(),
        raw.trust_store_env.as_deref(),
        material,
    ) {
        Ok(pem) => pem,
        Err(e) => {
            errors.push(format!("{at}: {e}"));
            None
        }
    };
    let mut trust_store = Vec::new();
    match pem {
        Some(pem) => match crate::notation::certificates_of_pem(&pem) {
            Ok(certs) if certs.is_empty() => {
                errors.push(format!("{at}.trust_store: holds no certificate (PEM, -----BEGIN CERTIFICATE-----)"))
            }
            Ok(certs) if certs.len() > MAX_TRUST_STORE => {
                errors.push(format!("{at}.trust_store: holds more than {MAX_TRUST_STORE} certificates"))
            }
            Ok(certs) => {
                for (n, der) in certs.into_iter().enumerate() {
                    match crate::notation::check_anchor(&der) {
                        Ok(()) => trust_store.push(der),
                        Err(e) => errors.push(format!("{at}.trust_store: certificate {}: {e}", n + 1)),
                    }
                }
            }
            Err(e) => errors.push(format!("{at}.trust_store: {e}")),
        },
        None if level != Level::Skip => {
            errors.push(format!("{at}: give the trust store's CA certificates as trust_store, trust_store_file or trust_store_env"))
        }
        None => {}
    }
    let mut identities = Vec::new();
    if raw.trusted_identities.is_empty() && level != Level::Skip {
        errors.push(format!("{at}.trusted_identities: is empty; give \"*\" or \"x509.subject: C=…, O=…, CN=…\""));
    }
    for (j, entry) in raw.trusted_identities.iter().enumerate() {
        match parse_identity(entry) {
            Ok(identity) => identities.push(identity),
            Err(e) => errors.push(format!("{at}.trusted_identities[{j}]: {e}")),
        }
    }
    (errors.len() == before).then_some(Notation { level, trust_store, identities })
}

/// `*` or `x509.subject: <DN>`, as in Notation's trust policy.
pub fn parse_identity(entry: &str) -> Result<NotationIdentity, String> {
    let entry = entry.trim();
    if entry == "*" {
        return Ok(NotationIdentity::Any);
    }
    let Some(dn) = entry.strip_prefix("x509.subject:") else {
        return Err(format!("{entry:?} must be \"*\" or start with \"x509.subject:\""));
    };
    let dn = parse_dn(dn)?;
    if dn.is_empty() {
        return Err(format!("{entry:?} names no attribute"));
    }
    Ok(NotationIdentity::Subject(dn))
}

/// `C=US, O=Acme, CN=release` (commas inside a value written `\,`), as attributes.
pub fn parse_dn(text: &str) -> Result<Dn, String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ',' | '+' => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    let mut dn = Vec::new();
    for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let Some((kind, value)) = part.split_once('=') else {
            return Err(format!("{part:?} is not TYPE=value"));
        };
        let kind = kind.trim().to_ascii_uppercase();
        if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
            return Err(format!("{part:?}: {kind:?} is not an attribute type"));
        }
        if dn.iter().any(|(k, _): &(String, String)| *k == kind) {
            return Err(format!("{kind} is given twice"));
        }
        dn.push((kind, value.trim().to_owned()));
    }
    Ok(dn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguished_names_are_read_as_attributes() {
        assert_eq!(
            parse_dn("C=US, ST=WA, O=Acme\\, Inc., CN=release").unwrap(),
            vec![
                ("C".to_owned(), "US".to_owned()),
                ("ST".to_owned(), "WA".to_owned()),
                ("O".to_owned(), "Acme, Inc.".to_owned()),
                ("CN".to_owned(), "release".to_owned())
            ]
        );
        assert!(parse_dn("C=US, C=DE").unwrap_err().contains("twice"));
        assert!(parse_dn("nonsense").unwrap_err().contains("TYPE=value"));
        assert_eq!(parse_identity("*").unwrap(), NotationIdentity::Any);
        assert!(parse_identity("CN=x").unwrap_err().contains("x509.subject:"));
    }
}
