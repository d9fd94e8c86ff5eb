/**
 * The caller check per TLS connection, on a real backend over mutual TLS: the client
 * certificate is read once per connection (not once per call), each connection keeps its own
 * terminal, and the registry is still asked on every call (a revocation refuses the next call on
 * the open connection).
 */
import { TLSSocket } from 'node:tls';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  fixtureStores,
  startBackendFixture,
  stopStoreServers,
  type StoreFixture,
} from '../../test-support/backend-fixture';
import { tlsSocketOf } from './terminal-caller';

let f: StoreFixture;
afterAll(stopStoreServers, 30_000);

describe.each(fixtureStores)('the terminal caller over %s', (store) => {
  beforeAll(async () => {
    f = await startBackendFixture({ store });
  }, 120_000);
  afterAll(() => f.close());

  describe('terminal caller per TLS connection', () => {
    it('finds the TLS socket under a grpc-js call (the shape of this grpc-js version)', () => {
      const socket = Object.create(TLSSocket.prototype) as TLSSocket;
      const call = { call: { nextCall: { nextCall: { stream: { session: { socket } } } } } };
      expect(tlsSocketOf(call)).toBe(socket);
      expect(tlsSocketOf({ call: { stream: { session: { socket: {} } } } })).toBeUndefined();
      expect(tlsSocketOf({})).toBeUndefined();
    });

    it('reads the client certificate once per connection, and the registry on every call', async () => {
      const peer = vi.spyOn(TLSSocket.prototype, 'getPeerCertificate');
      const lookups = f.countReads('findTerminalCertificate');
      try {
        const c = f.clientFor(f.credentialsFor('T-0002'));
        await c.challenge('T-0002'); // connects (handshake: both sides read the peer's certificate once)
        peer.mockClear();
        lookups.reset();
        for (let i = 0; i < 5; i++) expect((await c.challenge('T-0002')).unpredictableNumber).toHaveLength(4);
        expect(peer).not.toHaveBeenCalled();
        expect(lookups.calls).toBe(5);
        // Another connection with another certificate is its own caller.
        const t3 = f.clientFor(f.credentialsFor('T-0003'));
        expect((await t3.challenge('T-0003')).unpredictableNumber).toHaveLength(4);
        await expect(t3.challenge('T-0002')).rejects.toMatchObject({
          code: status.PERMISSION_DENIED,
          details: expect.stringContaining('caller certificate'),
        });
        await expect(c.challenge('T-0003')).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
        // Revoked between two calls on the open connection: the next call is refused.
        expect(await f.registry((admin) => admin.revokeTerminalCertificates('T-0002'))).toBe(1);
        await expect(c.challenge('T-0002')).rejects.toMatchObject({
          code: status.PERMISSION_DENIED,
          details: expect.stringContaining('revoked'),
        });
        expect((await t3.challenge('T-0003')).unpredictableNumber).toHaveLength(4);
      } finally {
        peer.mockRestore();
        lookups.restore();
      }
    });
  });
});
