/**
 * The door of a node's unary methods, for draining: it counts the calls in flight, and once
 * `close()` is called it refuses every new call at once with UNAVAILABLE and the trailer
 * `bluetill-draining: 1` (DRAINING_TRAILER_KEY) — the call never reached a use case, so a till
 * may send it to another node, even a non-idempotent one — while the calls already in flight run
 * to their answer (and their commit). `idle()` resolves when none is left.
 *
 * `pause()` refuses new calls the same way until `resume()`, without draining: a node that cannot
 * reach its database (main.ts) takes no call it could only hold or fail, and sends every till to
 * another node at once; the calls already in flight end as the store ends them.
 *
 * Health and reflection are not behind the gate: health answers NOT_SERVING during a drain or a pause.
 */
import {
  Metadata,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { DRAINING_TRAILER_KEY } from '@bluetill/protocol';

export class CallGate {
  private closed = false;
  private paused: string | undefined;
  private inFlight = 0;
  private waiters: Array<() => void> = [];
  /** Calls refused because the node was draining. */
  refused = 0;
  /** Calls refused while paused. */
  refusedPaused = 0;

  /** Calls that passed the gate and have not answered yet. */
  get pending(): number {
    return this.inFlight;
  }

  get draining(): boolean {
    return this.closed;
  }

  /** The same service implementation, every unary method behind the gate. */
  wrap(impl: UntypedServiceImplementation): UntypedServiceImplementation {
    const out: UntypedServiceImplementation = {};
    for (const [name, handler] of Object.entries(impl))
      out[name] = this.unary(
        handler as (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => void,
      ) as UntypedHandleCall;
    return out;
  }

  private unary(handler: (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => void) {
    return (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>): void => {
      if (this.closed || this.paused !== undefined) {
        if (this.closed) this.refused++;
        else this.refusedPaused++;
        const metadata = new Metadata();
        metadata.set(DRAINING_TRAILER_KEY, '1');
        const details = this.closed ? 'this node is draining: call another node' : this.paused!;
        cb({ code: status.UNAVAILABLE, details, metadata });
        return;
      }
      this.inFlight++;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        this.inFlight--;
        if (this.inFlight === 0) for (const w of this.waiters.splice(0)) w();
      };
      try {
        handler(call, (err, value, trailer, flags) => {
          finish();
          cb(err, value, trailer, flags);
        });
      } catch (e) {
        finish();
        throw e;
      }
    };
  }

  /** Refuse every new call from now on. */
  close(): void {
    this.closed = true;
  }

  /** Refuse every new call (UNAVAILABLE with `details`, the draining trailer) until resume(). */
  pause(details: string): void {
    this.paused = details;
  }

  resume(): void {
    this.paused = undefined;
  }

  get isPaused(): boolean {
    return this.paused !== undefined;
  }

  /** Resolves when no call is in flight. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
