/**
 * The till's offline mode: approving a sale the card approved offline while the card company is
 * unreachable, and forwarding those sales once it is back. One object, wired in the composition
 * root, over the offline journal (ports/offline-journal.ts) and the card company's ForwardOffline.
 *
 * Approving (`approve`), in order, nothing told to the shopper before the last step:
 * 1. checkOfflineApproval: the card's TC under the CA keys the till holds, CDA over the till's
 *    amount and UN, an ATC new in the journal, the cardholder verified on the card;
 * 2. decideOffline: the card company unreachable (typed, from the backend client), the card not on
 *    the till's block list, the floor limit, the card's daily count and amount, the till's exposure,
 *    with the policy's state rebuilt from the journal (a restart loses no allowance used, and the
 *    clock reading it counts days by never goes back);
 * 3. the approval journaled (on disk), then the till-signed offline receipt for the phone.
 * Anything outside is the decline "card company unreachable" with the check that stopped it.
 *
 * Forwarding (`forward`): the journal's open sales in the order approved, one at a time, each
 * marked 'forwarding' before it leaves and judged when the answer comes; the request is the one
 * journaled (byte for byte), so a repeat after a lost answer or a restart gets the card company's
 * stored answer and nothing settles twice. A network failure stops the round; the next resumes.
 */
import { createHmac, randomBytes, type KeyObject } from 'node:crypto';
import {
  ForwardOfflineRequest,
  Receipt,
  SettleResponse,
  maskPan,
  OFFLINE_ID_PREFIX,
  signOfflineReceipt,
  type Item,
  type OfflineTcEvidence,
  type RsaPublicKey,
  type SignedOfflineReceipt,
} from '@bluetill/protocol';
import { businessDayBounds, businessDate } from '../business-day';
import { BackendError } from '../ports/backend-client';
import type { OfflineJournal, OfflineSaleRecord, OfflineSaleState } from '../ports/offline-journal';
import { checkOfflineApproval, type OfflineApprovalRefusal, type TillAcRequest } from './offline-approval';
import { fixedOfflineRules, type OfflineRules, type ParametersRefresh } from './offline-parameters';
import {
  checkOfflinePolicyLimits,
  decideOffline,
  type BackendReachability,
  type BlockList,
  type CardAllowance,
  type OfflineLimitName,
  type OfflinePolicyLimits,
  type OfflinePolicyState,
} from './offline-policy';

/** The card company's side, as the desk needs it (the backend client implements it). */
export interface OfflineForwarder {
  /** Settlement.ForwardOffline; idempotent on the offline id. Rejects with a BackendError when there is no answer. */
  forwardOffline(req: ForwardOfflineRequest): Promise<SettleResponse>;
}

export type OfflineApprovalResult =
  | {
      readonly approved: true;
      readonly offlineId: string;
      readonly maskedPan: string;
      readonly atc: number;
      readonly receipt: SignedOfflineReceipt;
    }
  | {
      readonly approved: false;
      readonly decline: 'card_company_unreachable';
      /** The check that stopped it: the card's proof, or the till's limit. */
      readonly reason: OfflineApprovalRefusal | OfflineLimitName;
    };

export interface ForwardedSale {
  readonly offlineId: string;
  readonly state: Extract<OfflineSaleState, 'settled' | 'merchant_loss' | 'declined'>;
  readonly amountMinor: number;
  readonly reason: string | null;
  readonly receipt: Receipt | null;
}

export interface ForwardReport {
  readonly forwarded: readonly ForwardedSale[];
  /** Sales still open after this round (the network failed midway). */
  readonly remaining: number;
  /** Why the round stopped early; null when everything open was forwarded. */
  readonly stoppedBy: BackendError | null;
}

/** What the cashier's status line shows. */
export interface OfflineStatus {
  /** Approved offline, not yet judged by the card company. */
  readonly open: number;
  readonly exposureMinor: number;
  /** 0 while no offline parameters are in force. */
  readonly exposureLimitMinor: number;
  /** Whether offline approvals are possible now: the card company's parameters in force. */
  readonly available: boolean;
  /** Until when the parameters held are in force; null without any (or for limits set in code). */
  readonly validUntilMs: number | null;
  /** Today's offline sales the card company did not honour (the merchant's loss). */
  readonly lossesToday: number;
  readonly lossMinorToday: number;
}

export interface OfflineDeskOptions {
  readonly terminalId: string;
  readonly merchantId: string;
  readonly merchantName: string;
  /** The till's terminal key: it signs the offline receipts (the key of the HelloAck's certificate). */
  readonly terminalKey: KeyObject;
  readonly journal: OfflineJournal;
  /**
   * What approvals are decided by: the card company's parameters (OfflineParametersCopy), or
   * `limits` and `blockList` set in code (fixedOfflineRules) when absent.
   */
  readonly rules?: OfflineRules;
  readonly limits?: OfflinePolicyLimits;
  readonly blockList?: BlockList;
  /** The scheme CA public keys the till holds, by index. */
  readonly caKeys: ReadonlyMap<number, RsaPublicKey>;
  /** Key of the card keys (HMAC-SHA256 of PAN and PSN): the journal never holds a card number in clear. */
  readonly cardKeySecret: Uint8Array;
  readonly forwarder: OfflineForwarder;
  readonly clock: { now(): number };
  /** Sales judged by the card company, as they are (the cashier is told each loss). */
  readonly onForwarded?: (sale: ForwardedSale) => void;
}

