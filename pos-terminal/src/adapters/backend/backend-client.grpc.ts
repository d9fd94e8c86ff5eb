/**
 * BackendClient over grpc-js, balanced over one or several backend nodes (backend-nodes.ts: a
 * channel per node, round robin per call, nodes that are down last). Every attempt has a deadline.
 * A business decline arrives OK with the response message in the body (`approved: false`, its
 * decline code) and is handed up as it is; one carried as FAILED_PRECONDITION with the response in
 * the `bluetill-decline-bin` trailer (an older peer) is read back to that value, and one without a
 * decodable trailer is a BackendError('rejected'), never an approval. The till reaches every
 * method through the authorization nodes (GetSettlement through the settlement nodes).
 *
 * When an attempt fails at the transport, the node is left out (and checked again in the
 * background) and the call moves on to the next node, up to `attempts` attempts; it waits
 * (backoff) only before trying a node it already tried in this call. Which failures move on:
 *
 * | method | moves on after |
 * | --- | --- |
 * | Settle, Cancel, SettleWithCode (terminal txn id), Refund (refund id), Void (the sale), CloseBatch (close request id) | any transport failure: UNAVAILABLE, DEADLINE_EXCEEDED, a reset stream. Idempotent on their ids: a repeat on another node returns the first result, nothing moves twice |
 * | GetSettlement, ListTransactions | the same (reads) |
 * | Challenge | the same: a UN the first node issued and the till never heard of is never redeemed and expires |
 * | Authorize | (each node once at most) a failure before the call reached a use case (no connection, stream refused, the node draining); a failure after it may have (reset, no answer) only on a node not yet tried, once. The UN is redeemed once across nodes, before the PIN is judged, in the transaction that counts a PIN try: a repeat cannot count a try twice. If the repeat is declined `unpredictable_number_invalid`, the first node used the UN and its answer is lost: that is a BackendError('deadline') (outcome unknown, nothing charged; the phone needs a fresh challenge and card read), never a decline shown as the card's |
 *
 * PERMISSION_DENIED with a reason in the `bluetill-refusal` trailer means the card company refuses
 * this till itself (its client certificate revoked, unknown, or another terminal's): a
 * BackendError('refused') with that reason, never taken for an unreachable network, and a warning
 * in the till's log (once per reason a minute at most). Any other PERMISSION_DENIED (a request
 * for another terminal or merchant) stays 'rejected'.
 */
import {
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
  type SignedOfflineParameters,
  type CloseBatchResponse,
  type DeclinableResponse,
  type ListTransactionsResponse,
  type Money,
  type CancelRequest,
  type SettleRequest,
  type SettleWithCodeRequest,
  health,
  DRAINING_TRAILER_KEY,
  REFUSAL_TRAILER_KEY,
  isTerminalRefusalReason,
  type TerminalRefusalReason,
} from '@bluetill/protocol';
import pino from 'pino';
import { BackendError, refusalText, type BackendClient } from '../../common/ports/backend-client';
import {
  NodeSet,
  parseBackendAddresses,
  type Balance,
  type BackendNode,
  type NodeCounts,
} from './backend-nodes';

