// Keyless signatures from a local sigstore: npm `@sigstore/mock` (sigstore's own in-process
// Fulcio CA with its CT log, and Rekor transparency log) issues the certificates and log
// entries; this script signs as cosign does and writes what cosign would push.
//
//   node keyless.mjs < request.json > answer.json
//
// Packages are resolved from $PORTOLAN_NODE_MODULES (absolute path of a node_modules directory),
// else from end2end/node_modules of this repository (an ESM `import` ignores NODE_PATH).
//
// Request: { "signatures": [ { "digest": "sha256:…", "reference": "host/repo",
//              "identity": "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main",
//              "issuer": "https://token.actions.githubusercontent.com",
//              "format": "bundle" | "legacy",
//              "expired": false } ] }
//   bundle: cosign v3's image signature, a sigstore bundle v0.3 (DSSE envelope of an in-toto
//           statement with predicate https://sigstore.dev/cosign/sign/v1, a dsse v0.0.1 Rekor
//           entry with inclusion proof and promise);
//   legacy: cosign 2's simple signing with the certificate, chain and Rekor bundle annotations
//           (a hashedrekord v0.0.1 entry);
//   expired: the certificate was issued an hour before the log entry (it lives ten minutes);
//   untrusted_ca: the certificate comes from another CA, not in the trusted root (logged in
//           this instance's Rekor all the same).
//
// Answer: { "trusted_root": <trusted_root.json of this instance>,
//           "signatures": [ { "bundle": {…} } | { "legacy": { "payload": base64, "signature": base64,
//                              "certificate": PEM, "chain": PEM, "rekor_bundle": JSON text } } ] }
// Every run is a new instance (new CA, CT log and Rekor keys): a signature from one run does
// not verify against another run's trusted root.

import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const nodeModules = process.env.PORTOLAN_NODE_MODULES || resolve(here, '../../../end2end/node_modules');

async function load(name) {
  let path;
  try {
    path = createRequire(join(nodeModules, 'resolver.cjs')).resolve(name);
  } catch {
    console.error(`cannot find the npm package ${name} in ${nodeModules}: run scripts/tools.sh node`);
    process.exit(3);
  }
  return import(pathToFileURL(path).href);
}

const mock = await load('@sigstore/mock');

const request = JSON.parse(readFileSync(0, 'utf8'));
const ecKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const sha256 = (data) => createHash('sha256').update(data).digest();
const b64 = (data) => Buffer.from(data).toString('base64');
const pem = (der) => `-----BEGIN CERTIFICATE-----\n${b64(der).match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n`;
const spki = (key) => key.export({ type: 'spki', format: 'der' });

const now = new Date();
const anHourAgo = new Date(now.getTime() - 60 * 60 * 1000);
const rekorUrl = 'https://rekor.portolan.test';

const ctKeys = ecKey();
const caKeys = ecKey();
const rekorKeys = ecKey();
const ctlog = await mock.initializeCTLog(ctKeys);
// One CA key; two CA clocks, so that a certificate can be issued in the past.
const ca = await mock.initializeCA(caKeys, ctlog, now);
const caPast = await mock.initializeCA(caKeys, ctlog, anHourAgo);
const tlog = await mock.initializeTLog(rekorUrl, rekorKeys, now);
const strangerCa = await mock.initializeCA(ecKey(), ctlog, now);

const validFrom = { start: new Date(now.getTime() - 24 * 60 * 60 * 1000).toISOString() };
const trustedRoot = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [{
    baseUrl: rekorUrl,
    hashAlgorithm: 'SHA2_256',
    publicKey: { rawBytes: b64(rekorKeys.publicKey.export({ type: 'spki', format: 'der' })), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: validFrom },
    logId: { keyId: b64(sha256(tlog.publicKey)) },
  }],
  certificateAuthorities: [ca, caPast].map((authority) => ({
    subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
    uri: 'https://fulcio.portolan.test',
    certChain: { certificates: [{ rawBytes: b64(authority.rootCertificate) }] },
    validFor: validFrom,
  })),
  ctlogs: [{
    baseUrl: 'https://ctfe.portolan.test',
    hashAlgorithm: 'SHA2_256',
    publicKey: { rawBytes: b64(ctlog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: validFrom },
    logId: { keyId: b64(ctlog.logID) },
  }],
  timestampAuthorities: [],
};

