/**
 * gRPC server reflection against a real server on 127.0.0.1:0 (mutual TLS): a raw
 * grpc.reflection.v1 ServerReflectionInfo stream lists the services and returns their schema;
 * with `reflection: false` the method is not there.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadPackageDefinition,
  status,
  type ChannelCredentials,
  type Client,
  type ClientDuplexStream,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import pino from 'pino';
import { startBackendFixture, type BackendFixture } from '../../test-support/backend-fixture';
import { startBackend } from '../../main';

const reflectionProto = join(
  dirname(createRequire(import.meta.url).resolve('@grpc/reflection')),
  '..',
  'proto',
  'grpc',
  'reflection',
  'v1',
  'reflection.proto',
);

interface ReflectionResponse {
  list_services_response?: { service: Array<{ name: string }> };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}
type ReflectionClient = Client & {
  ServerReflectionInfo(): ClientDuplexStream<Record<string, string>, ReflectionResponse>;
};
type ReflectionCtor = new (address: string, creds: ChannelCredentials) => ReflectionClient;

const ctor = (() => {
  const pkg = loadPackageDefinition(
    loadSync(reflectionProto, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }),
  ) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: ReflectionCtor } } };
  };
  return pkg.grpc.reflection.v1.ServerReflection;
})();

/** One request on a fresh ServerReflectionInfo stream; resolves to the first response. */
function ask(
  address: string,
  creds: ChannelCredentials,
  request: Record<string, string>,
): Promise<ReflectionResponse> {
  const client = new ctor(address, creds);
  return new Promise<ReflectionResponse>((resolve, reject) => {
    const stream = client.ServerReflectionInfo();
    stream.once('data', (r: ReflectionResponse) => {
      resolve(r);
      stream.end();
    });
    stream.once('error', reject);
    stream.write(request);
  }).finally(() => client.close());
}

let f: BackendFixture;
beforeAll(async () => {
  f = await startBackendFixture();
});
afterAll(() => f.close());

describe('gRPC server reflection', () => {
  it('lists the Authorization, Settlement and Health services (on by default)', async () => {
    const r = await ask(f.backend.address, f.credentialsFor('T-0001'), { list_services: '' });
    const names = r.list_services_response!.service.map((s) => s.name).sort();
    expect(names).toEqual(['bluetill.v1.Authorization', 'bluetill.v1.Settlement', 'grpc.health.v1.Health']);
  });

  it('returns the schema of a service by symbol, and an error for an unknown one', async () => {
    const r = await ask(f.backend.address, f.credentialsFor('T-0001'), {
      file_containing_symbol: 'bluetill.v1.Authorization',
    });
    const files = r.file_descriptor_response!.file_descriptor_proto.map((b) =>
      Buffer.from(b).toString('latin1'),
    );
    // @grpc/reflection serves one descriptor file per package (bluetill_v1.proto), with the service and its methods
    expect(
      files.some(
        (d) =>
          d.includes('bluetill.v1') &&
          d.includes('Authorization') &&
          d.includes('Authorize') &&
          d.includes('Challenge'),
      ),
    ).toBe(true);
    const unknown = await ask(f.backend.address, f.credentialsFor('T-0001'), {
      file_containing_symbol: 'bluetill.v1.NoSuchService',
    });
    expect(unknown.error_response?.error_code).toBe(status.NOT_FOUND);
  });

  it('is not served with reflection: false', async () => {
    const b = await startBackend({
      dbPath: f.seed.dbPath,
      keysPath: f.seed.keysPath,
      masterKey: f.masterKey,
      logger: pino({ level: 'silent' }),
      reflection: false,
    });
    try {
      await expect(ask(b.address, f.credentialsFor('T-0001'), { list_services: '' })).rejects.toMatchObject({
        code: status.UNIMPLEMENTED,
      });
    } finally {
      await b.close();
    }
  });
});
