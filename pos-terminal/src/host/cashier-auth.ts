/**
 * Who may drive the till: the session gate in front of the CashierHost, shared by the headless
 * server (one session per WebSocket) and Electron main (one per window).
 *
 * - A page signs in with a cashier id and PIN/password (`auth:sign-in`), checked against the
 *   till's cashiers file (salted scrypt hashes, cashiers-file.ts); until then every channel but
 *   the `auth:*` ones answers `unauthenticated` and no event is pushed to it. A page that lost its
 *   connection signs in again with the resume token it got (memory only, 12 h, gone at sign-out).
 * - A script presents the API token (api-token.ts) when it connects: its session is a cashier's.
 * - Five failed sign-ins (or approvals) for one id lock that id for a minute (`rate_limited`).
 * - A refund or void above the till's limit, and the day's close, need a manager: either the
 *   signed-in cashier is one, or the request carries a manager's id and secret (`approval`),
 *   entered at the till for that one action. Else `approval_required`.
 * Secrets are never logged, echoed or kept beyond the check.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  isAuthChannel,
  isRequestChannel,
  type Approval,
  type CashierSessionView,
  type RequestChannel,
} from '../common/ipc/channels';
import { parseRequest } from '../common/ipc/schemas';
import { ApiError } from '../common/ipc/till-api';
import {
  decoyRecord,
  verifyCashierSecret,
  type CashierRole,
  type CashiersFile,
} from '../adapters/auth/cashiers-file';

export interface Principal {
  readonly cashierId: string;
  readonly name: string;
  readonly role: CashierRole;
}

/** What a script's API token signs in as. */
export const API_TOKEN_PRINCIPAL: Principal = { cashierId: 'api-token', name: 'API token', role: 'cashier' };

export interface CashierAuthOptions {
  readonly cashiers: CashiersFile;
  /** The scripts' token; none: no script may connect. */
  readonly apiToken?: string | null;
  readonly clock?: { now(): number };
  readonly lockAfter?: number;
  readonly lockMs?: number;
  readonly resumeMs?: number;
}

/** What the gate needs from the host: run a request, and the total of a sale in its receipt store. */
export interface GatedHost {
  invoke(channel: string, payload: unknown): Promise<unknown>;
  saleTotalMinor(terminalTxnId: string): number | undefined;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();
const MAX_TRACKED_IDS = 1_000;

export class CashierAuth {
  private readonly clock: { now(): number };
  private readonly failures = new Map<string, { count: number; lockedUntil: number }>();
  private readonly resumes = new Map<string, { principal: Principal; expires: number }>();
  private readonly tokenHash: Buffer | null;

  constructor(private readonly o: CashierAuthOptions) {
    this.clock = o.clock ?? { now: () => Date.now() };
    this.tokenHash = o.apiToken ? sha256(o.apiToken) : null;
  }

  get approvalLimitMinor(): number {
    return this.o.cashiers.approvalLimitMinor;
  }

  /** Constant-time check of a presented API token. */
  checkToken(presented: string | undefined): boolean {
    if (!this.tokenHash || !presented) return false;
    return timingSafeEqual(sha256(presented), this.tokenHash);
  }

  /** The cashier with this id and secret, or ApiError('unauthenticated' | 'rate_limited'). Unknown ids cost the same scrypt. */
  async verify(cashierId: string, secret: string, role?: CashierRole): Promise<Principal> {
    const now = this.clock.now();
    const f = this.failures.get(cashierId);
    if (f && f.lockedUntil > now)
      throw new ApiError(
        'rate_limited',
        `Too many wrong tries for ${cashierId}: wait ${Math.ceil((f.lockedUntil - now) / 1000)} s`,
      );
    const record = this.o.cashiers.cashiers.find((c) => c.id === cashierId);
    const ok = await verifyCashierSecret(record ?? decoyRecord(), secret);
    if (!ok || !record) {
      this.fail(cashierId, now);
      throw new ApiError(
        role === 'manager' ? 'approval_required' : 'unauthenticated',
        role === 'manager' ? 'Manager id or PIN not recognised' : 'Cashier id or PIN not recognised',
      );
    }
    this.failures.delete(cashierId);
    if (role && record.role !== role)
      throw new ApiError('approval_required', `${record.name} is not a manager`);
    return { cashierId: record.id, name: record.name, role: record.role };
  }

  private fail(cashierId: string, now: number): void {
    const f = this.failures.get(cashierId) ?? { count: 0, lockedUntil: 0 };
    f.count++;
    if (f.count >= (this.o.lockAfter ?? 5)) {
      f.count = 0;
      f.lockedUntil = now + (this.o.lockMs ?? 60_000);
    }
    this.failures.delete(cashierId);
    this.failures.set(cashierId, f);
    if (this.failures.size > MAX_TRACKED_IDS) this.failures.delete(this.failures.keys().next().value!);
  }

