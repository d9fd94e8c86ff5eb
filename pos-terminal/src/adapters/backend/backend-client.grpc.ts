/**
 * BackendClient over grpc-js. Every call has a deadline. A business decline arrives OK with the
 * response message in the body (`approved: false`, its decline code) and is handed up as it is;
 * one carried as FAILED_PRECONDITION with the response in the `bluetill-decline-bin` trailer (an
 * older peer) is read back to that value, and one without a decodable trailer is a
 * BackendError('rejected'), never an approval. Challenge, Settle, Cancel, SettleWithCode,
 * GetSettlement, Refund, Void, CloseBatch and ListTransactions are retried on UNAVAILABLE /
 * DEADLINE_EXCEEDED with backoff (Settle and Cancel are idempotent on the terminal transaction id,
 * Refund on the refund id, Void on the sale, CloseBatch on the close request id: a retry never
 * moves money twice); Authorize is never retried.
 * The till reaches all of them through the authorization server, as it does Settle.
 *
 * PERMISSION_DENIED with a reason in the `bluetill-refusal` trailer means the card company refuses
 * this till itself (its client certificate revoked, unknown, or another terminal's): a
 * BackendError('refused') with that reason, never taken for an unreachable network, and a warning
 * in the till's log (once per reason a minute at most). Any other PERMISSION_DENIED (a request
 * for another terminal or merchant) stays 'rejected'.
 */
import {
  Metadata,
  credentials as grpcCredentials,
  status,
  type ChannelCredentials,
  type ServiceError,
  type Client,
} from '@grpc/grpc-js';
import {
  AuthorizationClient,
  AuthorizeResponse,
  DeclineTrailerError,
  type ForwardOfflineRequest,
  RefundResponse,
  SettleResponse,
  SettlementClient,
  VoidResponse,
  callDeclinable,
  type AuthorizeRequest,
  type ChallengeResponse,
  type CloseBatchResponse,
  type DeclinableResponse,
  type ListTransactionsResponse,
  type Money,
  type CancelRequest,
  type SettleRequest,
  type SettleWithCodeRequest,
  health,
  REFUSAL_TRAILER_KEY,
  isTerminalRefusalReason,
  type TerminalRefusalReason,
} from '@bluetill/protocol';
import pino from 'pino';
import { BackendError, refusalText, type BackendClient } from '../../common/ports/backend-client';

export interface GrpcBackendOptions {
  /** host:port of the authorization server (the till talks to settlement through it). */
  readonly authorizationAddress: string;
  /** host:port of the settlement server, for GetSettlement (defaults to the authorization address). */
  readonly settlementAddress?: string;
  readonly terminalId: string;
  /**
   * Mutual TLS (PEM): the backend CA to trust, and this terminal's client key and certificate
   * (CN / SAN URI naming `terminalId`), as the card company's admin tool issues them.
   */
  readonly tls?: { readonly ca: Buffer; readonly key: Buffer; readonly cert: Buffer };
  /** Plaintext with no client certificate: local debugging against `bluetill-backend serve --insecure` only. */
  readonly insecure?: true;
  /** Channel credentials made elsewhere (overrides tls / insecure). */
  readonly credentials?: ChannelCredentials;
  readonly deadlineMs?: number;
  readonly attempts?: number;
  readonly backoffMs?: number;
  /** Where a refusal of this till is logged; default JSON lines on standard error. */
  readonly log?: { warn(fields: object, message: string): void };
  /** How often one refusal reason is logged at most (ms); default 60 s. */
  readonly refusalLogEveryMs?: number;
}

function channelCredentials(o: GrpcBackendOptions): ChannelCredentials {
  if (o.credentials) return o.credentials;
  if (o.tls) return grpcCredentials.createSsl(o.tls.ca, o.tls.key, o.tls.cert);
  if (o.insecure) return grpcCredentials.createInsecure();
  throw new TypeError('backend client: give tls (mutual TLS material) or insecure: true');
}

/** The reason in a PERMISSION_DENIED's `bluetill-refusal` trailer, if it carries a known one. */
function refusalReasonOf(e: ServiceError): TerminalRefusalReason | undefined {
  const raw = e.metadata?.get(REFUSAL_TRAILER_KEY)[0];
  const text = typeof raw === 'string' ? raw : raw?.toString();
  return isTerminalRefusalReason(text) ? text : undefined;
}

