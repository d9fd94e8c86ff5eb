/**
 * One side of a phone↔till conversation over ATT values: frames outgoing messages over the MTU,
 * seals them once the secure channel is up, and turns incoming values back into messages.
 * No I/O: the owner passes a `send` callback for values and feeds received values in.
 *
 * Rules: Hello, HelloAck and Error may travel in clear before the channel is up; after that,
 * every message travels sealed, and a clear message is a protocol violation.
 */
import { ProtocolError } from '../errors';
import { Reassembler, fragment, DEFAULT_MAX_MESSAGE_SIZE } from './frame';
import { decodeMessage, encodeMessage, type BleBody } from './messages';
import type { SecureChannel } from './secure-channel';

export class StreamError extends ProtocolError<
  'clear_after_handshake' | 'sealed_before_handshake' | 'nested_seal'
> {}

const CLEAR_ALLOWED: ReadonlySet<BleBody['$case']> = new Set(['hello', 'helloAck', 'error']);

export interface MessageStreamOptions {
  /**
   * Sends one ATT value (write or notify); resolves when the stack has taken it. `last` marks the
   * value that ends a message and `kind` is the message's (its clear kind, before sealing): a
   * phone sends values unacknowledged (Write Without Response; L2CAP keeps them in order) and
   * chooses which messages' last value to acknowledge (see the phone's MessageInbox).
   */
  readonly send: (value: Uint8Array, last: boolean, kind: BleBody['$case']) => Promise<void>;
  /** Current ATT MTU (read on every send: it can grow after the exchange). */
  readonly mtu: () => number;
  readonly maxMessageSize?: number;
  readonly reassemblyTimeoutMs?: number;
}

export class MessageStream {
  private channel: SecureChannel | null = null;
  private counter = 0;
  private readonly reassembler: Reassembler;
  private sending: Promise<void> = Promise.resolve();

  constructor(private readonly o: MessageStreamOptions) {
    this.reassembler = new Reassembler({
      maxMessageSize: o.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      timeoutMs: o.reassemblyTimeoutMs,
      maxValueSize: 512,
    });
  }

  get secured(): boolean {
    return this.channel !== null;
  }

  /** From now on every message in both directions is sealed. */
  secure(channel: SecureChannel): void {
    this.channel = channel;
  }

  /** Sends one message; messages go out one at a time, in call order. */
  send(body: BleBody): Promise<void> {
    let bytes = encodeMessage(body);
    if (this.channel) {
      const sealed = this.channel.seal(bytes);
      bytes = encodeMessage({ $case: 'sealed', value: sealed });
    } else if (!CLEAR_ALLOWED.has(body.$case)) {
      throw new StreamError(
        'sealed_before_handshake',
        `${body.$case} cannot be sent before the secure channel`,
      );
    }
    const values = fragment(
      bytes,
      this.o.mtu() - 3,
      this.counter++,
      (this.o.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE) + 64,
    );
    const run = this.sending.then(async () => {
      for (const [i, v] of values.entries()) await this.o.send(v, i === values.length - 1, body.$case);
    });
    this.sending = run.catch(() => undefined);
    return run;
  }

  /** Feeds one received value; returns a message when one is complete. Throws typed errors only. */
  receive(value: Uint8Array, now: number): BleBody | null {
    const bytes = this.reassembler.push(value, now);
    if (!bytes) return null;
    const body = decodeMessage(bytes);
    if (body.$case === 'sealed') {
      if (!this.channel)
        throw new StreamError('sealed_before_handshake', 'sealed message before the handshake');
      const inner = decodeMessage(this.channel.open(body.value));
      if (inner.$case === 'sealed')
        throw new StreamError('nested_seal', 'sealed message inside a sealed message');
      return inner;
    }
    if (this.channel)
      throw new StreamError('clear_after_handshake', `clear ${body.$case} after the handshake`);
    if (!CLEAR_ALLOWED.has(body.$case))
      throw new StreamError('sealed_before_handshake', `${body.$case} must be sealed`);
    return body;
  }

  /** Checks the reassembly timeout; call it from a timer. */
  tick(now: number): void {
    this.reassembler.check(now);
  }

  close(): void {
    this.channel?.close();
  }
}
