/**
 * Mutual TLS between tills and the backend, against a real server on 127.0.0.1:0 (over SQLite and
 * over PostgreSQL: the registry says which certificates are known and revoked): the client
 * certificate names the caller; no certificate, another CA's, another terminal's, an unknown
 * or a revoked one is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { credentials, status } from '@grpc/grpc-js';
import pino from 'pino';
import { AuthorizationClient } from '@bluetill/protocol';
import {
  fixtureStores,
  startBackendFixture,
  stopStoreServers,
  type StoreFixture,
} from '../../test-support/backend-fixture';
import { createBackendCa, issueTerminalCertificate } from '../../admin/tls-material';
import { tlsPaths } from '../tls-files';
import { startBackend } from '../../main';
import { backendStoreOptions, parseStoreSpec } from '../store-spec';

let f: StoreFixture;
afterAll(stopStoreServers, 30_000);

const ca = () => readFileSync(tlsPaths(f.seed.tlsDir).ca);
const unavailable = { code: status.UNAVAILABLE };
const denied = (details: string) => ({
  code: status.PERMISSION_DENIED,
  details: expect.stringContaining(details),
});

describe.each(fixtureStores)('the TLS listener over %s', (store) => {
  beforeAll(async () => {
    f = await startBackendFixture({ store });
  }, 120_000);
  afterAll(() => f.close());

  describe('mutual TLS', () => {
    it('serves a till presenting its own certificate, and answers health checks over TLS', async () => {
      const ch = await f.challenge('T-0001');
      expect(ch.unpredictableNumber).toHaveLength(4);
      const c = f.clientFor(f.credentialsFor('T-0001'));
      expect(await c.health()).toBe('SERVING');
      expect(await c.health('bluetill.v1.Authorization')).toBe('SERVING');
    });

    it('refuses a connection without a client certificate (handshake fails)', async () => {
      const c = f.clientFor(credentials.createSsl(ca()));
      await expect(c.challenge('T-0001')).rejects.toMatchObject(unavailable);
      await expect(c.health()).rejects.toMatchObject(unavailable);
    });

    it('refuses a plaintext client', async () => {
      await expect(f.clientFor(credentials.createInsecure()).challenge('T-0001')).rejects.toMatchObject(
        unavailable,
      );
    });

    it('refuses a certificate for the same terminal from another CA', async () => {
      const rogue = await createBackendCa({ name: 'bluetill backend CA' }); // same name, other key
      const cert = await issueTerminalCertificate(rogue, { terminalId: 'T-0001', merchantId: 'M-0001' });
      const c = f.clientFor(credentials.createSsl(ca(), Buffer.from(cert.key), Buffer.from(cert.cert)));
      await expect(c.challenge('T-0001')).rejects.toMatchObject(unavailable);
    });

    it('refuses a valid certificate of T-0002 acting for T-0001 (challenge, authorize, settle, lookup)', async () => {
      const t2 = f.clientFor(f.credentialsFor('T-0002'));
      expect((await t2.challenge('T-0002')).unpredictableNumber).toHaveLength(4); // its own id is fine
      await expect(t2.challenge('T-0001')).rejects.toMatchObject(denied('caller certificate'));
      const ch = await f.challenge('T-0001');
      const card = f.card('card-alice');
      await expect(
        t2.authorize({
          terminalId: 'T-0001',
          unpredictableNumber: ch.unpredictableNumber,
          sealedPinBlock: new Uint8Array(),
          card: card.cardData(ch.unpredictableNumber),
        }),
      ).rejects.toMatchObject(denied('caller certificate'));
      const amount = { minor: 100, currency: 'EUR' };
      await expect(
        t2.settle({
          terminalId: 'T-0001',
          terminalTxnId: 'mtls-1',
          merchantId: 'M-0001',
          authorizationRef: 'AUTH-x',
          card: card.cardData(ch.unpredictableNumber),
          amount,
          items: [{ sku: 'x', name: 'X', quantity: 1, unitPriceMinor: 100 }],
          cryptogram: card.arqc(amount, ch.unpredictableNumber),
        }),
      ).rejects.toMatchObject(denied('caller certificate'));
      await expect(t2.getSettlement('T-0001', 'mtls-1')).rejects.toMatchObject(denied('caller certificate'));
    });

    it('refuses a certificate from the backend CA that the registry never recorded', async () => {
      const caPair = {
        cert: readFileSync(tlsPaths(f.seed.tlsDir).ca, 'utf8'),
        key: readFileSync(tlsPaths(f.seed.tlsDir).caKey, 'utf8'),
      };
      const stray = await issueTerminalCertificate(caPair, { terminalId: 'T-0001', merchantId: 'M-0001' });
      const c = f.clientFor(credentials.createSsl(ca(), Buffer.from(stray.key), Buffer.from(stray.cert)));
      await expect(c.challenge('T-0001')).rejects.toMatchObject(denied('unknown'));
    });

    it('refuses a revoked certificate from the next call on, on open and new connections', async () => {
      const open = f.clientFor(f.credentialsFor('T-0003'));
      expect((await open.challenge('T-0003')).unpredictableNumber).toHaveLength(4);
      expect(await f.registry((admin) => admin.revokeTerminalCertificates('T-0003'))).toBe(1);
      await expect(open.challenge('T-0003')).rejects.toMatchObject(denied('revoked'));
      await expect(f.clientFor(f.credentialsFor('T-0003')).challenge('T-0003')).rejects.toMatchObject(
        denied('revoked'),
      );
      expect((await f.challenge('T-0001')).unpredictableNumber).toHaveLength(4); // others unaffected
    });
  });

  describe('insecure mode (explicit, local debugging only)', () => {
    it('serves plaintext only when asked, and says so in the log', async () => {
      const lines: string[] = [];
      const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
      const b = await startBackend({
        ...backendStoreOptions(parseStoreSpec(f.storeSpec)),
        keysPath: f.seed.keysPath,
        masterKey: f.masterKey,
        tls: 'insecure',
        logger,
      });
      try {
        const auth = new AuthorizationClient(b.address, credentials.createInsecure());
        const ch = await new Promise<{ unpredictableNumber: Uint8Array }>((res, rej) =>
          auth.challenge({ terminalId: 'T-0001' }, (e, r) => (e ? rej(e) : res(r))),
        );
        auth.close();
        expect(ch.unpredictableNumber).toHaveLength(4);
        expect(lines.join('')).toContain('WITHOUT TLS');
      } finally {
        await b.close();
      }
    });
  });
});
