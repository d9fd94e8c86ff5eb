/**
 * The backend nodes a till balances its calls over: one grpc-js channel per node (`host:port`),
 * picked per call in round-robin order, nodes known to be down last. A node is down after a
 * call or a health check on it failed at the transport (refused, reset, no answer in time, the
 * node draining or NOT_SERVING); while down it is checked again every `recheckMs` with a
 * grpc.health.v1 Check and comes back when that says SERVING, or when a call on it answers.
 *
 * Why not grpc-js's own `round_robin` over several addresses in one channel: grpc-js (1.14) has
 * no client-side health checking, so a draining node that still accepts connections keeps its
 * share of calls; its retry policy has no per-attempt timeout, so a call on a stopped node holds
 * the whole deadline; it cannot say which calls may be retried after they may have reached a node
 * (Authorize, below); and the till's status line wants each node's health. A channel per node
 * keeps those decisions here, each node's TLS name checked against its own address.
 */
import { connectivityState, Metadata, type ChannelCredentials } from '@grpc/grpc-js';
import { health } from '@bluetill/protocol';

/** Splits `h1:p1,h2:p2` (or a list) into checked, distinct `host:port` addresses. */
export function parseBackendAddresses(spec: string | readonly string[], what = 'backend'): string[] {
  const parts = (typeof spec === 'string' ? spec.split(',') : [...spec]).map((a) => a.trim());
  if (parts.length === 0 || parts.every((a) => a === ''))
    throw new TypeError(`${what}: give at least one HOST:PORT`);
  const seen = new Set<string>();
  for (const a of parts) {
    const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(a);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 1 || port > 65_535)
      throw new TypeError(`${what}: "${a}" is not HOST:PORT (several nodes: HOST:PORT,HOST:PORT,…)`);
    if (seen.has(a)) throw new TypeError(`${what}: ${a} is given twice`);
    seen.add(a);
  }
  return parts;
}

/** Channel options every node's channel gets. */
export const NODE_CHANNEL_OPTIONS = {
  // Reconnect quickly after a node comes back (grpc-js defaults back off up to 120 s).
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2_000,
  // A node that stops answering (a hung or stopped process keeps its TCP connection open) is
  // noticed within ~3 s by HTTP/2 pings, idle or not, and its channel leaves READY.
  'grpc.keepalive_time_ms': 2_000,
  'grpc.keepalive_timeout_ms': 1_000,
  'grpc.keepalive_permit_without_calls': 1,
} as const;

export interface NodeCounts {
  /** Nodes believed to serve. */
  readonly up: number;
  readonly total: number;
}

type ClientCtor<C> = new (address: string, creds: ChannelCredentials, options: object) => C;

export class BackendNode<
  C extends { close(): void; getChannel(): { getConnectivityState(c: boolean): connectivityState } },
> {
  readonly client: C;
  readonly health: health.HealthClient;
  /** Down since (ms since the epoch), or null while it serves. */
  downSince: number | null = null;
  downReason = '';
  calls = 0;
  private recheck: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly address: string,
    ctor: ClientCtor<C>,
    creds: ChannelCredentials,
  ) {
    this.client = new ctor(address, creds, NODE_CHANNEL_OPTIONS);
    this.health = new health.HealthClient(address, creds, NODE_CHANNEL_OPTIONS);
  }

  /** Up and its channel not failing right now. */
  get usable(): boolean {
    if (this.downSince !== null) return false;
    return this.client.getChannel().getConnectivityState(false) !== connectivityState.TRANSIENT_FAILURE;
  }

  /** Asks the node's health service once; resolves to whether it is SERVING. */
  check(service: string, timeoutMs: number): Promise<health.HealthCheckResponse | Error> {
    return new Promise((resolve) =>
      this.health.check({ service }, new Metadata(), { deadline: Date.now() + timeoutMs }, (e, r) =>
        resolve(e ?? r),
      ),
    );
  }

  close(): void {
    if (this.recheck) clearTimeout(this.recheck);
    this.recheck = null;
    this.client.close();
    this.health.close();
  }

  /** @internal NodeSet's */
  schedule(fn: () => void, ms: number): void {
    if (this.recheck) return;
    this.recheck = setTimeout(() => {
      this.recheck = null;
      fn();
    }, ms);
    this.recheck.unref?.();
  }
}

