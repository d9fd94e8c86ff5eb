/**
 * Bytes that do not decode as the method's protobuf message become a marker instead of a
 * grpc-js deserialization failure (which answers INTERNAL before any handler runs); the handler
 * wrapper answers the marker with INVALID_ARGUMENT, like every other malformed request.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';

const MALFORMED = Symbol('malformed request');

export interface MalformedRequest {
  readonly [MALFORMED]: true;
}

export const isMalformed = (request: unknown): request is MalformedRequest =>
  typeof request === 'object' && request !== null && MALFORMED in request;

/** The same service definition, with each request decoder turned total. */
export function guardDecoding<T extends ServiceDefinition>(definition: T): T {
  const guarded: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    guarded[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return method.requestDeserialize(bytes);
        } catch {
          return { [MALFORMED]: true } satisfies MalformedRequest;
        }
      },
    };
  }
  return guarded as T;
}
