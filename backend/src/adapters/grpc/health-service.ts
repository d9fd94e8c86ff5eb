/**
 * grpc.health.v1.Health: SERVING for "", for each registered service and for the health service
 * itself (HEALTH_SERVICE, which reflection lists too) until shutdown (the start of a drain, or
 * close), NOT_SERVING from then on; NOT_FOUND for any other name. `setAvailable(false)` answers
 * NOT_SERVING too (the node cannot reach its database) until `setAvailable(true)`; Watch streams
 * are told each change.
 */
import type {
  ServerUnaryCall,
  ServerWritableStream,
  sendUnaryData,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { health } from '@bluetill/protocol';
import { isMalformed } from './malformed-request';

const { HealthCheckResponse_ServingStatus: S } = health;

/** The health service's own fully qualified name. */
export const HEALTH_SERVICE = 'grpc.health.v1.Health';

export class HealthService {
  private serving = true;
  private available = true;
  private readonly watchers = new Set<
    ServerWritableStream<health.HealthCheckRequest, health.HealthCheckResponse>
  >();

  private readonly services: readonly string[];

  constructor(services: readonly string[]) {
    this.services = [...services, HEALTH_SERVICE];
  }

  private statusOf(service: string): health.HealthCheckResponse_ServingStatus {
    if (service !== '' && !this.services.includes(service)) return S.SERVICE_UNKNOWN;
    return this.serving && this.available ? S.SERVING : S.NOT_SERVING;
  }

  /** SERVING (when not shut down) or NOT_SERVING for every name, as the node can work or not. */
  setAvailable(available: boolean): void {
    if (this.available === available) return;
    this.available = available;
    if (!this.serving) return;
    for (const w of this.watchers) w.write({ status: this.statusOf(w.request.service) });
  }

  /** Answering SERVING now (not shut down, available). */
  get isServing(): boolean {
    return this.serving && this.available;
  }

  shutdown(): void {
    this.serving = false;
    for (const w of this.watchers) {
      w.write({ status: this.statusOf(w.request.service) });
      w.end();
    }
    this.watchers.clear();
  }

  readonly implementation: UntypedServiceImplementation = {
    check: (
      call: ServerUnaryCall<health.HealthCheckRequest, health.HealthCheckResponse>,
      cb: sendUnaryData<health.HealthCheckResponse>,
    ) => {
      if (isMalformed(call.request))
        return cb({
          code: status.INVALID_ARGUMENT,
          details: 'request does not decode as a HealthCheckRequest',
        });
      const s = this.statusOf(call.request.service);
      if (s === S.SERVICE_UNKNOWN) cb({ code: status.NOT_FOUND, details: 'unknown service' });
      else cb(null, { status: s });
    },
    watch: (call: ServerWritableStream<health.HealthCheckRequest, health.HealthCheckResponse>) => {
      if (isMalformed(call.request))
        return call.emit('error', {
          code: status.INVALID_ARGUMENT,
          details: 'request does not decode as a HealthCheckRequest',
        });
      call.write({ status: this.statusOf(call.request.service) });
      this.watchers.add(call);
      call.on('cancelled', () => this.watchers.delete(call));
    },
  };
}
