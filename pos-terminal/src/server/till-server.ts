/**
 * `pos-terminal serve`: the cashier UI over HTTP(S) and the TillApi over a WebSocket, on loopback
 * unless TLS is given. Every WebSocket message is size-checked and schema-checked; a bad one gets
 * an error reply and the server keeps serving.
 *
 * Who may connect (the upgrade to /api):
 * - a browser page of this server's own origin (an Origin header naming it exactly): its session
 *   starts signed out and must sign in as a cashier (cashier-auth.ts); pages of other origins are
 *   refused (a page on the internet must not drive the till through the cashier's browser);
 * - a script, which sends no Origin: only with the API token (`authorization: Bearer <token>`,
 *   compared in constant time); without it, 401.
 * A host other than loopback is refused unless the server has a TLS certificate (HTTPS/WSS), so
 * PINs and tokens never cross a network in clear.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Till } from '../common/till';
import type { Catalog } from '../adapters/catalog/catalog';
import { SqliteReceiptStore } from '../adapters/receipt/receipt-store.sqlite';
import type { ReceiptPrinter } from '../adapters/receipt/receipt-printer';
import { ApiError } from '../common/ipc/till-api';
import { wireRequest } from '../common/ipc/schemas';
import { MAX_WS_MESSAGE_BYTES, type WireReply } from '../common/ipc/wire';
import { CashierHost } from '../host/cashier-host';
import { API_TOKEN_PRINCIPAL, type CashierAuth, type CashierSession } from '../host/cashier-auth';
import { buildRenderer, type RendererAssets } from './renderer-bundle';

export interface TillServerOptions {
  readonly till: Till;
  readonly catalog: Catalog;
  /** Cashiers, their sign-in and the scripts' token. */
  readonly auth: CashierAuth;
  /** Default 127.0.0.1. Another host needs `tls`. */
  readonly host?: string;
  /** Serve HTTPS and WSS with this certificate and key (PEM). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** 0 picks a free port. Default 0. */
  readonly port?: number;
  /** Receipt history; default an in-memory store. */
  readonly receipts?: SqliteReceiptStore;
  readonly printer?: ReceiptPrinter | null;
  readonly pdfDir?: string | null;
  readonly probeEveryMs?: number;
  /** The shop's time zone (IANA name), for the history's business day; default the machine's. */
  readonly timeZone?: string;
}

export interface TillServer {
  readonly url: string;
  readonly host: CashierHost;
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<keyof RendererAssets, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export class TillServerError extends Error {
  constructor(
    readonly code: 'insecure_host',
    message: string,
  ) {
    super(message);
    this.name = 'TillServerError';
  }
}

const isLoopback = (h: string) =>
  h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);

/** The most failed sign-ins one connection may make before it is closed. */
const MAX_FAILED_SIGN_INS = 10;

export async function startTillServer(o: TillServerOptions): Promise<TillServer> {
  const bindHost = o.host ?? '127.0.0.1';
  if (!isLoopback(bindHost) && !o.tls)
    throw new TillServerError(
      'insecure_host',
      `refusing to serve on ${bindHost} without TLS: give a certificate (--tls-cert, --tls-key) or keep to loopback`,
    );
  const assets = await buildRenderer();
  const ownsReceipts = !o.receipts;
  const receipts = o.receipts ?? new SqliteReceiptStore(':memory:');
  const host = new CashierHost({
    till: o.till,
    catalog: o.catalog,
    receipts,
    printer: o.printer ?? null,
    pdfDir: o.pdfDir ?? null,
    ...(o.probeEveryMs !== undefined ? { probeEveryMs: o.probeEveryMs } : {}),
    ...(o.timeZone ? { timeZone: o.timeZone } : {}),
  });

  const gated = {
    invoke: (c: string, p: unknown) => host.invoke(c, p),
    saleTotalMinor: (txn: string) => receipts.get(txn)?.receipt.total?.minor,
  };
  const http = o.tls
    ? createTlsServer({ cert: o.tls.cert, key: o.tls.key }, (req, res) => serveAsset(req, res, assets))
    : createServer((req, res) => serveAsset(req, res, assets));
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  let origin = '';

  http.on('upgrade', (req, socket, head) => {
    const from = req.headers.origin;
    if (req.url !== '/api' || (from !== undefined && from !== origin)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\n\r\n');
      return;
    }
    // No Origin: not a browser page. Only a script with the API token.
    const bearer = /^Bearer ([A-Za-z0-9_-]{1,128})$/.exec(req.headers.authorization ?? '')?.[1];
    if (from === undefined && !o.auth.checkToken(bearer)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\n\r\n');
      return;
    }
    const session = o.auth.session(gated, from === undefined ? API_TOKEN_PRINCIPAL : null);
    wss.handleUpgrade(req, socket, head, (ws) => serveSocket(ws, host, session));
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(o.port ?? 0, bindHost, () => resolve());
  });
  const address = http.address() as AddressInfo;
  const hostName = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  origin = `${o.tls ? 'https' : 'http'}://${hostName}:${address.port}`;

  return {
    url: origin,
    host,
    async close() {
      for (const ws of wss.clients) ws.close(1001, 'till stopping');
      await host.close();
      await new Promise<void>((r) => wss.close(() => r()));
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
      if (ownsReceipts) receipts.close();
    },
  };
}

