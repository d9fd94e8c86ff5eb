/**
 * The backend's edge against clients nobody here wrote: a raw HTTP/2 client (Node's own, framing
 * gRPC by hand) and openssl s_client, on a real backend over TLS on 127.0.0.1:0, with and
 * without the use-case worker.
 *
 * - Deadlines: calls whose deadline passes before their work runs write nothing (no challenge
 *   row) and are answered and counted DEADLINE_EXCEEDED, not OK.
 * - Health: grpc.health.v1.Health answers SERVING for itself and for every service reflection
 *   lists; bytes that are not protobuf get INVALID_ARGUMENT, not SERVING.
 * - Metrics: UNIMPLEMENTED calls and failed TLS handshakes are counted; `promtool check metrics`
 *   passes the exposition clean; HEAD /metrics answers 200 with no body.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { status } from '@grpc/grpc-js';
import { health } from '@bluetill/protocol';
import {
  fixtureStores,
  startBackendFixture,
  stopStoreServers,
  type BackendFixture,
  type StoreFixture,
} from '../../test-support/backend-fixture';
import { BackendMetrics } from '../metrics/backend-metrics';
import { startMetricsServer, type MetricsServer } from '../metrics/metrics-server';
import { tlsPaths } from '../tls-files';

const run = promisify(execFile);

interface RawAnswer {
  readonly code: number;
  readonly message: string;
  readonly body: Buffer;
}

/** A gRPC client written here from the HTTP/2 spec up: one session, unary calls with raw message bytes and raw headers. */
class RawGrpc {
  private readonly session: ClientHttp2Session;
  constructor(port: number, tls: { ca: Buffer; cert?: Buffer; key?: Buffer }) {
    this.session = connect(`https://localhost:${port}`, tls);
    this.session.on('error', () => undefined);
  }

  call(path: string, message: Uint8Array, headers: Record<string, string> = {}): Promise<RawAnswer> {
    return new Promise((resolve, reject) => {
      const frame = Buffer.alloc(5 + message.length);
      frame.writeUInt32BE(message.length, 1);
      frame.set(message, 5);
      const stream = this.session.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...headers,
      });
      const chunks: Buffer[] = [];
      let head: IncomingHttpHeaders = {};
      stream.on('response', (h) => (head = h));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('trailers', (t) => (head = { ...head, ...t }));
      stream.on('error', reject);
      stream.on('close', () => {
        const all = Buffer.concat(chunks);
        resolve({
          code: Number(head['grpc-status'] ?? -1),
          message: decodeURIComponent(String(head['grpc-message'] ?? '')),
          body: all.length >= 5 ? all.subarray(5) : all,
        });
      });
      stream.end(frame);
    });
  }

  close(): void {
    this.session.close();
  }
}

const challengeRequest = (terminalId: string) =>
  Buffer.concat([Buffer.from([0x0a, terminalId.length]), Buffer.from(terminalId)]);
const rows = (f: StoreFixture) => f.count('challenges');

afterAll(stopStoreServers, 30_000);

describe.each(
  fixtureStores.flatMap((store) => [
    { store, where: 'on the gRPC thread', worker: false },
    { store, where: 'with the use-case worker', worker: true },
  ]),
)('calls past their deadline over $store ($where)', ({ store, worker }) => {
  let f: StoreFixture;
  let metrics: BackendMetrics;
  beforeAll(async () => {
    metrics = new BackendMetrics();
    f = await startBackendFixture({ store, metrics, worker });
  }, 120_000);
  afterAll(() => f.close());

  it('30 Challenges with a deadline already passed write no row and are answered and counted DEADLINE_EXCEEDED', async () => {
    const p = tlsPaths(f.seed.tlsDir);
    const raw = new RawGrpc(f.backend.port, {
      ca: readFileSync(p.ca),
      cert: readFileSync(p.terminal('T-0001').cert),
      key: readFileSync(p.terminal('T-0001').key),
    });
    try {
      const ok = await raw.call('/bluetill.v1.Authorization/Challenge', challengeRequest('T-0001'));
      expect(ok.code).toBe(status.OK);
      const before = await rows(f);
      // grpc-timeout 1n: the deadline has passed by the time any handler could run.
      const answers = await Promise.all(
        Array.from({ length: 30 }, () =>
          raw.call('/bluetill.v1.Authorization/Challenge', challengeRequest('T-0001'), {
            'grpc-timeout': '1n',
          }),
        ),
      );
      await new Promise((r) => setTimeout(r, 200)); // anything queued has had its turn
      expect(answers.map((a) => a.code)).toEqual(Array(30).fill(status.DEADLINE_EXCEEDED));
      expect(await rows(f)).toBe(before);
      const text = await metrics.text();
      expect(text).toMatch(
        /bluetill_backend_requests_total\{method="Challenge",code="DEADLINE_EXCEEDED"\} 30\b/,
      );
      expect(text).toMatch(/bluetill_backend_requests_total\{method="Challenge",code="OK"\} 1\b/);
    } finally {
      raw.close();
    }
  });
});

