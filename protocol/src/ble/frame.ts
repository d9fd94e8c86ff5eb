/**
 * Message framing over BLE ATT values (one write or notification each, at most MTU − 3 bytes).
 *
 * | byte | field                                                                   |
 * | ---- | ----------------------------------------------------------------------- |
 * | 0    | header: bit 7 FIRST, bit 6 LAST, bits 0-3 message counter (mod 16)       |
 * | 1-2  | FIRST only: total message length, big-endian (1 .. maxMessageSize)      |
 * | ...  | payload bytes                                                           |
 *
 * A one-fragment message has FIRST and LAST set. The counter ties fragments to their message,
 * so a lost fragment is detected instead of splicing two messages together. Pure functions;
 * the reassembler takes `now` from its caller so timeouts need no timers here.        [LDG]
 */
import { ProtocolError } from '../errors';

export type FrameErrorCode =
  | 'empty_value'
  | 'value_too_large'
  | 'message_too_large'
  | 'bad_length'
  | 'unexpected_continuation'
  | 'unexpected_first'
  | 'counter_mismatch'
  | 'too_much_data'
  | 'length_mismatch'
  | 'reassembly_timeout';

export class FrameError extends ProtocolError<FrameErrorCode> {}

export const FIRST = 0x80;
export const LAST = 0x40;
export const FIRST_HEADER_SIZE = 3;
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024;
export const DEFAULT_REASSEMBLY_TIMEOUT_MS = 10_000;

/** Splits one message into ATT values of at most `valueSize` bytes. */
export function fragment(
  message: Uint8Array,
  valueSize: number,
  counter: number,
  maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE,
): Uint8Array[] {
  if (!Number.isInteger(valueSize) || valueSize < FIRST_HEADER_SIZE + 1)
    throw new RangeError(`value size ${valueSize} too small`);
  if (message.length === 0) throw new FrameError('bad_length', 'cannot frame an empty message');
  if (message.length > maxMessageSize || message.length > 0xffff)
    throw new FrameError('message_too_large', `message of ${message.length} bytes exceeds ${maxMessageSize}`);
  const c = counter & 0x0f;
  const values: Uint8Array[] = [];
  let at = Math.min(message.length, valueSize - FIRST_HEADER_SIZE);
  const first = new Uint8Array(FIRST_HEADER_SIZE + at);
  first[0] = FIRST | c | (at === message.length ? LAST : 0);
  first[1] = message.length >> 8;
  first[2] = message.length & 0xff;
  first.set(message.subarray(0, at), FIRST_HEADER_SIZE);
  values.push(first);
  while (at < message.length) {
    const n = Math.min(message.length - at, valueSize - 1);
    const v = new Uint8Array(1 + n);
    v[0] = c | (at + n === message.length ? LAST : 0);
    v.set(message.subarray(at, at + n), 1);
    values.push(v);
    at += n;
  }
  return values;
}

export interface ReassemblerOptions {
  readonly maxMessageSize?: number;
  readonly maxValueSize?: number;
  readonly timeoutMs?: number;
}

/** Rebuilds messages from ATT values, one message at a time; any violation throws FrameError and resets. */
export class Reassembler {
  private readonly maxMessageSize: number;
  private readonly maxValueSize: number;
  private readonly timeoutMs: number;
  private buffer: Uint8Array | null = null;
  private filled = 0;
  private counter = 0;
  private startedAt = 0;

  constructor(options: ReassemblerOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.maxValueSize = options.maxValueSize ?? 512;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REASSEMBLY_TIMEOUT_MS;
  }

  get inProgress(): boolean {
    return this.buffer !== null;
  }

  /** Feeds one value; returns the completed message, or null while more fragments are due. */
  push(value: Uint8Array, now: number): Uint8Array | null {
    try {
      return this.accept(value, now);
    } catch (error) {
      this.reset();
      throw error;
    }
  }

  /** Throws reassembly_timeout if a message has been incomplete for longer than the timeout. */
  check(now: number): void {
    if (this.buffer !== null && now - this.startedAt > this.timeoutMs) {
      this.reset();
      throw new FrameError('reassembly_timeout', `message incomplete after ${this.timeoutMs} ms`);
    }
  }

  reset(): void {
    this.buffer = null;
    this.filled = 0;
  }

  private accept(value: Uint8Array, now: number): Uint8Array | null {
    if (value.length === 0) throw new FrameError('empty_value', 'empty ATT value');
    if (value.length > this.maxValueSize)
      throw new FrameError('value_too_large', `ATT value of ${value.length} bytes`);
    this.check(now);
    const header = value[0]!;
    const counter = header & 0x0f;
    const last = (header & LAST) !== 0;
    if (header & 0x30) throw new FrameError('bad_length', 'reserved header bits set');
    if (header & FIRST) {
      if (this.buffer !== null)
        throw new FrameError('unexpected_first', 'a new message started before the last one ended');
      if (value.length < FIRST_HEADER_SIZE)
        throw new FrameError('bad_length', 'first fragment shorter than its header');
      const total = (value[1]! << 8) | value[2]!;
      if (total === 0) throw new FrameError('bad_length', 'declared length 0');
      if (total > this.maxMessageSize)
        throw new FrameError('message_too_large', `declared length ${total} exceeds ${this.maxMessageSize}`);
      this.buffer = new Uint8Array(total);
      this.filled = 0;
      this.counter = counter;
      this.startedAt = now;
      return this.append(value.subarray(FIRST_HEADER_SIZE), last);
    }
    if (this.buffer === null)
      throw new FrameError('unexpected_continuation', 'continuation without a first fragment');
    if (counter !== this.counter)
      throw new FrameError('counter_mismatch', 'fragment belongs to another message');
    return this.append(value.subarray(1), last);
  }

  private append(data: Uint8Array, last: boolean): Uint8Array | null {
    const buffer = this.buffer!;
    if (this.filled + data.length > buffer.length)
      throw new FrameError('too_much_data', 'more data than the declared length');
    buffer.set(data, this.filled);
    this.filled += data.length;
    const complete = this.filled === buffer.length;
    if (last !== complete)
      throw new FrameError(
        'length_mismatch',
        last ? 'LAST fragment before the declared length' : 'declared length reached without LAST',
      );
    if (!complete) return null;
    this.reset();
    return buffer;
  }
}
