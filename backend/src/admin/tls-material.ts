/**
 * The X.509 material for mutual TLS between tills and the backend, made by the admin tool:
 *
 *   backend CA          self-signed, ECDSA P-256; signs the two kinds of certificate below
 *   server certificate  the backend's (SAN: 127.0.0.1, localhost and any configured names; serverAuth)
 *   client certificates one per terminal: CN=<terminal id>, OU=<merchant id>,
 *                       SAN URI urn:bluetill:terminal:<terminal id> (clientAuth)
 *
 * Each terminal certificate is recorded in the registry (terminal_certificates) by fingerprint;
 * the server accepts only recorded, unrevoked certificates (see adapters/grpc/terminal-caller.ts).
 */
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
// @peculiar/x509 needs a Reflect metadata polyfill loaded before it (its README).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { TERMINAL_URI_PREFIX } from '../adapters/grpc/terminal-caller';
import { TlsMaterialError } from '../adapters/tls-files';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[1]); // the DOM's Crypto type, as @peculiar/x509 declares it
// Node's Web Crypto types (not the DOM's: this package compiles without the DOM library).
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 3600_000;

/** A certificate and its private key, both PEM (PKCS#8 for the key). */
export interface PemPair {
  readonly cert: string;
  readonly key: string;
}

export interface IssuedTerminalCertificate extends PemPair {
  readonly terminalId: string;
  /** SHA-256 of the DER, as node:crypto prints it (AB:CD:…). */
  readonly fingerprint: string;
  readonly serial: string;
  readonly notAfter: number;
}

const serial = () => {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive INTEGER
  return b.toString('hex');
};

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key as webcrypto.CryptoKey));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    .export({ format: 'pem', type: 'pkcs8' })
    .toString();
}

async function loadCa(ca: PemPair): Promise<{ cert: x509.X509Certificate; key: CryptoKey }> {
  const der = createPrivateKey(ca.key).export({ format: 'der', type: 'pkcs8' });
  const key = (await webcrypto.subtle.importKey('pkcs8', der, ALG, false, ['sign'])) as CryptoKey;
  return { cert: new x509.X509Certificate(ca.cert), key };
}

/** The backend CA: self-signed, CA:TRUE with path length 0, valid `years` (default 10). */
export async function createBackendCa(
  o: { now?: number; years?: number; name?: string } = {},
): Promise<PemPair> {
  const now = o.now ?? Date.now();
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${o.name ?? 'bluetill backend CA'}, O=bluetill`,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + (o.years ?? 10) * 365 * DAY_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

async function issueLeaf(
  ca: PemPair,
  o: { subject: string; names: x509.JsonGeneralName[]; usage: string; days: number; now: number },
): Promise<PemPair> {
  const issuer = await loadCa(ca);
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: o.subject,
    issuer: issuer.cert.subject,
    notBefore: new Date(o.now - DAY_MS),
    notAfter: new Date(o.now + o.days * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: issuer.key,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([o.usage], false),
      new x509.SubjectAlternativeNameExtension(o.names, false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.cert),
    ],
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

/** The backend's server certificate: SAN 127.0.0.1, localhost, plus `names` (DNS names or IP addresses). */
export async function issueServerCertificate(
  ca: PemPair,
  o: { names?: readonly string[]; now?: number; days?: number } = {},
): Promise<PemPair> {
  const all = [...new Set(['127.0.0.1', 'localhost', ...(o.names ?? [])])];
  return issueLeaf(ca, {
    subject: 'CN=bluetill backend, O=bluetill',
    names: all.map((n) => ({ type: isIP(n) ? 'ip' : 'dns', value: n })),
    usage: x509.ExtendedKeyUsage.serverAuth,
    days: o.days ?? 2 * 365,
    now: o.now ?? Date.now(),
  });
}

const ID = /^[A-Za-z0-9-]{1,32}$/;

/** A terminal's client certificate: CN=<terminal id>, OU=<merchant id>, SAN URI urn:bluetill:terminal:<terminal id>. */
export async function issueTerminalCertificate(
  ca: PemPair,
  t: { terminalId: string; merchantId: string; now?: number; days?: number },
): Promise<IssuedTerminalCertificate> {
  if (!ID.test(t.terminalId) || !ID.test(t.merchantId))
    throw new TlsMaterialError(
      'tls_certificate_invalid',
      'terminal and merchant ids must be 1-32 letters, digits or dashes',
    );
  const now = t.now ?? Date.now();
  const pair = await issueLeaf(ca, {
    subject: `CN=${t.terminalId}, OU=${t.merchantId}, O=bluetill terminal`,
    names: [{ type: 'url', value: `${TERMINAL_URI_PREFIX}${t.terminalId}` }],
    usage: x509.ExtendedKeyUsage.clientAuth,
    days: t.days ?? 365,
    now,
  });
  const parsed = new X509Certificate(pair.cert);
  return {
    ...pair,
    terminalId: t.terminalId,
    fingerprint: parsed.fingerprint256,
    serial: parsed.serialNumber,
    notAfter: Date.parse(parsed.validTo),
  };
}