export interface GrpcBackendOptions {
  /**
   * host:port of the authorization server, or of several nodes (`h1:p1,h2:p2` or a list): the
   * till talks to settlement through them.
   */
  readonly authorizationAddress: string | readonly string[];
  /** host:port (or several) of the settlement servers, for GetSettlement (default: the authorization nodes). */
  readonly settlementAddress?: string | readonly string[];
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
  /** One attempt's deadline (ms); default 5 s. */
  readonly deadlineMs?: number;
  /** Most attempts of one call, across nodes (default 3). */
  readonly attempts?: number;
  /** Wait before trying a node again within one call (doubling); default 200 ms. */
  readonly backoffMs?: number;
  /** `round_robin` (default): each call starts at the next node; `pick_first`: the first node that serves. */
  readonly balance?: Balance;
  /** How often a node that is down is checked again (ms); default 1 s. */
  readonly recheckMs?: number;
  /** Where a refusal of this till, and a node going down or coming back, is logged; default JSON lines on standard error. */
  readonly log?: {
    warn(fields: object, message: string): void;
    info?(fields: object, message: string): void;
  };
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

/**
 * How an attempt failed, for fail-over: `not_sent` — the call reached no use case (no connection,
 * a stream the server refused, the node draining, the deadline passed waiting for a connection);
 * `uncertain` — it may have (reset, no answer in time); null — the node answered.
 */
export function transportFailure(e: unknown): 'not_sent' | 'uncertain' | null {
  if (e instanceof DeclineTrailerError || typeof e !== 'object' || e === null) return null;
  const err = e as Partial<ServiceError>;
  const details = err.details ?? '';
  switch (err.code) {
    case status.UNAVAILABLE: {
      const draining = err.metadata?.get(DRAINING_TRAILER_KEY)[0];
      if (draining !== undefined && String(draining) === '1') return 'not_sent';
      if (/No connection established|Stream refused by server/.test(details)) return 'not_sent';
      return 'uncertain';
    }
    case status.DEADLINE_EXCEEDED:
      // grpc-js names what the call was waiting for: still for a connection means never sent.
      return /Waiting for LB pick/.test(details) ? 'not_sent' : 'uncertain';
    case status.INTERNAL:
      return /RST_STREAM/.test(details) ? 'uncertain' : null;
    default:
      return null;
  }
}

type Channel = { close(): void; getChannel(): ReturnType<Client['getChannel']> };

export class GrpcBackendClient implements BackendClient {
  private readonly auth: NodeSet<AuthorizationClient>;
  private readonly settlement: NodeSet<SettlementClient>;
  private readonly deadlineMs: number;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private log:
    { warn(fields: object, message: string): void; info?(fields: object, message: string): void } | undefined;
  private readonly refusalsLogged = new Map<string, number>();

  constructor(private readonly o: GrpcBackendOptions) {
    this.log = o.log;
    const creds = channelCredentials(o);
    const authAddresses = parseBackendAddresses(o.authorizationAddress, 'authorization address');
    const settlementAddresses = o.settlementAddress
      ? parseBackendAddresses(o.settlementAddress, 'settlement address')
      : authAddresses;
    this.deadlineMs = o.deadlineMs ?? 5_000;
    this.attempts = o.attempts ?? 3;
    this.backoffMs = o.backoffMs ?? 200;
    const common = {
      balance: o.balance ?? 'round_robin',
      recheckMs: o.recheckMs ?? 1_000,
      checkTimeoutMs: Math.min(this.deadlineMs, 2_000),
      onChange: (node: string, up: boolean, reason: string) => this.nodeChanged(node, up, reason),
    } as const;
    this.auth = new NodeSet(authAddresses, AuthorizationClient, creds, {
      ...common,
      service: 'bluetill.v1.Authorization',
    });
    this.settlement = new NodeSet(settlementAddresses, SettlementClient, creds, {
      ...common,
      service: 'bluetill.v1.Settlement',
    });
  }

  challenge(): Promise<ChallengeResponse> {
    return this.call('Challenge', this.auth, 'any', (c, d) =>
      this.unary(c, 'challenge', { terminalId: this.o.terminalId }, d),
    );
  }

  /** Authorization.GetOfflineParameters: the card company's signed offline parameters for this till (checked by the caller). */
  getOfflineParameters(): Promise<SignedOfflineParameters> {
    return this.call('GetOfflineParameters', this.auth, 'any', (c, d) =>
      this.unary(c, 'getOfflineParameters', { terminalId: this.o.terminalId }, d),
    );
  }

  authorize(req: AuthorizeRequest): Promise<AuthorizeResponse> {
    return this.call('Authorize', this.auth, 'authorize', (c, d) =>
      this.unary(c, 'authorize', req, d, AuthorizeResponse.decode),
    );
  }

  settle(req: SettleRequest): Promise<SettleResponse> {
    return this.call('Settle', this.auth, 'any', (c, d) =>
      this.unary(c, 'settle', req, d, SettleResponse.decode),
    );
  }