// Not about the store: over the default SQLite file.
describe('health, reflection and metrics at the edge', () => {
  let f: BackendFixture;
  let metrics: BackendMetrics;
  let http: MetricsServer;
  let raw: RawGrpc;
  let shopperRaw: RawGrpc;
  beforeAll(async () => {
    metrics = new BackendMetrics({ processMetrics: true });
    f = await startBackendFixture({ metrics });
    http = await startMetricsServer(metrics);
    const p = tlsPaths(f.seed.tlsDir);
    raw = new RawGrpc(f.backend.port, {
      ca: readFileSync(p.ca),
      cert: readFileSync(p.terminal('T-0001').cert),
      key: readFileSync(p.terminal('T-0001').key),
    });
    shopperRaw = new RawGrpc(f.backend.shopperPort!, { ca: readFileSync(p.ca) });
  });
  afterAll(async () => {
    raw.close();
    shopperRaw.close();
    await http.close();
    await f.close();
  });

  const check = (client: RawGrpc, message: Uint8Array) =>
    client.call('/grpc.health.v1.Health/Check', message);
  const checkService = (client: RawGrpc, service: string) =>
    check(client, health.HealthCheckRequest.encode({ service }).finish());
  const servingStatus = (a: RawAnswer) => health.HealthCheckResponse.decode(a.body).status;

  it('the health service answers SERVING for itself and for every service reflection lists, on both listeners', async () => {
    const listed = ['bluetill.v1.Authorization', 'bluetill.v1.Settlement', 'grpc.health.v1.Health']; // reflection.test.ts checks this list
    for (const name of ['', ...listed]) {
      const a = await checkService(raw, name);
      expect(a.code, name).toBe(status.OK);
      expect(servingStatus(a), name).toBe(health.HealthCheckResponse_ServingStatus.SERVING);
    }
    for (const name of ['', 'bluetill.v1.Shopper', 'grpc.health.v1.Health']) {
      const a = await checkService(shopperRaw, name);
      expect(a.code, name).toBe(status.OK);
      expect(servingStatus(a), name).toBe(health.HealthCheckResponse_ServingStatus.SERVING);
    }
    expect((await checkService(raw, 'bluetill.v1.NoSuch')).code).toBe(status.NOT_FOUND);
  });

  it('bytes that are not protobuf get INVALID_ARGUMENT from Health and from a bluetill method, not an answer', async () => {
    const notProtobuf = [
      Buffer.from('hello world'),
      Buffer.alloc(8),
      Buffer.from([0x08]),
      Buffer.from([0x0a, 0x05, 0x61]),
      Buffer.from([0x0b, 0x0c]),
    ];
    for (const b of notProtobuf) {
      expect((await check(raw, b)).code, b.toString('hex')).toBe(status.INVALID_ARGUMENT);
      expect((await check(shopperRaw, b)).code, b.toString('hex')).toBe(status.INVALID_ARGUMENT);
      expect((await raw.call('/bluetill.v1.Authorization/Challenge', b)).code, b.toString('hex')).toBe(
        status.INVALID_ARGUMENT,
      );
    }
    // An empty message is a valid HealthCheckRequest (service ""), and unknown fields are allowed.
    expect((await check(raw, Buffer.alloc(0))).code).toBe(status.OK);
    expect((await check(raw, Buffer.from([0x10, 0x01]))).code).toBe(status.OK);
  });

  it('counts UNIMPLEMENTED calls (without their path as a label) and failed TLS handshakes', async () => {
    const unknown = await raw.call('/bluetill.v1.Authorization/NoSuchMethod', Buffer.alloc(0));
    expect(unknown.code).toBe(status.UNIMPLEMENTED);
    await shopperRaw.call('/x.Y/Z', Buffer.alloc(0));
    // A TLS 1.2 client offering only a CBC suite: refused in the handshake.
    const p = tlsPaths(f.seed.tlsDir);
    const child = run(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${f.backend.shopperPort}`,
        '-tls1_2',
        '-cipher',
        'ECDHE-ECDSA-AES128-SHA',
        '-CAfile',
        p.ca,
      ],
      { timeout: 10_000 },
    );
    child.child.stdin?.end();
    await child.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    const text = await metrics.text();
    expect(text).toMatch(/bluetill_backend_requests_total\{method="unknown",code="UNIMPLEMENTED"\} 2\b/);
    expect(text).toMatch(
      /bluetill_backend_transport_refusals_total\{listener="shopper",reason="tls_handshake_failed"\} 1\b/,
    );
    expect(text).not.toContain('NoSuchMethod');
  });

  it('the exposition passes promtool check metrics clean, and HEAD /metrics is 200 with no body', async () => {
    await f.challenge();
    const body = await (await fetch(http.url)).text();
    const checked = await new Promise<{ code: number; out: string }>((resolve) => {
      const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, out: stdout + stderr }),
      );
      child.stdin!.end(body);
    });
    expect(checked.out).toBe('');
    expect(checked.code).toBe(0);
    expect(body).toContain('bluetill_backend_nodejs_active_resources{');
    const head = await fetch(http.url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toContain('text/plain');
    expect(await head.text()).toBe('');
    expect((await fetch(http.url, { method: 'POST' })).status).toBe(405);
    expect((await fetch(http.url.replace('/metrics', '/other'))).status).toBe(404);
  });
});
