/**
 * Prometheus metrics of the backend's gRPC calls (prom-client): requests by method and status,
 * latency histogram by method, declines by method and normalized reason, lockouts (a guesser
 * refused: codes or PIN tries used up, a rate limit hit) by method and reason, and what the
 * transport refused before a call existed (TLS handshakes, HTTP/2 sessions and streams) by
 * listener. Calls to a method this server does not have count as method "unknown", UNIMPLEMENTED
 * (the path a client sends is never a label). Labels are fixed names and decline codes only: never
 * a card number, PIN, terminal transaction id or amount. The exposition passes `promtool check metrics`.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { status } from '@grpc/grpc-js';
import { isDeclineCode } from '@bluetill/protocol';
import type { TransportEvent } from '../grpc/observed-transport';

/**
 * prom-client's default gauges named `_total`, a suffix Prometheus reserves for counters (promtool
 * warns); left out: the per-type gauges nodejs_active_handles/requests/resources carry the same.
 */
const TOTAL_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

/** Declines that mean a counter of guesses is used up. */
const LOCKOUT_DECLINES: ReadonlySet<string> = new Set([
  'code_attempts_exceeded',
  'pin_tries_exceeded',
  'cvm_tries_exceeded',
]);

export class BackendMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'code'>;
  private readonly latency: Histogram<'method'>;
  private readonly declines: Counter<'method' | 'reason'>;
  private readonly lockouts: Counter<'method' | 'reason'>;
  private readonly refusals: Counter<'listener' | 'reason'>;

  constructor(o: { processMetrics?: boolean } = {}) {
    this.requests = new Counter({
      name: 'bluetill_backend_requests_total',
      help: 'gRPC requests by method and status code',
      labelNames: ['method', 'code'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'bluetill_backend_request_duration_seconds',
      help: 'gRPC request latency by method',
      labelNames: ['method'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    this.declines = new Counter({
      name: 'bluetill_backend_declines_total',
      help: 'declined operations by method and normalized decline code',
      labelNames: ['method', 'reason'],
      registers: [this.registry],
    });
    this.lockouts = new Counter({
      name: 'bluetill_backend_lockouts_total',
      labelNames: ['method', 'reason'],
      registers: [this.registry],
      help: 'answers that refused a guesser: payment codes or PIN tries locked (decline code), or a rate limit hit (resource_exhausted)',
    });
    this.refusals = new Counter({
      name: 'bluetill_backend_transport_refusals_total',
      help: 'connections and streams refused before they became a call, by listener and reason',
      labelNames: ['listener', 'reason'],
      registers: [this.registry],
    });
    if (o.processMetrics) {
      const prefix = 'bluetill_backend_';
      collectDefaultMetrics({ register: this.registry, prefix });
      for (const name of TOTAL_GAUGES) this.registry.removeSingleMetric(prefix + name);
    }
  }

  /** A connection or stream `listener` refused before it became a call. */
  refused(listener: 'till' | 'shopper', reason: TransportEvent): void {
    this.refusals.inc({ listener, reason });
  }

  /** A call to a method no service of the server has (answered UNIMPLEMENTED). */
  unimplemented(seconds = 0): void {
    this.observe('unknown', status.UNIMPLEMENTED, seconds);
  }

  /** One finished call: its status code, duration, and (for an answer that is a decline) the reason. */
  observe(method: string, code: status, seconds: number, response?: unknown): void {
    this.requests.inc({ method, code: status[code] ?? String(code) });
    this.latency.observe({ method }, seconds);
    const r = response as { approved?: unknown; declineReason?: unknown } | undefined;
    if (r && r.approved === false && typeof r.declineReason === 'string' && r.declineReason !== '')
      this.declines.inc({ method, reason: isDeclineCode(r.declineReason) ? r.declineReason : 'other' });
    if (
      r &&
      r.approved === false &&
      typeof r.declineReason === 'string' &&
      LOCKOUT_DECLINES.has(r.declineReason)
    )
      this.lockouts.inc({ method, reason: r.declineReason });
    if (code === status.RESOURCE_EXHAUSTED) this.lockouts.inc({ method, reason: 'resource_exhausted' });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
