/**
 * The shopper-facing use cases (the phone talks to the backend directly; claims 1, 2, 5-8):
 * - challenge: a single-use UN for a phone, and the PIN-key certificate;
 * - issueCode: the card proves itself (DDA over the UN) and the cardholder the PIN (sealed, tries
 *   counted as at a till); then a one-time 8-digit code bound to the card, an amount limit and a
 *   short lifetime, stored only as a keyed hash;
 * - payMerchant: a merchant card and the shopper's card both prove themselves over one UN, the PIN
 *   and the shopper card's ARQC over the amount are checked, and the sale settles exactly once per
 *   (merchant card's terminal, phone-chosen idempotency key), crediting that merchant;
 * - getOutcome: the card proves itself (DDA over the UN) and asks what became of its payment at a
 *   till: the stored signed outcome when there is one for this card, else a signed cancellation of
 *   that transaction id, the card's ATC moved past the phone's cryptogram (it never settles).
 * Each use case's reads and writes are one `store.commit()`: a transaction in the store's group
 * commit, as for the other use cases.
 */
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import {
  OutcomeRequest, PayMerchantRequest, SettleResponse, type OutcomeResponse, decodeIad, TEMPORARY_CODE_DIGITS, codePinContext, equalBytes, maskPan, merchantCardPinContext, openSealedPin, toHex,
  type CardData, type DeclineCode, type IssueCodeRequest, type IssueCodeResponse, type PayMerchantResponse, type ShopperChallengeResponse,
} from '@bluetill/protocol';
import type { BackendStore, CardRow } from '../ports/backend-store';
import type { ShopperStore } from '../ports/shopper-store';
import type { Clock } from '../ports/clock';
import type { KeyStore } from '../ports/key-store';
import { authenticateCard, verifyCryptogram } from '../domain/card-authentication';
import { CHALLENGE_LIFETIME_MS, MAX_PIN_TRIES, checkCard, checkSettlement, pinOutcome } from '../domain/rules';
import { CODE_LIFETIME_MS, checkCodeIssue, lookupCode } from '../domain/temporary-code';
import { checkMerchantCard, merchantIdOf } from '../domain/merchant-card';
import { RateLimiter } from './rate-limiter';
import { RequestError } from './request-error';
import { requestHash } from './request-hash';
import { recordSale } from './record-sale';
import type { Caller } from './caller';

export interface ShopperOptions {
  /** Lifetime of a temporary code (default 5 minutes). */
  readonly codeLifetimeMs?: number;
  /** Per card: code requests and merchant payments per minute (default 5 and 10). */
  readonly codesPerCardPerMinute?: number;
  readonly paymentsPerCardPerMinute?: number;
  /** Per peer address: challenges per minute (default 600). */
  readonly challengesPerPeerPerMinute?: number;
}

export interface ShopperEvents {
  onCodeIssued?(outcome: { approved: boolean; decline: DeclineCode | null }): void;
  onMerchantPayment?(outcome: { approved: boolean; decline: DeclineCode | null; replayed: boolean }): void;
  onOutcome?(outcome: { approved: boolean; decline: DeclineCode | null; replayed: boolean }): void;
}

type Proof = { ok: true; row: CardRow } | { ok: false; decline: DeclineCode; triesLeft: number };

export class ShopperUseCase {
  private readonly challenges: RateLimiter;
  private readonly codes: RateLimiter;
  private readonly payments: RateLimiter;
  private readonly outcomes: RateLimiter;
  private readonly codeLifetimeMs: number;
  private issuedChallenges = 0;

  constructor(
    private readonly store: BackendStore,
    private readonly shopper: ShopperStore,
    private readonly keys: KeyStore,
    private readonly clock: Clock,
    o: ShopperOptions = {},
    private readonly events: ShopperEvents = {},
  ) {
    this.codeLifetimeMs = o.codeLifetimeMs ?? CODE_LIFETIME_MS;
    // Generous per address: many phones can share one (carrier NAT); the per-card limits below are the tight ones.
    this.challenges = new RateLimiter(clock, o.challengesPerPeerPerMinute ?? 600, 60_000, 'challenges from this address');
    this.codes = new RateLimiter(clock, o.codesPerCardPerMinute ?? 5, 60_000, 'payment codes for this card');
    this.payments = new RateLimiter(clock, o.paymentsPerCardPerMinute ?? 10, 60_000, 'payments with this card');
    this.outcomes = new RateLimiter(clock, o.paymentsPerCardPerMinute ?? 10, 60_000, 'outcome questions for this card');
  }

