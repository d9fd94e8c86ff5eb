/**
 * The shoppers' lane: the shopper listener's IssueCode and PayMerchant calls (P-256 agreements
 * and RSA checks when their one-time number is live) go to the use cases through here, so a
 * flood from shoppers cannot queue ahead of the tills' Authorize and Settle on the thread that
 * runs them:
 *
 * - at most `concurrency` shopper calls are with the use cases at once; the rest wait here, in
 *   order, and each next one starts on a later turn of the event loop (setImmediate), after the
 *   I/O that arrived meanwhile: a till's call that arrives during a shopper burst waits for at
 *   most `concurrency` shopper calls, never for the whole burst;
 * - at most `perSource` calls from one source address are waiting or running; more, and at most
 *   `maxQueued` waiting in all, are refused at once with RESOURCE_EXHAUSTED, before any of their
 *   work is done (nothing decoded past the fields, no cryptography, no database).
 *
 * A call waiting here carries its deadline (call-deadline.ts): one that expires while it waits is
 * dropped when its turn comes, before its work.
 */
import { RequestError } from '../../app/request-error';

export interface ShopperLaneOptions {
  /** Shopper calls with the use cases at once (default 2). */
  readonly concurrency?: number;
  /** Shopper calls waiting, from all sources (default 256). */
  readonly maxQueued?: number;
  /** Calls waiting or running from one source address (default 8). */
  readonly perSource?: number;
}

export interface ShopperLaneStats {
  readonly running: number;
  readonly queued: number;
  /** Calls refused at the lane (over perSource or maxQueued) so far. */
  readonly refused: number;
}

interface Waiting {
  readonly source: string;
  readonly start: () => void;
}

export class ShopperLane {
  private readonly concurrency: number;
  private readonly maxQueued: number;
  private readonly perSource: number;
  private readonly bySource = new Map<string, number>();
  private readonly queue: Waiting[] = [];
  private running = 0;
  private refused = 0;
  private scheduled = false;

  constructor(o: ShopperLaneOptions = {}) {
    this.concurrency = Math.max(1, o.concurrency ?? 2);
    this.maxQueued = Math.max(0, o.maxQueued ?? 256);
    this.perSource = Math.max(1, o.perSource ?? 8);
  }

  get stats(): ShopperLaneStats {
    return { running: this.running, queued: this.queue.length, refused: this.refused };
  }

  /** Runs `job` for `source` in its turn; rejects with RequestError('resource_exhausted') at once when the lane is full for it. */
  run<T>(source: string, job: () => Promise<T> | T): Promise<T> {
    const mine = this.bySource.get(source) ?? 0;
    if (mine >= this.perSource) {
      this.refused++;
      return Promise.reject(
        new RequestError(
          'resource_exhausted',
          `too many requests in progress from this address: at most ${this.perSource}`,
        ),
      );
    }
    if (this.queue.length >= this.maxQueued) {
      this.refused++;
      return Promise.reject(
        new RequestError('resource_exhausted', 'the shopper service is busy; try again shortly'),
      );
    }
    this.bySource.set(source, mine + 1);
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.running++;
        Promise.resolve()
          .then(job)
          .then(resolve, reject)
          .finally(() => {
            this.running--;
            const left = (this.bySource.get(source) ?? 1) - 1;
            if (left === 0) this.bySource.delete(source);
            else this.bySource.set(source, left);
            this.schedule();
          });
      };
      this.queue.push({ source, start });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0 || this.running >= this.concurrency) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.running < this.concurrency && this.queue.length > 0) this.queue.shift()!.start();
      this.schedule();
    });
  }
}
