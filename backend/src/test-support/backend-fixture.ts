/** Test fixture: a seeded backend on a temp dir, served on 127.0.0.1:0, with typed promise clients. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import {
  AuthorizationClient, SettlementClient, sealPin, pinSealContext, verifyCertificate, publicKeyFromRaw,
  type AuthorizeRequest, type AuthorizeResponse, type ChallengeResponse, type SettleRequest, type SettleResponse, type CertificateBody,
} from '@bluetill/protocol';
import { seedDemo, type SeededBackend } from '../admin/demo-seed';
import { startBackend, type RunningBackend } from '../adapters/grpc/server';
import { createLogger } from '../adapters/logger';

const call = <Req, Res>(fn: (req: Req, cb: (e: ServiceError | null, r: Res) => void) => unknown) => (req: Req) =>
  new Promise<Res>((resolve, reject) => fn(req, (e, r) => (e ? reject(e) : resolve(r))));

export interface BackendFixture {
  readonly dir: string;
  readonly seed: SeededBackend;
  readonly backend: RunningBackend;
  challenge(terminalId?: string): Promise<ChallengeResponse>;
  authorize(req: AuthorizeRequest): Promise<AuthorizeResponse>;
  settle(req: SettleRequest): Promise<SettleResponse>;
  getSettlement(terminalId: string, terminalTxnId: string): Promise<SettleResponse>;
  /** Challenge + sealed PIN + Authorize for a card, as a till would relay it. */
  authorizeCard(card: { pan: string; expiry: string }, pin: string, terminalId?: string): Promise<{ un: Uint8Array; res: AuthorizeResponse }>;
  close(): Promise<void>;
}

export async function startBackendFixture(): Promise<BackendFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'bluetill-backend-'));
  const seed = seedDemo(dir, ['T-0002']);
  const backend = await startBackend({ dbPath: seed.dbPath, keysPath: seed.keysPath, logger: createLogger('backend', 'silent') });
  const creds = credentials.createInsecure();
  const auth = new AuthorizationClient(backend.address, creds);
  const settlement = new SettlementClient(backend.address, creds);
  const root = publicKeyFromRaw(Buffer.from(seed.trust.cardCompanyRoot, 'base64'));
  const f: BackendFixture = {
    dir, seed, backend,
    challenge: (terminalId = 'T-0001') => call<{ terminalId: string }, ChallengeResponse>(auth.challenge.bind(auth))({ terminalId }),
    authorize: call(auth.authorize.bind(auth)),
    settle: call(auth.settle.bind(auth)),
    getSettlement: (terminalId, terminalTxnId) => call<{ terminalId: string; terminalTxnId: string }, SettleResponse>(settlement.getSettlement.bind(settlement))({ terminalId, terminalTxnId }),
    async authorizeCard(card, pin, terminalId = 'T-0001') {
      const ch = await f.challenge(terminalId);
      const pinKey: CertificateBody = verifyCertificate(ch.pinKeyCertificate, root, { role: 'pin-key', now: Date.now() });
      const sealed = sealPin({ pin, pan: card.pan, pinKey: pinKey.publicKey, pinKeyId: pinKey.subjectId, context: pinSealContext(ch.unpredictableNumber, terminalId) });
      const res = await f.authorize({
        terminalId, unpredictableNumber: ch.unpredictableNumber, sealedPinBlock: sealed,
        card: { pan: card.pan, expiry: card.expiry, cardholderName: 'X', panSequence: 1, records: new Uint8Array(), signedDynamicData: new Uint8Array() },
      });
      return { un: ch.unpredictableNumber, res };
    },
    async close() {
      auth.close();
      settlement.close();
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return f;
}