async function certificate(request, ephemeral) {
  const authority = request.untrusted_ca ? strangerCa : request.expired ? caPast : ca;
  return Buffer.from(await authority.issueCertificate({
    publicKey: spki(ephemeral.publicKey),
    subjectAltName: request.identity,
    extensions: [
      // Fulcio's OIDC issuer: the legacy raw form and the DER one.
      { oid: '1.3.6.1.4.1.57264.1.1', value: request.issuer, legacy: true },
      { oid: '1.3.6.1.4.1.57264.1.8', value: request.issuer },
    ],
  }));
}

/** The one entry of a mock log's answer, as a bundle's tlogEntries item. */
function tlogEntry(logged, kind, withProof) {
  const [entry] = Object.values(logged);
  const item = {
    logIndex: String(entry.logIndex),
    logId: { keyId: b64(Buffer.from(entry.logID, 'hex')) },
    kindVersion: { kind, version: '0.0.1' },
    integratedTime: String(entry.integratedTime),
    inclusionPromise: { signedEntryTimestamp: entry.verification.signedEntryTimestamp },
    canonicalizedBody: entry.body,
  };
  if (withProof) {
    const proof = entry.verification.inclusionProof;
    item.inclusionProof = {
      logIndex: String(proof.logIndex),
      rootHash: b64(Buffer.from(proof.rootHash, 'hex')),
      treeSize: String(proof.treeSize),
      hashes: proof.hashes,
      checkpoint: { envelope: proof.checkpoint },
    };
  }
  return { item, entry };
}

async function bundleSignature(request) {
  const ephemeral = ecKey();
  const cert = await certificate(request, ephemeral);
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: request.reference, digest: { sha256: request.digest.replace(/^sha256:/, '') } }],
    predicateType: 'https://sigstore.dev/cosign/sign/v1',
    predicate: {},
  };
  const payloadType = 'application/vnd.in-toto+json';
  const payload = Buffer.from(JSON.stringify(statement));
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${payloadType.length} ${payloadType} ${payload.length} `), payload]);
  const signature = sign('sha256', pae, ephemeral.privateKey);
  const envelope = { payload: b64(payload), payloadType, signatures: [{ sig: b64(signature), keyid: '' }] };
  const body = {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256(JSON.stringify(envelope)).toString('hex') },
      payloadHash: { algorithm: 'sha256', value: sha256(payload).toString('hex') },
      signatures: [{ signature: b64(signature), verifier: b64(pem(cert)) }],
    },
  };
  const { item } = tlogEntry(await tlog.log(body), 'dsse', true);
  return {
    bundle: {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { certificate: { rawBytes: b64(cert) }, tlogEntries: [item], timestampVerificationData: {} },
      dsseEnvelope: envelope,
    },
  };
}

async function legacySignature(request) {
  const ephemeral = ecKey();
  const cert = await certificate(request, ephemeral);
  const payload = Buffer.from(
    `{"critical":{"identity":{"docker-reference":"${request.reference}"},"image":{"docker-manifest-digest":"${request.digest}"},"type":"cosign container image signature"},"optional":null}`,
  );
  const signature = sign('sha256', payload, ephemeral.privateKey);
  const body = {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: sha256(payload).toString('hex') } },
      signature: { content: b64(signature), publicKey: { content: b64(pem(cert)) } },
    },
  };
  const { entry } = tlogEntry(await tlog.log(body), 'hashedrekord', false);
  const rekorBundle = {
    SignedEntryTimestamp: entry.verification.signedEntryTimestamp,
    Payload: { body: entry.body, integratedTime: entry.integratedTime, logIndex: entry.logIndex, logID: entry.logID },
  };
  return {
    legacy: {
      payload: b64(payload),
      signature: b64(signature),
      certificate: pem(cert),
      chain: pem((request.untrusted_ca ? strangerCa : request.expired ? caPast : ca).rootCertificate),
      rekor_bundle: JSON.stringify(rekorBundle),
    },
  };
}

const signatures = [];
for (const r of request.signatures ?? []) {
  signatures.push(r.format === 'legacy' ? await legacySignature(r) : await bundleSignature(r));
}
process.stdout.write(JSON.stringify({ trusted_root: trustedRoot, signatures }));
