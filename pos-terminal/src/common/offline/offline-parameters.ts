/**
 * The till's copy of the card company's offline parameters (Authorization.GetOfflineParameters):
 * the floor limit, the till's offline exposure, the per-card daily count and amount, and the block
 * list, signed by the card company. The copy is what offline approvals are decided by
 * (offline-desk.ts); without one in force the till approves nothing offline ("card company
 * unreachable", limit `no_parameters`).
 *
 * - Fetched at the till's start, every few minutes while online, and after a forwarding round;
 *   each answer is checked (protocol's verifyOfflineParameters: the receipt key certified by the
 *   card company root, the signature, this terminal and merchant, within its validity, not older
 *   than the copy held) before it replaces the copy, which is kept in the journal file.
 * - At start the kept copy is checked again the same way (a copy edited on disk is dropped).
 * - In force while the clock reading the offline policy counts by (the highest seen, never set
 *   back) is before its validity: a till cut off from the card company stops approving offline
 *   then.
 * - A refusal of the till itself (its certificate revoked, the terminal unknown or inactive) drops
 *   the copy at once: a revoked till cannot go on claiming offline to phones.
 */
import type { KeyObject } from 'node:crypto';
import {
  OfflineParametersError,
  SignedOfflineParameters,
  blockListEntry,
  verifyOfflineParameters,
  type OfflineParameters,
} from '@bluetill/protocol';
import { BackendError } from '../ports/backend-client';
import { checkOfflinePolicyLimits, type OfflinePolicyLimits } from './offline-policy';

const limitsOf = (p: OfflineParameters, timeZone: string): OfflinePolicyLimits => ({
  currency: p.currency,
  floorLimitMinor: p.floorLimitMinor,
  perCardDailyCount: p.perCardDailyCount,
  perCardDailyAmountMinor: p.perCardDailyAmountMinor,
  exposureMinor: p.exposureMinor,
  timeZone,
});

/** Where the copy is kept (the offline journal implements it). */
export interface OfflineParametersStore {
  /** The copy kept (SignedOfflineParameters, encoded), or null. */
  loadParameters(): Uint8Array | null;
  keepParameters(signed: Uint8Array, issuedAtMs: number): void;
  dropParameters(): void;
}

/** The card company's side (the gRPC backend client implements it). */
export interface OfflineParametersSource {
  getOfflineParameters(): Promise<SignedOfflineParameters>;
}

/** A sale's card, for the block list: its number and sequence number, and the desk's card key. */
export interface OfflineCard {
  readonly pan: string;
  readonly psn: number;
  readonly cardKey: string;
}

/** What offline approvals are decided by at one moment. */
export interface OfflineRulesInForce {
  readonly limits: OfflinePolicyLimits;
  blocked(card: OfflineCard): boolean;
  /** Until when (ms since the epoch); null for rules set in code. */
  readonly validUntilMs: number | null;
}

/** The desk's source of limits and block list. */
export interface OfflineRules {
  /** The shop's time zone (its business day). */
  readonly timeZone: string;
  /** The rules in force at `nowMs` (the offline policy's clock), or null: no offline approvals. */
  inForce(nowMs: number): OfflineRulesInForce | null;
  /** Fetches a new copy where there is a card company to ask. */
  refresh?(): Promise<ParametersRefresh>;
}

/** Limits and a block list (by card key) set in code: tests, the simulator. */
export function fixedOfflineRules(
  limits: OfflinePolicyLimits,
  blockList: { has(cardKey: string): boolean } = { has: () => false },
): OfflineRules {
  const rules: OfflineRulesInForce = {
    limits,
    blocked: (card) => blockList.has(card.cardKey),
    validUntilMs: null,
  };
  return { timeZone: limits.timeZone, inForce: () => rules };
}

export type ParametersRefresh =
  /** The copy replaced (or the same issue confirmed). */
  | { readonly outcome: 'kept'; readonly issuedAtMs: number; readonly validUntilMs: number }
  /** No answer: the copy held stays (until its validity). */
  | { readonly outcome: 'unreachable'; readonly error: BackendError }
  /** The card company refused this till: the copy is dropped. */
  | { readonly outcome: 'dropped'; readonly error: BackendError }
  /** An answer that does not hold (or is older than the copy): refused, the copy held stays. */
  | { readonly outcome: 'refused'; readonly error: OfflineParametersError };