const RETRYABLE = new Set([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]);

export class GrpcBackendClient implements BackendClient {
  private readonly auth: AuthorizationClient;
  private readonly settlement: SettlementClient;
  private readonly health: health.HealthClient;
  private readonly deadlineMs: number;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private log: { warn(fields: object, message: string): void } | undefined;
  private readonly refusalsLogged = new Map<string, number>();

  constructor(private readonly o: GrpcBackendOptions) {
    this.log = o.log;
    const creds = channelCredentials(o);
    // Reconnect quickly after the backend comes back (grpc-js defaults back off up to 120 s).
    const channelOptions = {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2_000,
    };
    this.auth = new AuthorizationClient(o.authorizationAddress, creds, channelOptions);
    this.settlement = new SettlementClient(
      o.settlementAddress ?? o.authorizationAddress,
      creds,
      channelOptions,
    );
    this.health = new health.HealthClient(o.authorizationAddress, creds, channelOptions);
    this.deadlineMs = o.deadlineMs ?? 5_000;
    this.attempts = o.attempts ?? 3;
    this.backoffMs = o.backoffMs ?? 200;
  }

  challenge(): Promise<ChallengeResponse> {
    return this.retrying('Challenge', () =>
      this.unary(this.auth, 'challenge', { terminalId: this.o.terminalId }),
    );
  }

  authorize(req: AuthorizeRequest): Promise<AuthorizeResponse> {
    return this.unary(this.auth, 'authorize', req, AuthorizeResponse.decode).catch((e: unknown) =>
      Promise.reject(this.translate('Authorize', e)),
    );
  }

  settle(req: SettleRequest): Promise<SettleResponse> {
    return this.retrying('Settle', () => this.unary(this.auth, 'settle', req, SettleResponse.decode));
  }

  cancel(req: CancelRequest): Promise<SettleResponse> {
    return this.retrying('Cancel', () => this.unary(this.auth, 'cancel', req, SettleResponse.decode));
  }

  settleWithCode(req: SettleWithCodeRequest): Promise<SettleResponse> {
    return this.retrying('SettleWithCode', () =>
      this.unary(this.auth, 'settleWithCode', req, SettleResponse.decode),
    );
  }

  /** A sale approved offline, forwarded; idempotent on its offline id (retried like Settle). */
  forwardOffline(req: ForwardOfflineRequest): Promise<SettleResponse> {
    return this.retrying('ForwardOffline', () =>
      this.unary(this.settlement, 'forwardOffline', req, SettleResponse.decode),
    );
  }

  async getSettlement(terminalTxnId: string): Promise<SettleResponse | null> {
    try {
      return await this.retrying('GetSettlement', () =>
        this.unary(
          this.settlement,
          'getSettlement',
          { terminalId: this.o.terminalId, terminalTxnId },
          SettleResponse.decode,
        ),
      );
    } catch (e) {
      if (e instanceof BackendError && (e.cause as ServiceError | undefined)?.code === status.NOT_FOUND)
        return null;
      throw e;
    }
  }

  /**
   * grpc.health.v1 Check of the Authorization service on the authorization server, once: resolves
   * when it is SERVING; anything else is a BackendError. No business method is called, so the
   * backend's request metrics see the probe as health checks, not as lookups that found nothing.
   */
  async probe(): Promise<void> {
    const res = await new Promise<health.HealthCheckResponse>((resolve, reject) =>
      this.health.check(
        { service: 'bluetill.v1.Authorization' },
        new Metadata(),
        { deadline: Date.now() + this.deadlineMs },
        (e, r) => (e ? reject(this.translate('Health', e)) : resolve(r)),
      ),
    );
    if (res.status !== health.HealthCheckResponse_ServingStatus.SERVING)
      throw new BackendError(
        'unavailable',
        `Health: the authorization service is ${health.HealthCheckResponse_ServingStatus[res.status] ?? 'not serving'}`,
      );
  }

  refund(req: { terminalTxnId: string; refundTxnId: string; amount: Money }): Promise<RefundResponse> {
    return this.retrying('Refund', () =>
      this.unary(this.auth, 'refund', { terminalId: this.o.terminalId, ...req }, RefundResponse.decode),
    );
  }

  voidSale(terminalTxnId: string): Promise<VoidResponse> {
    return this.retrying('Void', () =>
      this.unary(this.auth, 'void', { terminalId: this.o.terminalId, terminalTxnId }, VoidResponse.decode),
    );
  }

