/**
 * A till the registry refuses (its client certificate revoked, unknown, issued to another
 * terminal, naming none): PERMISSION_DENIED with the reason in the `bluetill-refusal` trailer
 * (to-grpc-status.ts), a warning in the backend's log, and a refused health check on the tills'
 * listener, so the till learns from its probe that it is refused rather than unreachable.
 *
 * The log says which certificate (SHA-256 fingerprint and serial) and which terminal it names, at
 * most once per certificate and reason per interval (default a minute), with how many refusals
 * were not logged since: a refused till that keeps calling cannot flood the log.
 */
import type { PeerCertificate, TLSSocket } from 'node:tls';
import {
  Metadata,
  status,
  type ServerUnaryCall,
  type ServiceError,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { REFUSAL_TRAILER_KEY, type TerminalRefusalReason } from '@bluetill/protocol';
import type { Logger } from 'pino';
import { RequestError } from '../../app/request-error';
import type { Caller } from '../../app/caller';

export { REFUSAL_TRAILER_KEY };

/** A refusal of the caller's certificate (PERMISSION_DENIED), with its reason. */
export class TerminalRefusedError extends RequestError {
  constructor(
    readonly reason: TerminalRefusalReason,
    message: string,
    /** The terminal the certificate names, if it names one. */
    readonly terminalId?: string,
  ) {
    // Named as its base class: from the use-case worker it comes back a RequestError (PERMISSION_DENIED, no reason).
    super('permission_denied', message);
  }
}

type CallerOf = (call: ServerUnaryCall<unknown, unknown>) => Caller | Promise<Caller>;

/** What the TLS handshake saw of the caller's certificate, for the log (never the certificate itself). */
function peerOf(
  call: ServerUnaryCall<unknown, unknown>,
  tlsSocketOf: (call: object) => TLSSocket | undefined,
): { fingerprint?: string; serial?: string } {
  try {
    const socket = tlsSocketOf(call);
    const cert: PeerCertificate | undefined = socket
      ? socket.getPeerCertificate()
      : call.getAuthContext().sslPeerCertificate;
    if (!cert || !cert.fingerprint256) return {};
    return { fingerprint: cert.fingerprint256, serial: cert.serialNumber };
  } catch {
    return {};
  }
}

/** The terminal id a certificate names, bounded (it is the caller's text). */
const terminalOf = (e: TerminalRefusedError): string | undefined => e.terminalId?.slice(0, 64);

export interface TerminalRefusalsOptions {
  readonly log: Pick<Logger, 'warn'>;
  /** How often one certificate's refusals (same reason) are logged at most. Default 60 s. */
  readonly everyMs?: number;
  readonly now?: () => number;
  /** The TLS socket under a call (terminal-caller.ts's tlsSocketOf). */
  readonly tlsSocketOf: (call: object) => TLSSocket | undefined;
}

const MAX_TRACKED = 4096;

/** The called method as Service.Method ("/bluetill.v1.Authorization/Challenge" → "Authorization.Challenge"), for the log. */
const methodOf = (call: ServerUnaryCall<unknown, unknown>): string => {
  try {
    const [, service = '', method = ''] = (call.getPath?.() ?? '').split('/');
    return `${service.split('.').pop()}.${method}`.slice(0, 64);
  } catch {
    return 'call';
  }
};

export class TerminalRefusals {
  private readonly seen = new Map<string, { loggedAt: number; suppressed: number }>();
  private readonly everyMs: number;
  private readonly now: () => number;

  constructor(private readonly o: TerminalRefusalsOptions) {
    this.everyMs = o.everyMs ?? 60_000;
    this.now = o.now ?? Date.now;
  }

  /** Logs one refusal (rate-limited per certificate and reason). */
  record(call: ServerUnaryCall<unknown, unknown>, error: TerminalRefusedError, method: string): void {
    const peer = peerOf(call, this.o.tlsSocketOf);
    const key = `${peer.fingerprint ?? 'none'}|${error.reason}`;
    const now = this.now();
    const s = this.seen.get(key);
    if (s && now - s.loggedAt < this.everyMs) {
      s.suppressed++;
      return;
    }
    if (this.seen.size >= MAX_TRACKED) this.seen.clear();
    this.seen.set(key, { loggedAt: now, suppressed: 0 });
    const terminalId = terminalOf(error);
    this.o.log.warn(
      {
        event: 'terminal_refused',
        reason: error.reason,
        method,
        ...(terminalId ? { terminalId } : {}),
        ...peer,
        ...(s && s.suppressed > 0 ? { notLoggedSince: s.suppressed } : {}),
      },
      `refused a till: ${error.message}`,
    );
  }

  /** `callerOf` with every refusal it raises logged. */
  watching(callerOf: CallerOf): (call: ServerUnaryCall<unknown, unknown>) => Promise<Caller> {
    return async (call) => {
      try {
        return await callerOf(call);
      } catch (error) {
        if (error instanceof TerminalRefusedError) this.record(call, error, methodOf(call));
        throw error;
      }
    };
  }

  /**
   * The health service for the tills' listener: a till the registry refuses gets PERMISSION_DENIED
   * (with the reason) instead of SERVING; Watch is left as it is. `callerOf` is the one made by
   * `watching`, which logs the refusal.
   */
  health(impl: UntypedServiceImplementation, callerOf: CallerOf): UntypedServiceImplementation {
    const check = impl.check as (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => void;
    return {
      ...impl,
      check: (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => {
        Promise.resolve()
          .then(() => callerOf(call))
          .then(
            () => check(call, cb),
            (error: unknown) =>
              cb(
                error instanceof TerminalRefusedError
                  ? refusalStatus(error)
                  : { code: status.INTERNAL, details: 'the caller could not be checked' },
              ),
          );
      },
    };
  }
}

/** PERMISSION_DENIED with the reason in the trailer. */
export function refusalStatus(error: TerminalRefusedError): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set(REFUSAL_TRAILER_KEY, error.reason);
  return { code: status.PERMISSION_DENIED, details: error.message, metadata };
}