  cancel(req: CancelRequest): Promise<SettleResponse> {
    return this.call('Cancel', this.auth, 'any', (c, d) =>
      this.unary(c, 'cancel', req, d, SettleResponse.decode),
    );
  }

  settleWithCode(req: SettleWithCodeRequest): Promise<SettleResponse> {
    return this.call('SettleWithCode', this.auth, 'any', (c, d) =>
      this.unary(c, 'settleWithCode', req, d, SettleResponse.decode),
    );
  }

  /** A sale approved offline, forwarded; idempotent on its offline id (retried like Settle). */
  forwardOffline(req: ForwardOfflineRequest): Promise<SettleResponse> {
    return this.call('ForwardOffline', this.settlement, 'any', (c, d) =>
      this.unary(c, 'forwardOffline', req, d, SettleResponse.decode),
    );
  }

  async getSettlement(terminalTxnId: string): Promise<SettleResponse | null> {
    try {
      return await this.call('GetSettlement', this.settlement, 'any', (c, d) =>
        this.unary(
          c,
          'getSettlement',
          { terminalId: this.o.terminalId, terminalTxnId },
          d,
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
   * grpc.health.v1 Check of the Authorization service on every authorization node at once:
   * resolves when at least one is SERVING (nodes(), after it, says how many); anything else is a
   * BackendError. No business method is called, so the backend's request metrics see the probe as
   * health checks, not as lookups that found nothing. A refusal of this till by any node wins.
   */
  async probe(): Promise<void> {
    const answers = await Promise.all(
      this.auth.nodes.map((n) => n.check('bluetill.v1.Authorization', this.deadlineMs)),
    );
    let serving = 0;
    let notServing: string | undefined;
    let failure: unknown;
    answers.forEach((r, i) => {
      const node = this.auth.nodes[i]!;
      if (r instanceof Error) {
        const e = r as ServiceError;
        if (e.code === status.PERMISSION_DENIED && refusalReasonOf(e)) failure = this.refused('Health', e);
        else failure ??= e;
        this.auth.failed(node, `health: ${e.details ?? e.message}`);
      } else if (r.status !== health.HealthCheckResponse_ServingStatus.SERVING) {
        notServing = health.HealthCheckResponse_ServingStatus[r.status] ?? 'not serving';
        this.auth.failed(node, `health: ${notServing}`);
      } else {
        serving++;
        this.auth.answered(node);
      }
    });
    if (failure instanceof BackendError) throw failure;
    if (serving > 0) return;
    if (notServing !== undefined)
      throw new BackendError('unavailable', `Health: the authorization service is ${notServing}`);
    throw this.translate('Health', failure);
  }

  /** How many authorization nodes serve, as the last calls and checks found them. */
  nodes(): NodeCounts {
    return this.auth.counts();
  }

  /** Calls answered per authorization node (host:port → count), for figures. */
  callsPerNode(): Record<string, number> {
    return Object.fromEntries(this.auth.nodes.map((n) => [n.address, n.calls]));
  }

  refund(req: { terminalTxnId: string; refundTxnId: string; amount: Money }): Promise<RefundResponse> {
    return this.call('Refund', this.auth, 'any', (c, d) =>
      this.unary(c, 'refund', { terminalId: this.o.terminalId, ...req }, d, RefundResponse.decode),
    );
  }

  voidSale(terminalTxnId: string): Promise<VoidResponse> {
    return this.call('Void', this.auth, 'any', (c, d) =>
      this.unary(c, 'void', { terminalId: this.o.terminalId, terminalTxnId }, d, VoidResponse.decode),
    );
  }

  closeBatch(closeRequestId: string): Promise<CloseBatchResponse> {
    return this.call('CloseBatch', this.auth, 'any', (c, d) =>
      this.unary(c, 'closeBatch', { terminalId: this.o.terminalId, closeRequestId }, d),
    );
  }

  listTransactions(fromMs: number, toMs: number): Promise<ListTransactionsResponse> {
    return this.call('ListTransactions', this.auth, 'any', (c, d) =>
      this.unary(c, 'listTransactions', { terminalId: this.o.terminalId, fromMs, toMs }, d),
    );
  }

  /** Resolves once one authorization node and one settlement node are connected; rejects after timeoutMs. */
  async waitForReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const ready = (c: Channel & { waitForReady(d: number, cb: (e?: Error) => void): void }) =>
      new Promise<void>((resolve, reject) => c.waitForReady(deadline, (e) => (e ? reject(e) : resolve())));
    try {
      await Promise.all([
        Promise.any(this.auth.nodes.map((n) => ready(n.client))),
        Promise.any(this.settlement.nodes.map((n) => ready(n.client))),
      ]);
    } catch (e) {
      throw new BackendError('unavailable', 'backend not reachable', { cause: e });
    }
  }

  close(): void {
    this.auth.close();
    this.settlement.close();
  }

  /** One attempt on one node; `declined` (the response message's decoder) turns a decline status back into its response value. */
  private unary<Res>(
    client: Client,
    method: string,
    req: unknown,
    deadline: number,
    declined?: Res extends DeclinableResponse ? (bytes: Uint8Array) => Res : never,
  ): Promise<Res> {
    const fn = (
      client as unknown as Record<
        string,
        (r: unknown, o: { deadline: number }, cb: (e: ServiceError | null, r: Res) => void) => void
      >
    )[method]!;
    return callDeclinable<Res>((cb) => fn.call(client, req, { deadline }, cb), declined);
  }

  /**
   * One call over the nodes (the table in the header): the next node in the set's order per
   * attempt; `authorize` moves on after an uncertain failure only to a node not yet tried, once.
   */
  private async call<C extends Client, Res>(
    what: string,
    set: NodeSet<C>,
    rule: 'any' | 'authorize',
    attempt: (client: C, deadline: number) => Promise<Res>,
  ): Promise<Res> {
    const order = set.order();
    let last: unknown;
    let uncertain = false;
    for (let i = 0; i < this.attempts; i++) {
      // Authorize goes to each node once at most: the phone waits for its answer.
      if (rule === 'authorize' && i >= order.length) break;
      const node: BackendNode<C> = order[i % order.length]!;
      if (i >= order.length)
        await new Promise((r) => setTimeout(r, this.backoffMs * 2 ** (Math.floor(i / order.length) - 1)));
      try {
        const res = await attempt(node.client, Date.now() + this.deadlineMs);
        set.answered(node);
        if (uncertain && (res as Partial<AuthorizeResponse>).declineReason === 'unpredictable_number_invalid')
          throw new BackendError(
            'deadline',
            `${what}: no answer from ${order[0]!.address} in time, and the challenge is used up there; the outcome is unknown and nothing is charged`,
          );
        return res;
      } catch (e) {
        if (e instanceof BackendError) throw e;
        last = e;
        const failure = transportFailure(e);
        if (!failure) break;
        set.failed(node, `${what}: ${(e as ServiceError).details ?? String(e)}`);
        if (rule === 'authorize' && failure === 'uncertain') {
          // Once, and only onto a node that has not seen this request.
          if (uncertain || i + 1 >= order.length) break;
          uncertain = true;
        }
      }
    }
    throw this.translate(what, last);
  }

  /** A node going down or coming back is logged when there are several (one node's state is the network's). */
  private nodeChanged(node: string, up: boolean, reason: string): void {
    if (this.auth.nodes.length < 2 && this.settlement.nodes.length < 2) return;
    this.log ??= pino({ name: 'till-backend' }, pino.destination({ fd: 2, sync: false }));
    const fields = {
      event: up ? 'backend_node_up' : 'backend_node_down',
      terminalId: this.o.terminalId,
      node,
      reason,
    };
    if (up) (this.log.info ?? this.log.warn).call(this.log, fields, `backend node ${node} serves again`);
    else this.log.warn(fields, `backend node ${node} left out: ${reason}`);
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
