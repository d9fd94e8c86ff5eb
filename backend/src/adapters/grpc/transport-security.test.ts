/**
 * The listeners' TLS and HTTP/2 edge, tried with clients nobody here wrote: `openssl s_client`
 * for the handshake (TLS 1.2 with a CBC suite refused, TLS 1.2 AEAD and TLS 1.3 accepted, ALPN
 * h2) on both ports, and a raw HTTP/2 client (Node's, not grpc-js) for the announced header-list
 * limit and a request with 64 KiB of metadata, which must be refused at once, not left hanging.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { connect, type ClientHttp2Session } from 'node:http2';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { AuthorizationClient, ShopperClient } from '@bluetill/protocol';
import { startBackendFixture, type BackendFixture } from '../../test-support/backend-fixture';
import { tlsPaths } from '../tls-files';
import { MAX_HEADER_LIST_BYTES } from './transport-security';

const run = promisify(execFile);
let f: BackendFixture;
beforeAll(async () => {
  f = await startBackendFixture();
});
afterAll(() => f.close());

const paths = () => tlsPaths(f.seed.tlsDir);
const tillPort = () => f.backend.port;
const shopperPort = () => f.backend.shopperPort!;

/** openssl s_client against a port; resolves to what it printed and whether the handshake completed. */
async function sClient(port: number, args: readonly string[], withClientCert: boolean) {
  const p = paths();
  const cert = withClientCert ? ['-cert', p.terminal('T-0001').cert, '-key', p.terminal('T-0001').key] : [];
  const argv = [
    's_client',
    '-connect',
    `127.0.0.1:${port}`,
    '-servername',
    'localhost',
    '-CAfile',
    p.ca,
    '-alpn',
    'h2',
    ...cert,
    ...args,
  ];
  const child = run('openssl', argv, { timeout: 10_000 });
  child.child.stdin?.end(); // nothing to send: s_client closes after the handshake
  const out = await child.then(
    (r) => r.stdout + r.stderr,
    (e: { stdout?: string; stderr?: string }) => (e.stdout ?? '') + (e.stderr ?? ''),
  );
  const cipher = /Cipher is (\S+)/.exec(out)?.[1];
  return {
    out,
    established: cipher !== undefined && cipher !== '(NONE)',
    cipher,
    alpn: /ALPN protocol: (\S+)/.exec(out)?.[1],
    protocol: /Protocol\s*:\s*(\S+)/.exec(out)?.[1],
  };
}

describe.each([
  ['till port (mutual TLS)', tillPort, true],
  ['shopper port (server TLS)', shopperPort, false],
] as const)('TLS on the %s', (_name, port, clientCert) => {
  it('refuses TLS 1.2 with CBC suites (HTTP/2 forbids them)', async () => {
    for (const suite of [
      'ECDHE-ECDSA-AES128-SHA',
      'ECDHE-ECDSA-AES256-SHA384',
      'ECDHE-ECDSA-AES128-SHA256',
    ]) {
      const r = await sClient(port(), ['-tls1_2', '-cipher', suite], clientCert);
      expect(r.established, `${suite} accepted:\n${r.out}`).toBe(false);
    }
  });

  it('accepts TLS 1.2 with an ECDHE AEAD suite, and TLS 1.3, both with ALPN h2', async () => {
    const t12 = await sClient(port(), ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'], clientCert);
    expect(t12, t12.out).toMatchObject({
      established: true,
      cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256',
      alpn: 'h2',
    });
    const t13 = await sClient(port(), ['-tls1_3'], clientCert);
    expect(t13, t13.out).toMatchObject({ established: true, alpn: 'h2' });
    expect(t13.cipher).toMatch(/^TLS_(AES|CHACHA20)/);
  });

  it('offers no TLS 1.2 suite but ECDHE with AEAD (whatever the client lists first)', async () => {
    const r = await sClient(port(), ['-tls1_2', '-cipher', 'ALL:@SECLEVEL=0'], clientCert);
    expect(r.established, r.out).toBe(true);
    expect(r.cipher).toMatch(/^ECDHE-ECDSA-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/);
  });
});

/** SETTINGS the server announces, read with Node's own HTTP/2 client. */
async function serverSettings(port: number, clientCert: boolean): Promise<{ maxHeaderListSize?: number }> {
  const p = paths();
  const session: ClientHttp2Session = connect(`https://localhost:${port}`, {
    ca: readFileSync(p.ca),
    ...(clientCert
      ? { cert: readFileSync(p.terminal('T-0001').cert), key: readFileSync(p.terminal('T-0001').key) }
      : {}),
  });
  try {
    return await new Promise((resolve, reject) => {
      session.once('remoteSettings', (s) => resolve(s));
      session.once('error', reject);
    });
  } finally {
    session.close();
  }
}

const bigMetadata = () => {
  const md = new Metadata();
  for (let i = 0; i < 16; i++) md.set(`x-pad-${i}`, 'a'.repeat(4096)); // 64 KiB
  return md;
};

describe('request headers (metadata) over the limit', () => {
  it('the limit is announced in SETTINGS on both ports', async () => {
    expect((await serverSettings(tillPort(), true)).maxHeaderListSize).toBe(MAX_HEADER_LIST_BYTES);
    expect((await serverSettings(shopperPort(), false)).maxHeaderListSize).toBe(MAX_HEADER_LIST_BYTES);
  });

  it('64 KiB of metadata is refused within a second on both ports, and the server keeps serving', async () => {
    const till = new AuthorizationClient(`localhost:${tillPort()}`, f.credentialsFor('T-0001'));
    const shopper = new ShopperClient(
      `localhost:${shopperPort()}`,
      (await import('@grpc/grpc-js')).credentials.createSsl(readFileSync(paths().ca)),
    );
    try {
      const deadline = () => new Date(Date.now() + 10_000);
      const timed = (fn: (cb: (e: ServiceError | null) => void) => void) =>
        new Promise<{ ms: number; code: number | undefined }>((resolve) => {
          const t0 = Date.now();
          fn((e) => resolve({ ms: Date.now() - t0, code: e?.code }));
        });
      // warm both channels so the timing is the refusal's, not the handshake's
      await timed((cb) =>
        till.challenge({ terminalId: 'T-0001' }, new Metadata(), { deadline: deadline() }, cb),
      );
      await timed((cb) => shopper.challenge({}, new Metadata(), { deadline: deadline() }, cb));
      const onTill = await timed((cb) =>
        till.challenge({ terminalId: 'T-0001' }, bigMetadata(), { deadline: deadline() }, cb),
      );
      const onShopper = await timed((cb) =>
        shopper.challenge({}, bigMetadata(), { deadline: deadline() }, cb),
      );
      console.log(
        JSON.stringify({
          oversizedMetadata: {
            tillMs: onTill.ms,
            tillCode: onTill.code,
            shopperMs: onShopper.ms,
            shopperCode: onShopper.code,
          },
        }),
      );
      for (const r of [onTill, onShopper]) {
        expect(r.code).toBe(status.RESOURCE_EXHAUSTED);
        expect(r.ms).toBeLessThan(1000);
      }
      const ok = await timed((cb) =>
        till.challenge({ terminalId: 'T-0001' }, new Metadata(), { deadline: deadline() }, cb),
      );
      expect(ok.code).toBeUndefined();
      const okShopper = await timed((cb) =>
        shopper.challenge({}, new Metadata(), { deadline: deadline() }, cb),
      );
      expect(okShopper.code).toBeUndefined();
    } finally {
      till.close();
      shopper.close();
    }
  });
});