  async challenge(caller: Caller): Promise<ShopperChallengeResponse> {
    this.challenges.take(caller.kind === 'shopper' ? caller.peer : caller.kind);
    const expiresAt = this.clock.now() + CHALLENGE_LIFETIME_MS;
    const purge = ++this.issuedChallenges % 1000 === 0;
    const un = await this.store.commit(() => {
      if (purge) this.shopper.purgeShopperChallenges(this.clock.now() - 3_600_000);
      // A UN is 4 random bytes: one still on record (issued within the last hour or so) is drawn again, never handed out twice.
      for (;;) {
        const candidate = new Uint8Array(randomBytes(4));
        if (this.shopper.insertShopperChallenge(toHex(candidate), expiresAt)) return candidate;
      }
    });
    return { unpredictableNumber: un, expiresAtMs: expiresAt, pinKeyCertificate: this.keys.pinKey.certificate };
  }

  /**
   * Card legitimacy and PIN, as AuthorizationUseCase.authorize judges them at a till, inside the
   * caller's transaction: the UN is used up, a wrong PIN counts a try, a fake card burns none.
   */
  private prove(card: CardData, un: Uint8Array, pin: string | null, now: number): Proof {
    const decline = (d: DeclineCode, triesLeft = 0): Proof => ({ ok: false, decline: d, triesLeft });
    const row = this.store.findCardByPanHash(this.keys.panHash(card.pan));
    const cardDecline = checkCard(row, now);
    if (cardDecline || !row) return decline(cardDecline ?? 'unknown_card');
    if (row.expiry !== card.expiry || row.panSequence !== card.panSequence) return decline('card_authentication_failed');
    const proof = authenticateCard({ card, unpredictableNumber: un, caKeys: this.keys.caPublicKeys, issuerKeys: this.keys.issuerKeys, cardRecords: this.keys.cardRecords, now: new Date(now) });
    if (proof) return decline(proof, MAX_PIN_TRIES - row.pinTries);
    if (pin === null) return decline('pin_missing', MAX_PIN_TRIES - row.pinTries);
    const expected = this.keys.pinVerifier(row.pinSalt, pin, row.panHash);
    const matched = expected.length === row.pinVerifier.length && timingSafeEqual(expected, row.pinVerifier);
    const outcome = pinOutcome(row.pinTries, matched);
    if (outcome.tries !== row.pinTries) this.store.setPinTries(row.id, outcome.tries);
    if (outcome.decline) return decline(outcome.decline, MAX_PIN_TRIES - outcome.tries);
    return { ok: true, row };
  }

  private openPin(sealed: Uint8Array, pan: string, context: Uint8Array): string | null {
    try {
      return openSealedPin(sealed, { pinPrivateKey: this.keys.pinKey.agreement, pan, context });
    } catch {
      return null;
    }
  }

