/**
 * What grpc-js settles before any handler runs, counted: TLS handshakes that fail, HTTP/2
 * sessions that fail and frames the HTTP/2 layer cannot send, and calls to a method no service
 * here has (UNIMPLEMENTED). (A stream whose header list is over the announced limit is refused
 * inside nghttp2 and never reaches Node: the client sees the refusal, no event here does.) grpc-js exposes none of these, so the server instance's
 * own two steps are wrapped: `createHttp2Server` (to listen to the Node HTTP/2 server it makes)
 * and `_retrieveHandler` (null for an unknown path). Both are grpc-js internals; the transport
 * test checks each count, so a grpc-js that renames them fails a test rather than going quiet.
 */
import type { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Http2SecureServer, Http2Server, ServerHttp2Session } from 'node:http2';

export type TransportEvent = 'tls_handshake_failed' | 'not_h2' | 'session_error' | 'frame_error';

export interface TransportObserver {
  /** A connection or stream refused before it became a call. */
  refused(event: TransportEvent): void;
  /** A call to a path no service of this server has; answered UNIMPLEMENTED. */
  unimplemented(): void;
}

interface Internals {
  createHttp2Server(credentials: ServerCredentials): Http2Server | Http2SecureServer;
  _retrieveHandler(path: string): unknown;
}

export function observeTransport(server: Server, observer: TransportObserver): void {
  const internals = server as unknown as Internals;
  if (typeof internals.createHttp2Server !== 'function' || typeof internals._retrieveHandler !== 'function')
    throw new TypeError(
      'observeTransport: this grpc-js has no createHttp2Server/_retrieveHandler to observe',
    );
  const create = internals.createHttp2Server.bind(server);
  internals.createHttp2Server = (credentials) => {
    const http2Server = create(credentials);
    http2Server.on('tlsClientError', () => observer.refused('tls_handshake_failed'));
    http2Server.on('sessionError', () => observer.refused('session_error'));
    // A TLS client that did not negotiate h2 by ALPN (an HTTP/1.1 client, a plain TLS probe).
    http2Server.on('unknownProtocol', (socket: { destroy(): void }) => {
      observer.refused('not_h2');
      socket.destroy();
    });
    http2Server.on('session', (session: ServerHttp2Session) => {
      session.on('frameError', () => observer.refused('frame_error'));
    });
    return http2Server;
  };
  const retrieve = internals._retrieveHandler.bind(server);
  internals._retrieveHandler = (path) => {
    const handler = retrieve(path);
    if (handler === null) observer.unimplemented();
    return handler;
  };
}