function serveAsset(req: IncomingMessage, res: ServerResponse, assets: RendererAssets): void {
  const path = (req.url ?? '/').split('?')[0];
  const name = (path === '/' ? 'index.html' : path!.slice(1)) as keyof RendererAssets;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', ...SECURITY_HEADERS }).end();
    return;
  }
  if (!Object.hasOwn(CONTENT_TYPES, name)) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS }).end('not found');
    return;
  }
  res
    .writeHead(200, { 'content-type': CONTENT_TYPES[name], ...SECURITY_HEADERS })
    .end(req.method === 'HEAD' ? undefined : assets[name]);
}

function serveSocket(ws: WebSocket, host: CashierHost, session: CashierSession): void {
  const send = (msg: unknown) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  };
  const reply = (r: WireReply) => send(r);
  // Events (the sale, the phones, receipts) go only to a signed-in session.
  let off: (() => void) | null = null;
  const follow = (signedIn: boolean) => {
    if (signedIn && !off) off = host.subscribe((event, payload) => send({ event, payload }));
    if (!signedIn && off) {
      off();
      off = null;
    }
  };
  follow(session.principal !== null);
  session.onChange((p) => follow(p !== null));
  let failedSignIns = 0;
  ws.on('close', () => follow(false));
  ws.on('error', () => ws.terminate());
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const size = Array.isArray(data)
      ? data.reduce((n, b) => n + b.length, 0)
      : (data as Buffer | ArrayBuffer).byteLength;
    if (isBinary)
      return reply({
        id: null,
        ok: false,
        error: { code: 'bad_request', message: 'send text (JSON), not binary' },
      });
    if (size > MAX_WS_MESSAGE_BYTES)
      return reply({
        id: null,
        ok: false,
        error: { code: 'too_large', message: `a message is at most ${MAX_WS_MESSAGE_BYTES} bytes` },
      });
    let json: unknown;
    try {
      json = JSON.parse(
        Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'),
      );
    } catch {
      return reply({ id: null, ok: false, error: { code: 'bad_request', message: 'not JSON' } });
    }
    const envelope = wireRequest.safeParse(json);
    if (!envelope.success) {
      const id = typeof (json as { id?: unknown })?.id === 'number' ? (json as { id: number }).id : null;
      return reply({
        id,
        ok: false,
        error: { code: 'bad_request', message: 'expected { id, channel, payload }' },
      });
    }
    const { id, channel, payload } = envelope.data;
    session.invoke(channel, payload).then(
      (result) => reply({ id, ok: true, result }),
      (error: unknown) => {
        if (error instanceof ApiError)
          reply({ id, ok: false, error: { code: error.code, message: error.message } });
        else reply({ id, ok: false, error: { code: 'internal', message: 'the till could not do that' } });
        if (error instanceof ApiError && channel === 'auth:sign-in' && ++failedSignIns >= MAX_FAILED_SIGN_INS)
          ws.close(1008, 'too many failed sign-ins');
      },
    );
  });
}
