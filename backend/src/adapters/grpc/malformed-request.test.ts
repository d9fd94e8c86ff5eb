import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeGenericClientConstructor, status, type ServiceError } from '@grpc/grpc-js';
import { AuthorizationService, SettlementService } from '@bluetill/protocol';
import {
  fixtureStores,
  startBackendFixture,
  stopStoreServers,
  type StoreFixture,
} from '../../test-support/backend-fixture';

let f: StoreFixture;
afterAll(stopStoreServers, 30_000);

const identity = (b: Buffer): Buffer => b;
const paths = [...Object.values(AuthorizationService), ...Object.values(SettlementService)].map(
  (m) => m.path,
);

describe.each(fixtureStores)('malformed requests over %s', (store) => {
  beforeAll(async () => {
    f = await startBackendFixture({ store });
  }, 120_000);
  afterAll(() => f.close());

  describe('bytes that are not the method’s message', () => {
    it('get INVALID_ARGUMENT (not INTERNAL) from every method, and the server keeps serving', async () => {
      const Raw = makeGenericClientConstructor(
        Object.fromEntries(
          paths.map((path) => [
            path,
            {
              path,
              requestStream: false,
              responseStream: false,
              requestSerialize: identity,
              requestDeserialize: identity,
              responseSerialize: identity,
              responseDeserialize: identity,
            },
          ]),
        ),
        'Raw',
      );
      const client = new Raw(f.backend.address, f.credentialsFor('T-0001')) as unknown as Record<
        string,
        (b: Buffer, cb: (e: ServiceError | null) => void) => void
      >;
      // 0x0A with a length running past the end: a truncated field, which protobuf decoding refuses.
      const truncated = Buffer.from([0x0a, 0x50, 0x01, 0x02]);
      for (const path of paths) {
        const code = await new Promise<number>((resolve) =>
          client[path]!(truncated, (e) => resolve(e?.code ?? status.OK)),
        );
        expect(code, path).toBe(status.INVALID_ARGUMENT);
      }
      expect((await f.challenge()).unpredictableNumber).toHaveLength(4);
      (client as unknown as { close(): void }).close();
    });
  });
});