  issueResume(principal: Principal): string {
    const token = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    for (const [k, v] of this.resumes) if (v.expires < now) this.resumes.delete(k);
    this.resumes.set(sha256(token).toString('hex'), {
      principal,
      expires: now + (this.o.resumeMs ?? 12 * 3600_000),
    });
    return token;
  }

  resume(token: string): Principal | null {
    const r = this.resumes.get(sha256(token).toString('hex'));
    return r && r.expires >= this.clock.now() ? r.principal : null;
  }

  endResume(token: string | null): void {
    if (token) this.resumes.delete(sha256(token).toString('hex'));
  }

  /** A session for one connection (a WebSocket, a window); `principal` when it is already known (an API token). */
  session(host: GatedHost, principal: Principal | null = null): CashierSession {
    return new CashierSession(this, host, principal);
  }
}

/** One connection's session: answers `auth:*`, refuses the rest until signed in, asks for a manager where needed. */
export class CashierSession {
  private resumeToken: string | null = null;
  private readonly signedIn = new Set<(p: Principal | null) => void>();

  constructor(
    private readonly auth: CashierAuth,
    private readonly host: GatedHost,
    private current: Principal | null,
  ) {}

  get principal(): Principal | null {
    return this.current;
  }

  /** Called with the principal on sign-in and with null on sign-out. */
  onChange(f: (p: Principal | null) => void): void {
    this.signedIn.add(f);
  }

  private set(p: Principal | null): void {
    this.current = p;
    for (const f of this.signedIn) f(p);
  }

  private view(p: Principal, resumeToken: string): CashierSessionView {
    return {
      cashierId: p.cashierId,
      name: p.name,
      role: p.role,
      approvalLimitMinor: this.auth.approvalLimitMinor,
      resumeToken,
    };
  }

  async invoke(channel: string, payload: unknown): Promise<unknown> {
    if (!isRequestChannel(channel))
      throw new ApiError('unknown_channel', `no channel "${channel.slice(0, 64)}"`);
    if (isAuthChannel(channel)) return this.authRequest(channel, payload);
    if (!this.current) throw new ApiError('unauthenticated', 'Sign in first');
    if (channel === 'receipt:refund' || channel === 'receipt:void' || channel === 'batch:close')
      return this.host.invoke(channel, await this.approved(channel, payload));
    return this.host.invoke(channel, payload);
  }

  private async authRequest(
    channel: 'auth:sign-in' | 'auth:resume' | 'auth:sign-out',
    payload: unknown,
  ): Promise<unknown> {
    switch (channel) {
      case 'auth:sign-in': {
        const req = this.parse(channel, payload);
        const p = await this.auth.verify(req.cashierId, req.secret);
        this.auth.endResume(this.resumeToken);
        this.resumeToken = this.auth.issueResume(p);
        this.set(p);
        return this.view(p, this.resumeToken);
      }
      case 'auth:resume': {
        const req = this.parse(channel, payload);
        const p = this.auth.resume(req.resumeToken);
        if (!p) throw new ApiError('unauthenticated', 'Signed out: sign in again');
        this.resumeToken = req.resumeToken;
        this.set(p);
        return this.view(p, req.resumeToken);
      }
      case 'auth:sign-out':
        this.parse(channel, payload);
        this.auth.endResume(this.resumeToken);
        this.resumeToken = null;
        this.set(null);
        return { signedOut: true };
    }
  }

  private parse<C extends RequestChannel>(channel: C, payload: unknown) {
    const parsed = parseRequest(channel, payload);
    if (!parsed.ok) throw new ApiError('bad_request', parsed.message);
    return parsed.value;
  }

  /** The payload without its approval, once a manager has approved where one is needed. */
  private async approved(
    channel: 'receipt:refund' | 'receipt:void' | 'batch:close',
    payload: unknown,
  ): Promise<unknown> {
    const req = this.parse(channel, payload) as {
      approval?: Approval;
      amountMinor?: number;
      terminalTxnId?: string;
    };
    const { approval, ...rest } = req;
    const limit = this.auth.approvalLimitMinor;
    const amount =
      channel === 'receipt:refund'
        ? req.amountMinor!
        : channel === 'receipt:void'
          ? this.host.saleTotalMinor(req.terminalTxnId!)
          : undefined;
    const needed = channel === 'batch:close' || amount === undefined || amount > limit;
    if (!needed || this.current?.role === 'manager') return rest;
    const what =
      channel === 'batch:close'
        ? 'Closing the day'
        : `A ${channel === 'receipt:refund' ? 'refund' : 'void'} above ${(limit / 100).toFixed(2)}`;
    if (!approval) throw new ApiError('approval_required', `${what} needs a manager's approval`);
    await this.auth.verify(approval.managerId, approval.secret, 'manager');
    return rest;
  }
}
