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
import { TestCard } from './test-card';

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
  /** The demo card with this id, as an EMV card computed in the test (records, DDA, ARQC). */
  card(cardId: string): TestCard;
  /** Challenge + card data with DDA over the UN + sealed PIN + Authorize, as a till would relay it. */
  authorizeCard(card: TestCard, pin: string, terminalId?: string): Promise<{ un: Uint8Array; res: AuthorizeResponse }>;
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
  const cards = new Map<string, TestCard>();
  const f: BackendFixture = {
    dir, seed, backend,
    challenge: (terminalId = 'T-0001') => call<{ terminalId: string }, ChallengeResponse>(auth.challenge.bind(auth))({ terminalId }),
    authorize: call(auth.authorize.bind(auth)),
    settle: call(auth.settle.bind(auth)),
    getSettlement: (terminalId, terminalTxnId) => call<{ terminalId: string; terminalTxnId: string }, SettleResponse>(settlement.getSettlement.bind(settlement))({ terminalId, terminalTxnId }),
    card(cardId) {
      let c = cards.get(cardId);
      if (!c) cards.set(cardId, (c = TestCard.fromFile(join(seed.cardsDir, `${cardId}.json`))));
      return c;
    },
    async authorizeCard(card, pin, terminalId = 'T-0001') {
      const ch = await f.challenge(terminalId);
      const pinKey: CertificateBody = verifyCertificate(ch.pinKeyCertificate, root, { role: 'pin-key', now: Date.now() });
      const sealed = sealPin({ pin, pan: card.p.pan, pinKey: pinKey.publicKey, pinKeyId: pinKey.subjectId, context: pinSealContext(ch.unpredictableNumber, terminalId) });
      const res = await f.authorize({ terminalId, unpredictableNumber: ch.unpredictableNumber, sealedPinBlock: sealed, card: card.cardData(ch.unpredictableNumber) });
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