export interface OfflineParametersCopyOptions {
  readonly terminalId: string;
  readonly merchantId: string;
  readonly timeZone: string;
  /** The card company root (P-256 public key): it certifies the key the parameters are signed with. */
  readonly cardCompanyRoot: KeyObject;
  readonly store: OfflineParametersStore;
  readonly source: OfflineParametersSource;
  readonly clock: { now(): number };
}

export class OfflineParametersCopy implements OfflineRules {
  private copy: { readonly p: OfflineParameters; readonly blocked: ReadonlySet<string> } | null = null;
  private fetching: Promise<ParametersRefresh> | null = null;

  constructor(private readonly o: OfflineParametersCopyOptions) {
    const kept = o.store.loadParameters();
    if (kept) {
      try {
        this.copy = this.checked(SignedOfflineParameters.decode(kept), undefined);
      } catch {
        // Expired, edited or otherwise unusable: nothing to approve offline by.
        o.store.dropParameters();
      }
    }
  }

  get timeZone(): string {
    return this.o.timeZone;
  }

  /** The parameters held (whether in force or not), or null. */
  held(): OfflineParameters | null {
    return this.copy?.p ?? null;
  }

  inForce(nowMs: number): OfflineRulesInForce | null {
    const c = this.copy;
    if (!c || nowMs >= c.p.validUntilMs) return null;
    const p = c.p;
    return {
      limits: limitsOf(p, this.o.timeZone),
      blocked: (card) =>
        c.blocked.has(Buffer.from(blockListEntry(p.blockListSalt, card.pan, card.psn)).toString('hex')),
      validUntilMs: p.validUntilMs,
    };
  }

  /** Asks the card company for the parameters (one request at a time; a second call joins it). */
  refresh(): Promise<ParametersRefresh> {
    this.fetching ??= this.fetch().finally(() => {
      this.fetching = null;
    });
    return this.fetching;
  }

  /** Drops the copy: no offline approvals until a new one is fetched. */
  drop(): void {
    this.copy = null;
    this.o.store.dropParameters();
  }

  private async fetch(): Promise<ParametersRefresh> {
    let signed: SignedOfflineParameters;
    try {
      signed = await this.o.source.getOfflineParameters();
    } catch (error) {
      if (!(error instanceof BackendError)) throw error;
      // The card company answered and gave this till no parameters (revoked, unknown, inactive).
      if (error.code === 'refused' || error.code === 'rejected') {
        this.drop();
        return { outcome: 'dropped', error };
      }
      return { outcome: 'unreachable', error };
    }
    try {
      const copy = this.checked(signed, this.copy?.p.issuedAtMs);
      this.copy = copy;
      this.o.store.keepParameters(SignedOfflineParameters.encode(signed).finish(), copy.p.issuedAtMs);
      return { outcome: 'kept', issuedAtMs: copy.p.issuedAtMs, validUntilMs: copy.p.validUntilMs };
    } catch (error) {
      if (error instanceof OfflineParametersError) return { outcome: 'refused', error };
      throw error;
    }
  }

  private checked(signed: SignedOfflineParameters, copyIssuedAtMs: number | undefined) {
    const p = verifyOfflineParameters(signed, this.o.cardCompanyRoot, {
      terminalId: this.o.terminalId,
      merchantId: this.o.merchantId,
      now: this.o.clock.now(),
      ...(copyIssuedAtMs !== undefined ? { copyIssuedAtMs } : {}),
    });
    try {
      checkOfflinePolicyLimits(limitsOf(p, this.o.timeZone));
    } catch (cause) {
      throw new OfflineParametersError('malformed', 'offline limits out of range', { cause });
    }
    return { p, blocked: new Set(p.blockedCards.map((e) => Buffer.from(e).toString('hex'))) };
  }
}
