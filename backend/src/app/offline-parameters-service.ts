/**
 * Authorization.GetOfflineParameters: what a till may approve offline, for the calling terminal —
 * the limits in force (the terminal's settings over its merchant's over the defaults,
 * domain/offline-limits.ts), the merchant's currency, and the block list (every payment card not
 * in good standing, each as SHA-256 of a fresh salt and its card number, so the message carries no
 * card number) — with the time of issue and a validity, signed with the receipt key under the
 * parameters' own label (protocol's signOfflineParameters). A read: nothing is written.
 *
 * The validity bounds how long a till cut off from the card company keeps approving offline on
 * this copy: a till whose terminal is revoked is refused this call (as every call) and drops its
 * copy at once; one that cannot reach the card company at all stops at the copy's validity.
 */
import { randomBytes } from 'node:crypto';
import {
  BLOCK_LIST_SALT_BYTES,
  blockListEntry,
  signOfflineParameters,
  type GetOfflineParametersRequest,
  type SignedOfflineParameters,
} from '@bluetill/protocol';
import type { BackendStore } from '../ports/backend-store';
import type { Clock } from '../ports/clock';
import type { KeyStore } from '../ports/key-store';
import type { OfflineSaleStore } from '../ports/offline-sale-store';
import { effectiveOfflineLimits } from '../domain/offline-limits';
import { checkCaller, type Caller } from './caller';
import { RequestError } from './request-error';

/** How long a till may use a copy: a business day, refreshed every few minutes while online. */
export const DEFAULT_OFFLINE_PARAMETERS_VALIDITY_MS = 24 * 3600_000;

export class OfflineParametersUseCase {
  private readonly validityMs: number;

  constructor(
    private readonly store: BackendStore,
    private readonly offline: OfflineSaleStore,
    private readonly keys: KeyStore,
    private readonly clock: Clock,
    o: { readonly validityMs?: number } = {},
  ) {
    this.validityMs = o.validityMs ?? DEFAULT_OFFLINE_PARAMETERS_VALIDITY_MS;
    if (!Number.isSafeInteger(this.validityMs) || this.validityMs < 60_000)
      throw new RangeError('offline parameters validity must be at least a minute');
  }

  async getOfflineParameters(
    req: GetOfflineParametersRequest,
    caller: Caller,
  ): Promise<SignedOfflineParameters> {
    checkCaller(req.terminalId, caller);
    const found = await this.store.read(async (tx) => {
      const terminal = await tx.findTerminal(req.terminalId);
      const merchant = terminal && (await tx.findMerchant(terminal.merchantId));
      if (!terminal || !merchant) return undefined;
      const queries = this.offline.within(tx);
      return {
        terminal,
        merchant,
        settings: (await queries.offlineLimitsOf(terminal.id))!,
        cards: await queries.cardsNotInGoodStanding(),
      };
    });
    if (!found) throw new RequestError('not_found', 'terminal unknown');
    if (found.terminal.status !== 'active' || found.merchant.status !== 'active')
      throw new RequestError('permission_denied', 'terminal or merchant not active');
    const limits = effectiveOfflineLimits(found.settings.merchant, found.settings.terminal);
    const salt = new Uint8Array(randomBytes(BLOCK_LIST_SALT_BYTES));
    const now = this.clock.now();
    return signOfflineParameters(
      {
        terminalId: found.terminal.id,
        merchantId: found.merchant.id,
        currency: found.merchant.currency,
        floorLimitMinor: limits.floorLimitMinor,
        exposureMinor: limits.exposureMinor,
        perCardDailyCount: limits.cardDailyCount,
        perCardDailyAmountMinor: limits.cardDailyAmountMinor,
        blockListSalt: salt,
        blockedCards: found.cards.map((c) =>
          blockListEntry(salt, this.keys.decryptPan(c.panEnc), c.panSequence),
        ),
        issuedAtMs: now,
        validUntilMs: now + this.validityMs,
      },
      this.keys.receiptKey.signer,
      this.keys.receiptKey.certificate,
    );
  }
}