  async issueCode(req: IssueCodeRequest, _caller: Caller): Promise<IssueCodeResponse> {
    const card = req.card!;
    const limit = req.amountLimit!;
    this.codes.take(this.keys.panHash(card.pan));
    const now = this.clock.now();
    const pin = this.openPin(req.sealedPinBlock, card.pan, codePinContext(req.unpredictableNumber));
    const masked = maskPan(card.pan);
    const res = await this.store.commit((): IssueCodeResponse => {
      const decline = (d: DeclineCode, triesLeft = 0): IssueCodeResponse => ({ approved: false, declineReason: d, code: '', expiresAtMs: 0, pinTriesLeft: triesLeft, maskedPan: masked });
      if (this.shopper.takeShopperChallenge(toHex(req.unpredictableNumber), now) !== 'ok') return decline('unpredictable_number_invalid');
      const proof = this.prove(card, req.unpredictableNumber, pin, now);
      if (!proof.ok) return decline(proof.decline, proof.triesLeft);
      const rule = checkCodeIssue(proof.row, limit);
      if (rule) return decline(rule, MAX_PIN_TRIES);
      // A fresh code that no live code shares (a keyed hash collides only when the codes are equal).
      let code: string;
      let hash: string;
      do {
        code = String(randomInt(0, 10 ** TEMPORARY_CODE_DIGITS)).padStart(TEMPORARY_CODE_DIGITS, '0');
        hash = this.keys.codeHash(code);
      } while (lookupCode(this.shopper.findCodes(hash), now).kind === 'live');
      const expiresAt = now + this.codeLifetimeMs;
      this.shopper.insertCode({ codeHash: hash, cardId: proof.row.id, limitMinor: limit.minor, currency: limit.currency, createdAt: now, expiresAt });
      return { approved: true, declineReason: '', code, amountLimit: { minor: limit.minor, currency: limit.currency }, expiresAtMs: expiresAt, pinTriesLeft: MAX_PIN_TRIES, maskedPan: masked };
    });
    this.events.onCodeIssued?.({ approved: res.approved, decline: (res.declineReason || null) as DeclineCode | null });
    return res;
  }

  async payMerchant(req: PayMerchantRequest, _caller: Caller): Promise<PayMerchantResponse> {
    const card = req.card!;
    const merchantCard = req.merchantCard!;
    const amount = req.amount!;
    this.payments.take(this.keys.panHash(card.pan));
    const hash = requestHash(PayMerchantRequest.encode(req).finish());
    const un = req.unpredictableNumber;
    const pin = this.openPin(req.sealedPinBlock, card.pan, merchantCardPinContext(un));
    const mcHash = this.keys.panHash(merchantCard.pan);
    const res = await this.store.commit((): PayMerchantResponse => {
      const now = this.clock.now();
      const refuse = (d: DeclineCode, triesLeft = 0): PayMerchantResponse => ({ approved: false, declineReason: d, replayed: false, pinTriesLeft: triesLeft });
      const mc = this.shopper.findMerchantCardByPanHash(mcHash);
      if (mc) {
        const prior = this.store.findSettlement(mc.terminalId, req.idempotencyKey);
        if (prior) {
          if (!equalBytes(prior.requestHash, hash)) throw new RequestError('already_exists', 'idempotency key already used for a different payment');
          return { ...SettleResponse.decode(prior.response), replayed: true, pinTriesLeft: 0 };
        }
      }
      if (this.shopper.takeShopperChallenge(toHex(un), now) !== 'ok') return refuse('unpredictable_number_invalid');
      // The merchant card first: a forged or unregistered one ends it before the shopper's card is judged.
      const mcProof = authenticateCard({ card: merchantCard, unpredictableNumber: un, caKeys: this.keys.caPublicKeys, issuerKeys: this.keys.issuerKeys, cardRecords: this.keys.cardRecords, now: new Date(now) });
      if (mcProof) return refuse(mc ? 'merchant_card_invalid' : 'merchant_card_unknown');
      const merchant = mc && this.store.findMerchant(mc.merchantId);
      const mcDecline = checkMerchantCard({ row: mc, recordsMerchantId: merchantIdOf(merchantCard.records), expiry: merchantCard.expiry, panSequence: merchantCard.panSequence, merchant, now });
      if (mcDecline || !mc || !merchant) return refuse(mcDecline ?? 'merchant_card_unknown');
      const terminal = this.store.findTerminal(mc.terminalId);

      // From here the outcome is stored under (merchant card's terminal, idempotency key): a retry gets it back.
      const proof = this.prove(card, un, pin, now);
      let decline: DeclineCode | null = proof.ok ? null : proof.decline;
      const row = proof.ok ? proof.row : this.store.findCardByPanHash(this.keys.panHash(card.pan));
      const atc = req.cryptogram?.atc ?? -1;
      let cryptogram: DeclineCode | null = null;
      if (!decline && row) {
        cryptogram = verifyCryptogram({ cryptogram: req.cryptogram, pan: card.pan, panSequence: row.panSequence, amount, unpredictableNumber: un, acMasterKeys: this.keys.acMasterKeys, cardKeys: this.keys.cardKeys });
        const available = row.creditLimitMinor + this.store.accountBalance(row.accountId);
        // The settlement rules of a till's sale, with this payment standing in for its authorization.
        const authorization = { ref: '', cardId: row.id, terminalId: mc.terminalId, un: toHex(un), expiresAt: now, settled: false, cvm: 'online_pin' as const };
        decline = checkSettlement({ terminal, merchant, requestMerchantId: merchant.id, authorization, card: row, amount, items: req.items, availableMinor: available, atc, cryptogram, cvr: decodeIad(req.cryptogram?.iad ?? new Uint8Array())?.cvr, now });
      }
      const { response: result } = recordSale(this.store, this.keys, {
        terminalId: mc.terminalId, terminalTxnId: req.idempotencyKey, requestHash: hash, requestMerchantId: merchant.id, merchant, card: row,
        maskedPan: maskPan(card.pan), items: req.items, amount, decline, now,
      });
      if (row && atc > row.lastAtc && proof.ok && cryptogram === null) this.store.setLastAtc(row.id, atc);
      return { ...result, pinTriesLeft: proof.ok ? MAX_PIN_TRIES : proof.triesLeft };
    });
    this.events.onMerchantPayment?.({ approved: res.approved, decline: (res.declineReason || null) as DeclineCode | null, replayed: res.replayed });
    return res;
  }