export type Balance = 'round_robin' | 'pick_first';

export interface NodeSetOptions {
  readonly balance: Balance;
  /** How often a node that is down is checked again (ms). */
  readonly recheckMs: number;
  /** The grpc.health.v1 service name checked. */
  readonly service: string;
  readonly checkTimeoutMs: number;
  /** Told when a node goes down or comes back. */
  readonly onChange?: (node: string, up: boolean, reason: string) => void;
}

/** Nodes of one kind (authorization or settlement addresses) and the order a call tries them in. */
export class NodeSet<
  C extends { close(): void; getChannel(): { getConnectivityState(c: boolean): connectivityState } },
> {
  readonly nodes: ReadonlyArray<BackendNode<C>>;
  private next = 0;
  private closed = false;

  constructor(
    addresses: readonly string[],
    ctor: ClientCtor<C>,
    creds: ChannelCredentials,
    private readonly o: NodeSetOptions,
  ) {
    this.nodes = addresses.map((a) => new BackendNode(a, ctor, creds));
  }

  /**
   * The order one call tries the nodes in: usable nodes first (round robin: starting one further
   * along each call; pick_first: in the order given), then the others, as a last resort.
   */
  order(): Array<BackendNode<C>> {
    const n = this.nodes.length;
    const start = this.o.balance === 'round_robin' ? this.next++ % n : 0;
    const ring = Array.from({ length: n }, (_, i) => this.nodes[(start + i) % n]!);
    return [...ring.filter((x) => x.usable), ...ring.filter((x) => !x.usable)];
  }

  counts(): NodeCounts {
    return { up: this.nodes.filter((x) => x.downSince === null).length, total: this.nodes.length };
  }

  /** A call on the node answered: it serves. */
  answered(node: BackendNode<C>): void {
    node.calls++;
    if (node.downSince !== null) this.mark(node, true, 'answered');
  }

  /** A call or check on the node failed at the transport: leave it out, and check it again later. */
  failed(node: BackendNode<C>, reason: string): void {
    if (node.downSince === null) this.mark(node, false, reason);
    this.watch(node);
  }

  /** Checks every node now (the till's network probe); returns how many serve. */
  async checkAll(): Promise<NodeCounts> {
    await Promise.all(this.nodes.map((x) => this.checkOne(x)));
    return this.counts();
  }

  close(): void {
    this.closed = true;
    for (const x of this.nodes) x.close();
  }

  private async checkOne(node: BackendNode<C>): Promise<void> {
    const r = await node.check(this.o.service, this.o.checkTimeoutMs);
    if (this.closed) return;
    if (r instanceof Error) return this.failed(node, `health: ${r.message}`);
    if (r.status !== health.HealthCheckResponse_ServingStatus.SERVING)
      return this.failed(
        node,
        `health: ${health.HealthCheckResponse_ServingStatus[r.status] ?? 'not serving'}`,
      );
    if (node.downSince !== null) this.mark(node, true, 'health: SERVING');
  }

  private watch(node: BackendNode<C>): void {
    if (this.closed) return;
    node.schedule(() => {
      void this.checkOne(node).then(() => {
        if (node.downSince !== null) this.watch(node);
      });
    }, this.o.recheckMs);
  }

  private mark(node: BackendNode<C>, up: boolean, reason: string): void {
    node.downSince = up ? null : Date.now();
    node.downReason = up ? '' : reason;
    this.o.onChange?.(node.address, up, reason);
  }
}
