/**
 * Prometheus metrics of the backend's gRPC calls (prom-client): requests by method and status,
 * latency histogram by method, declines by method and normalized reason. Labels are fixed names
 * and decline codes only: never a card number, PIN, terminal transaction id or amount.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { status } from '@grpc/grpc-js';
import { isDeclineCode } from '@bluetill/protocol';

export class BackendMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'code'>;
  private readonly latency: Histogram<'method'>;
  private readonly declines: Counter<'method' | 'reason'>;

  constructor(o: { processMetrics?: boolean } = {}) {
    this.requests = new Counter({ name: 'bluetill_backend_requests_total', help: 'gRPC requests by method and status code', labelNames: ['method', 'code'], registers: [this.registry] });
    this.latency = new Histogram({
      name: 'bluetill_backend_request_duration_seconds', help: 'gRPC request latency by method', labelNames: ['method'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [this.registry],
    });
    this.declines = new Counter({ name: 'bluetill_backend_declines_total', help: 'declined operations by method and normalized decline code', labelNames: ['method', 'reason'], registers: [this.registry] });
    if (o.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'bluetill_backend_' });
  }

  /** One finished call: its status code, duration, and (for an answer that is a decline) the reason. */
  observe(method: string, code: status, seconds: number, response?: unknown): void {
    this.requests.inc({ method, code: status[code] ?? String(code) });
    this.latency.observe({ method }, seconds);
    const r = response as { approved?: unknown; declineReason?: unknown } | undefined;
    if (r && r.approved === false && typeof r.declineReason === 'string' && r.declineReason !== '')
      this.declines.inc({ method, reason: isDeclineCode(r.declineReason) ? r.declineReason : 'other' });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