  /**
   * The phone that paid at a till asks the card company what became of it. Only the card's holder
   * learns anything (the card's signature over a fresh UN); the answer is signed either way, and
   * "nothing settled" is made true for good: the transaction id is recorded as cancelled and the
   * card's counter moves past the ATC of the phone's cryptogram, so neither can settle later.
   */
  async getOutcome(req: OutcomeRequest, _caller: Caller): Promise<OutcomeResponse> {
    const card = req.card!;
    const panHash = this.keys.panHash(card.pan);
    this.outcomes.take(panHash);
    const hash = requestHash(OutcomeRequest.encode(req).finish());
    const res = await this.store.commit((): OutcomeResponse => {
      const now = this.clock.now();
      const refuse = (d: DeclineCode): OutcomeResponse => ({ approved: false, declineReason: d, replayed: false, receipt: undefined });
      if (this.shopper.takeShopperChallenge(toHex(req.unpredictableNumber), now) !== 'ok') return refuse('unpredictable_number_invalid');
      const row = this.store.findCardByPanHash(panHash);
      if (!row) return refuse('unknown_card');
      if (row.expiry !== card.expiry || row.panSequence !== card.panSequence) return refuse('card_authentication_failed');
      const proof = authenticateCard({ card, unpredictableNumber: req.unpredictableNumber, caKeys: this.keys.caPublicKeys, issuerKeys: this.keys.issuerKeys, cardRecords: this.keys.cardRecords, now: new Date(now) });
      if (proof) return refuse(proof);
      const prior = this.store.findSettlement(req.terminalId, req.terminalTxnId);
      if (prior) {
        // Another card's payment: nothing about it (the same answer as an id that cannot be cancelled).
        if (prior.cardId !== row.id) return refuse('authorization_invalid');
        const stored = SettleResponse.decode(prior.response);
        return { approved: stored.approved, declineReason: stored.declineReason, receipt: stored.receipt, replayed: true };
      }
      const terminal = this.store.findTerminal(req.terminalId);
      const merchant = terminal && this.store.findMerchant(terminal.merchantId);
      if (!terminal || !merchant) return refuse('terminal_unknown');
      if (req.atc > row.lastAtc) this.store.setLastAtc(row.id, req.atc);
      const { response } = recordSale(this.store, this.keys, {
        terminalId: req.terminalId, terminalTxnId: req.terminalTxnId, requestHash: hash, requestMerchantId: merchant.id, merchant, card: row,
        maskedPan: maskPan(card.pan), items: [], amount: req.amount!, decline: 'cancelled', cancelled: true, now, atc: req.atc,
      });
      return { approved: false, declineReason: response.declineReason, receipt: response.receipt, replayed: false };
    });
    this.events.onOutcome?.({ approved: res.approved, decline: (res.declineReason || null) as DeclineCode | null, replayed: res.replayed });
    return res;
  }
}