  closeBatch(closeRequestId: string): Promise<CloseBatchResponse> {
    return this.retrying('CloseBatch', () =>
      this.unary(this.auth, 'closeBatch', { terminalId: this.o.terminalId, closeRequestId }),
    );
  }

  listTransactions(fromMs: number, toMs: number): Promise<ListTransactionsResponse> {
    return this.retrying('ListTransactions', () =>
      this.unary(this.auth, 'listTransactions', { terminalId: this.o.terminalId, fromMs, toMs }),
    );
  }

  /** Resolves once both channels are connected; rejects after timeoutMs. */
  async waitForReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await Promise.all(
      [this.auth, this.settlement].map(
        (c) =>
          new Promise<void>((resolve, reject) =>
            c.waitForReady(deadline, (e) =>
              e ? reject(new BackendError('unavailable', 'backend not reachable', { cause: e })) : resolve(),
            ),
          ),
      ),
    );
  }

  close(): void {
    this.auth.close();
    this.settlement.close();
    this.health.close();
  }

  /** One call; `declined` (the response message's decoder) turns a decline status back into its response value. */
  private unary<Res>(
    client: Client,
    method: string,
    req: unknown,
    declined?: Res extends DeclinableResponse ? (bytes: Uint8Array) => Res : never,
  ): Promise<Res> {
    const fn = (
      client as unknown as Record<
        string,
        (r: unknown, o: { deadline: number }, cb: (e: ServiceError | null, r: Res) => void) => void
      >
    )[method]!;
    return callDeclinable<Res>(
      (cb) => fn.call(client, req, { deadline: Date.now() + this.deadlineMs }, cb),
      declined,
    );
  }

  private async retrying<Res>(what: string, call: () => Promise<Res>): Promise<Res> {
    let last: unknown;
    for (let i = 0; i < this.attempts; i++) {
      try {
        return await call();
      } catch (e) {
        last = e;
        if (!RETRYABLE.has((e as ServiceError).code)) break;
        if (i + 1 < this.attempts) await new Promise((r) => setTimeout(r, this.backoffMs * 2 ** i));
      }
    }
    throw this.translate(what, last);
  }

  /** A refusal of this till: logged (rate-limited per reason), and a BackendError('refused') with the reason. */
  private refused(what: string, e: ServiceError): BackendError {
    const reason = refusalReasonOf(e);
    const now = Date.now();
    const key = reason ?? 'unspecified';
    const last = this.refusalsLogged.get(key);
    if (last === undefined || now - last >= (this.o.refusalLogEveryMs ?? 60_000)) {
      this.refusalsLogged.set(key, now);
      // The default log is made on the first refusal: most tills never need one.
      this.log ??= pino({ name: 'till-backend' }, pino.destination({ fd: 2, sync: false }));
      this.log.warn(
        { event: 'refused_by_card_company', terminalId: this.o.terminalId, reason: key, method: what },
        `${refusalText(reason)}: ask the card company for a new till certificate`,
      );
    }
    return new BackendError('refused', `${what}: ${refusalText(reason)}`, {
      cause: e,
      ...(reason ? { reason } : {}),
    });
  }

  private translate(what: string, e: unknown): BackendError {
    if (e instanceof DeclineTrailerError)
      return new BackendError(
        'rejected',
        `${what}: a decline the till cannot read (${e.code}): ${e.message}`,
        { cause: e },
      );
    const code = (e as ServiceError)?.code;
    if (code === status.PERMISSION_DENIED && refusalReasonOf(e as ServiceError))
      return this.refused(what, e as ServiceError);
    if (code === status.UNAVAILABLE)
      return new BackendError('unavailable', `${what}: payment network unavailable`, {
        cause: e,
        // grpc-js's picker fails a call with "No connection established" when no connection to
        // the server is up: the call never went onto a transport. A connection that broke under
        // a call says otherwise, and that call's outcome is asked, never guessed.
        unreachable: /No connection established/.test((e as ServiceError).details ?? ''),
      });
    if (code === status.DEADLINE_EXCEEDED)
      return new BackendError('deadline', `${what}: no answer in time`, { cause: e });
    return new BackendError('rejected', `${what}: ${(e as ServiceError)?.details ?? 'failed'}`, { cause: e });
  }
}
