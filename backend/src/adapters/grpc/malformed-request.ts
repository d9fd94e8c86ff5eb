/**
 * Bytes that do not decode as the method's protobuf message become a marker instead of a
 * grpc-js deserialization failure (which answers INTERNAL before any handler runs); the handler
 * wrapper answers the marker with INVALID_ARGUMENT, like every other malformed request.
 *
 * The generated decoders are lenient: they stop at a zero tag or an end-group tag and return
 * what they had, so `hello world` or eight zero bytes decoded as an empty message. Every request
 * is first walked as protobuf wire format (isWellFormedProtobuf); bytes that are not are
 * malformed whatever the decoder would have made of them.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';

const MALFORMED = Symbol('malformed request');

export interface MalformedRequest {
  readonly [MALFORMED]: true;
}

export const isMalformed = (request: unknown): request is MalformedRequest =>
  typeof request === 'object' && request !== null && MALFORMED in request;

/** Reads a base-128 varint at `at`; the offset after it, or -1 when it runs past the end or past 10 bytes. */
function skipVarint(b: Uint8Array, at: number): { next: number; value: number } {
  let value = 0;
  for (let i = 0; i < 10; i++) {
    if (at + i >= b.length) return { next: -1, value: 0 };
    const byte = b[at + i]!;
    if (i < 4) value |= (byte & 0x7f) << (7 * i);
    else if (i === 4) value += (byte & 0x7f) * 2 ** 28;
    else value = Number.MAX_SAFE_INTEGER; // larger than any length here
    if ((byte & 0x80) === 0) return { next: at + i + 1, value };
  }
  return { next: -1, value: 0 };
}

/**
 * Whether `bytes` are a sequence of well-formed proto3 fields: each tag a field number 1..2^29-1
 * with wire type 0, 1, 2 or 5 (groups, 3 and 4, are not proto3), each value complete. Unknown
 * fields are allowed, as protobuf allows them; the method's decoder then reads its own.
 */
export function isWellFormedProtobuf(bytes: Uint8Array): boolean {
  let at = 0;
  while (at < bytes.length) {
    const tag = skipVarint(bytes, at);
    if (tag.next < 0) return false;
    const field = Math.floor(tag.value / 8);
    const wireType = tag.value % 8;
    if (field < 1 || field > 0x1fffffff) return false;
    at = tag.next;
    switch (wireType) {
      case 0: {
        const v = skipVarint(bytes, at);
        if (v.next < 0) return false;
        at = v.next;
        break;
      }
      case 1:
        at += 8;
        break;
      case 5:
        at += 4;
        break;
      case 2: {
        const len = skipVarint(bytes, at);
        if (len.next < 0) return false;
        at = len.next + len.value;
        break;
      }
      default:
        return false;
    }
    if (at > bytes.length) return false;
  }
  return true;
}

/** The same service definition, with each request decoder turned total. */
export function guardDecoding<T extends ServiceDefinition>(definition: T): T {
  const guarded: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    guarded[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          if (!isWellFormedProtobuf(bytes)) return { [MALFORMED]: true } satisfies MalformedRequest;
          return method.requestDeserialize(bytes);
        } catch {
          return { [MALFORMED]: true } satisfies MalformedRequest;
        }
      },
    };
  }
  return guarded as T;
}
