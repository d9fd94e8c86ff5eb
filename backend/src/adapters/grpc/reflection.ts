/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha) for the services this server hosts,
 * built from the protocol's .proto files (PROTO_DIR), so `grpcurl HOST:PORT list` and friends work
 * without a local copy of the schemas.
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Server } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { PROTO_DIR } from '@bluetill/protocol/proto-path';
import { HEALTH_SERVICE } from './health-service';

/** Every .proto under PROTO_DIR, relative to it (the include root). */
function protoFiles(dir = PROTO_DIR): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.proto'))
    .map((f) => relative(PROTO_DIR, join(dir, f)))
    .sort();
}

/** Adds the reflection service, exposing `services` (fully qualified) and grpc.health.v1.Health. */
export function addReflection(server: Pick<Server, 'addService'>, services: readonly string[]): void {
  const definition = loadSync(protoFiles(), {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  new ReflectionService(definition, { services: [...services, HEALTH_SERVICE] }).addToServer(server);
}