/** How often the parameters are fetched while the till runs (a fetch also follows each forwarding round). */
export const OFFLINE_PARAMETERS_REFRESH_MS = 10 * 60_000;

export class OfflineDesk {
  private counter = 0;
  private round: Promise<ForwardReport> | null = null;
  private readonly listeners = new Set<(sale: ForwardedSale) => void>();
  private readonly refreshListeners = new Set<(r: ParametersRefresh) => void>();
  private readonly rules: OfflineRules;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly o: OfflineDeskOptions) {
    if (o.rules) this.rules = o.rules;
    else if (o.limits) {
      checkOfflinePolicyLimits(o.limits);
      this.rules = fixedOfflineRules(o.limits, o.blockList);
    } else throw new Error('offline mode needs the card company parameters or limits set in code');
    if (o.cardKeySecret.length < 16) throw new Error('card key secret must be at least 16 bytes');
  }

  /** Fetches the parameters now and every `everyMs` (0: only now) until stop(). */
  async start(everyMs = OFFLINE_PARAMETERS_REFRESH_MS): Promise<void> {
    if (everyMs > 0 && !this.timer) {
      this.timer = setInterval(() => void this.refreshParameters().catch(() => undefined), everyMs);
      this.timer.unref();
    }
    await this.refreshParameters();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Hears each fetch of the parameters (the till tells the cashier when offline mode is lost). */
  onParametersRefreshed(listener: (r: ParametersRefresh) => void): () => void {
    this.refreshListeners.add(listener);
    return () => this.refreshListeners.delete(listener);
  }

  /** Fetches the card company's parameters (null with limits set in code). */
  async refreshParameters(): Promise<ParametersRefresh | null> {
    if (!this.rules.refresh) return null;
    const r = await this.rules.refresh();
    for (const l of this.refreshListeners) l(r);
    return r;
  }

  /** Whether the parameters are in force at the offline policy's clock. */
  available(): boolean {
    return this.rules.inForce(this.policyClock(this.o.clock.now())) !== null;
  }

  private policyClock(nowMs: number): number {
    return Math.max(this.o.journal.highestTime(), nowMs);
  }

  /** Hears each sale the card company judged, as it is journaled (the till tells the cashier). */
  onForwardedSale(listener: (sale: ForwardedSale) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The card's key in the journal and on the block list (never the number itself). */
  cardKey(pan: string, psn: number): string {
    return createHmac('sha256', this.o.cardKeySecret).update(`${pan}/${psn}`).digest('base64url');
  }

  /** An unpredictable number from the till's own CSPRNG, for a sale it may approve offline. */
  static unpredictableNumber(): Uint8Array {
    return new Uint8Array(randomBytes(4));
  }

  /** The policy's state as the journal has it: the clock never set back, exposure and allowances used. */
  policyState(nowMs: number): OfflinePolicyState {
    const highestTimeMs = this.policyClock(nowMs);
    const day = businessDate(highestTimeMs, this.rules.timeZone);
    const { startMs } = businessDayBounds(day, this.rules.timeZone);
    const cards = new Map<string, CardAllowance>();
    for (const s of this.o.journal.since(startMs)) {
      const used = cards.get(s.cardKey) ?? { day, count: 0, amountMinor: 0 };
      cards.set(s.cardKey, { day, count: used.count + 1, amountMinor: used.amountMinor + s.amountMinor });
    }
    const exposureMinor = this.o.journal.open().reduce((sum, s) => sum + s.amountMinor, 0);
    return { highestTimeMs, exposureMinor, cards };
  }

  /**
   * Decides a sale the card answered offline. `backend`: what the backend client saw (only
   * 'unreachable' allows offline). Resolves approved only once the approval is on disk.
   */
  async approve(i: {
    readonly request: TillAcRequest;
    readonly evidence: OfflineTcEvidence;
    readonly backend: BackendReachability;
    readonly items: readonly Item[];
  }): Promise<OfflineApprovalResult> {
    const now = this.o.clock.now();
    const journal = this.o.journal;
    const checked = checkOfflineApproval({
      request: i.request,
      evidence: i.evidence,
      caKeys: this.o.caKeys,
      journal: { hasAtc: (card, atc) => journal.hasAtc(this.cardKey(card.pan, card.psn), atc) },
      now: new Date(now),
    });
    if (!checked.ok) return { approved: false, decline: 'card_company_unreachable', reason: checked.reason };
    const tc = checked.tc;
    const cardKey = this.cardKey(tc.pan, tc.psn);
    const state = this.policyState(now);
    const rules = this.rules.inForce(state.highestTimeMs);
    if (!rules) {
      journal.raiseHighestTime(state.highestTimeMs);
      return { approved: false, decline: 'card_company_unreachable', reason: 'no_parameters' };
    }
    const card = { pan: tc.pan, psn: tc.psn, cardKey };
    const blockList: BlockList = { has: (key) => key === cardKey && rules.blocked(card) };
    const { decision } = decideOffline(state, rules.limits, blockList, {
      nowMs: now,
      backend: i.backend,
      cardKey,
      amount: i.request.amount,
    });
    journal.raiseHighestTime(state.highestTimeMs);
    if (!decision.approved)
      return { approved: false, decline: 'card_company_unreachable', reason: decision.limit };
    const approvedAt = state.highestTimeMs;
    const offlineId = `${OFFLINE_ID_PREFIX}${this.o.terminalId}-${approvedAt.toString(36)}-${(++this.counter).toString(36)}-${randomBytes(3).toString('hex')}`;
    const request: ForwardOfflineRequest = {
      terminalId: this.o.terminalId,
      offlineId,
      merchantId: this.o.merchantId,
      tc: { ...i.evidence },
      amount: i.request.amount,
      items: [...i.items],
      approvedAtMs: approvedAt,
    };
    const maskedPan = maskPan(tc.pan);
    await journal.record({
      offlineId,
      request: ForwardOfflineRequest.encode(request).finish(),
      cardKey,
      atc: tc.atc,
      amountMinor: i.request.amount.minor,
      currency: i.request.amount.currency,
      maskedPan,
      approvedAt,
    });
    const receipt = signOfflineReceipt(
      {
        terminalId: this.o.terminalId,
        offlineId,
        merchantName: this.o.merchantName,
        maskedPan,
        items: i.items,
        total: i.request.amount,
        atc: tc.atc,
        approvedAtMs: approvedAt,
      },
      this.o.terminalKey,
    );
    return { approved: true, offlineId, maskedPan, atc: tc.atc, receipt };
  }

  /** Forwards every open sale in order, each once; one round at a time (a second call joins it). */
  forward(): Promise<ForwardReport> {
    this.round ??= this.forwardRound()
      .then((report) => {
        // The card company answered: the block list and limits are fetched again (a card found
        // blocked while forwarding is on the till's list before the next offline sale).
        if (!report.stoppedBy && report.forwarded.length > 0)
          void this.refreshParameters().catch(() => undefined);
        return report;
      })
      .finally(() => {
        this.round = null;
      });
    return this.round;
  }

  status(): OfflineStatus {
    const now = this.o.clock.now();
    const state = this.policyState(now);
    const day = businessDate(state.highestTimeMs, this.rules.timeZone);
    const losses = this.o.journal
      .since(businessDayBounds(day, this.rules.timeZone).startMs)
      .filter((s) => s.state === 'merchant_loss');
    const rules = this.rules.inForce(state.highestTimeMs);
    return {
      open: this.o.journal.open().length,
      exposureMinor: state.exposureMinor,
      exposureLimitMinor: rules?.limits.exposureMinor ?? 0,
      available: rules !== null,
      validUntilMs: rules?.validUntilMs ?? null,
      lossesToday: losses.length,
      lossMinorToday: losses.reduce((sum, s) => sum + s.amountMinor, 0),
    };
  }

  private async forwardRound(): Promise<ForwardReport> {
    const forwarded: ForwardedSale[] = [];
    const open = this.o.journal.open();
    for (let k = 0; k < open.length; k++) {
      const sale = open[k]!;
      this.o.journal.transition(sale.offlineId, 'forwarding', null, this.o.clock.now());
      let res: SettleResponse;
      try {
        res = await this.o.forwarder.forwardOffline(ForwardOfflineRequest.decode(sale.request));
      } catch (error) {
        if (!(error instanceof BackendError)) throw error;
        return { forwarded, remaining: open.length - k, stoppedBy: error };
      }
      const judged = this.judged(sale, res);
      this.o.journal.transition(
        sale.offlineId,
        judged.state,
        { response: SettleResponse.encode(res).finish(), lossReason: judged.reason },
        this.o.clock.now(),
      );
      forwarded.push(judged);
      this.o.onForwarded?.(judged);
      for (const l of this.listeners) l(judged);
    }
    return { forwarded, remaining: 0, stoppedBy: null };
  }

  private judged(sale: OfflineSaleRecord, res: SettleResponse): ForwardedSale {
    let receipt: Receipt | null = null;
    try {
      receipt = res.receipt ? Receipt.decode(res.receipt.receipt) : null;
    } catch {
      receipt = null;
    }
    const state: ForwardedSale['state'] = res.approved
      ? 'settled'
      : res.declineReason === 'offline_merchant_loss'
        ? 'merchant_loss'
        : 'declined';
    const reason = res.approved ? null : receipt?.lossReason || res.declineReason || 'declined';
    return { offlineId: sale.offlineId, state, amountMinor: sale.amountMinor, reason, receipt };
  }
}
