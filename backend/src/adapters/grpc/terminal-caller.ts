/**
 * The caller of a gRPC call under mutual TLS: the terminal named by the client certificate the
 * TLS handshake verified against the backend CA. The certificate must also be one the registry
 * issued to that terminal (by fingerprint) and not revoked; otherwise PERMISSION_DENIED.
 *
 * What the certificate says (fingerprint, terminal id) is read once per TLS connection: HTTP/2
 * forbids TLS renegotiation (Node refuses it on HTTP/2 sockets), so a connection's client
 * certificate cannot change. The registry lookup (unknown, revoked, issued to another terminal)
 * is still made on every call, so a revocation — by the admin tool, from another process —
 * refuses the very next call, on open connections too.
 */
import { X509Certificate } from 'node:crypto';
import { TLSSocket, type PeerCertificate } from 'node:tls';
import type { ServerUnaryCall } from '@grpc/grpc-js';
import type { Caller } from '../../app/caller';
import type { BackendStore } from '../../ports/backend-store';
import { TerminalRefusedError } from './terminal-refusal';

export const TERMINAL_URI_PREFIX = 'urn:bluetill:terminal:';

/** The terminal id a client certificate names: SAN URI urn:bluetill:terminal:<id>, and the same CN. */
export function terminalIdOf(cert: X509Certificate): string | null {
  const uris = (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((n) => n.startsWith(`URI:${TERMINAL_URI_PREFIX}`))
    .map((n) => n.slice(`URI:${TERMINAL_URI_PREFIX}`.length));
  const cns = cert.subject
    .split('\n')
    .filter((l) => l.startsWith('CN='))
    .map((l) => l.slice(3));
  if (uris.length !== 1 || cns.length !== 1 || uris[0] !== cns[0] || !uris[0]) return null;
  return uris[0];
}

/**
 * Parsed client certificates by SHA-256 fingerprint: parsing one (X509Certificate) costs about as
 * much as a whole echo call, and a till presents the same certificate on every call. Only the
 * parse is cached; the registry lookup (unknown, revoked) is still made on every call.
 */
const MAX_CACHED = 4096;
const terminalIds = new Map<string, { fingerprint: string; terminalId: string | null }>();

function parsedPeer(peer: PeerCertificate | undefined): { fingerprint: string; terminalId: string | null } {
  if (!peer?.raw) throw new TerminalRefusedError('no_certificate', 'no client certificate');
  const key = peer.fingerprint256;
  const hit = key ? terminalIds.get(key) : undefined;
  if (hit) return hit;
  const cert = new X509Certificate(peer.raw);
  const parsed = { fingerprint: cert.fingerprint256, terminalId: terminalIdOf(cert) };
  if (key === parsed.fingerprint) {
    if (terminalIds.size >= MAX_CACHED) terminalIds.clear();
    terminalIds.set(key, parsed);
  }
  return parsed;
}

/** The peer certificate's identity per TLS connection (see the file comment): getPeerCertificate costs ~40-100 µs a call. */
const bySocket = new WeakMap<TLSSocket, { fingerprint: string; terminalId: string | null }>();

/**
 * The TLS socket under a grpc-js server call. grpc-js (1.14) exposes only getAuthContext(), which
 * calls getPeerCertificate() on every call; the socket sits at call.call(.nextCall…).stream.session.socket.
 * Undefined when that shape is not there (another grpc-js version): the caller then falls back to
 * getAuthContext(), slower but the same answer. terminal-caller.test.ts checks the shape is found.
 */
export function tlsSocketOf(call: object): TLSSocket | undefined {
  let c = (call as { call?: unknown }).call as
    { nextCall?: unknown; stream?: { session?: { socket?: unknown } } } | undefined;
  for (let depth = 0; depth < 8 && c && typeof c === 'object'; depth++) {
    const socket = c.stream?.session?.socket;
    if (socket instanceof TLSSocket) return socket;
    c = c.nextCall as typeof c;
  }
  return undefined;
}

/** What a verified client certificate says: its SHA-256 fingerprint and the terminal it names (null: none). */
export interface PeerIdentity {
  readonly fingerprint: string;
  readonly terminalId: string | null;
}

/**
 * The client certificate of a grpc-js call, read once per TLS connection (the first half of
 * terminalCallerOf, which the use-case worker's registeredCaller finishes for calls forwarded as
 * bytes). Throws PERMISSION_DENIED without a certificate the handshake verified.
 */
export function peerIdentityOf(call: ServerUnaryCall<unknown, unknown>): PeerIdentity {
  const socket = tlsSocketOf(call);
  if (!socket) return parsedPeer(call.getAuthContext().sslPeerCertificate);
  let identity = bySocket.get(socket);
  if (!identity) {
    // As getAuthContext(): only a certificate the handshake verified against the CA counts.
    identity = parsedPeer(socket.authorized ? socket.getPeerCertificate() : undefined);
    bySocket.set(socket, identity);
  }
  return identity;
}

/** The caller of a grpc-js call: the certificate read once per TLS connection, the registry on every call. */
export function terminalCallerOf(
  call: ServerUnaryCall<unknown, unknown>,
  store: Pick<BackendStore, 'read'>,
): Promise<Caller> {
  return registeredCaller(peerIdentityOf(call), store);
}

/** The caller a certificate identifies, if the registry issued it to that terminal and has not revoked it; else PERMISSION_DENIED. */
export async function registeredCaller(
  { fingerprint, terminalId }: PeerIdentity,
  store: Pick<BackendStore, 'read'>,
): Promise<Caller> {
  if (!terminalId)
    throw new TerminalRefusedError('certificate_no_terminal', 'client certificate names no terminal');
  const row = await store.read((tx) => tx.findTerminalCertificate(fingerprint));
  if (!row)
    throw new TerminalRefusedError(
      'certificate_unknown',
      'client certificate unknown to the registry',
      terminalId,
    );
  if (row.revokedAt !== null)
    throw new TerminalRefusedError('certificate_revoked', 'client certificate revoked', terminalId);
  if (row.terminalId !== terminalId)
    throw new TerminalRefusedError(
      'certificate_other_terminal',
      'client certificate issued to another terminal',
      terminalId,
    );
  return { kind: 'terminal', terminalId };
}
