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
 *   that transaction id, the ATC of the phone's cryptogram used up (it never settles);
 * - getOfflineReceipt: the card proves itself and asks what the card company made of its sale a
 *   till approved offline: settled or the merchant's loss (the signed receipt), or not forwarded
 *   yet; nothing of the sale is written.
 * Each use case's reads and writes are one `store.commit()`: a transaction in the store's group
 * commit, as for the other use cases.
 */
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import {
  OutcomeRequest,
  PayMerchantRequest,
  Receipt,
  SettleResponse,
  type OfflineReceiptRequest,
  type OfflineReceiptResponse,
  type OutcomeResponse,
  decodeIad,
  isOfflineId,
  TEMPORARY_CODE_DIGITS,
  codePinContext,
  maskPan,
  merchantCardPinContext,
  openSealedPin,
  toHex,
  type CardData,
  type DeclineCode,
  type IssueCodeRequest,
  type IssueCodeResponse,
  type PayMerchantResponse,
  type ShopperChallengeResponse,
} from '@bluetill/protocol';
import type { BackendStore, CardRow, CardStore, StoreTx } from '../ports/backend-store';
import type { Clock } from '../ports/clock';
import type { KeyStore } from '../ports/key-store';
import { authenticateCard, proveCard, verifyCryptogram } from '../domain/card-authentication';
import {
  cardAnswerer,
  countersAtArqc,
  issuerAnswer,
  verifyAuthorizationArqc,
} from '../domain/issuer-authentication';
import {
  CHALLENGE_LIFETIME_MS,
  MAX_PIN_TRIES,
  cardWrongPinTries,
  checkCard,
  checkSettlement,
  otherMethodLocked,
  pinBudgetSpent,
  pinOutcome,
  pinTriesLeft,
} from '../domain/rules';
import { CODE_LIFETIME_MS, checkCodeIssue, lookupCode } from '../domain/temporary-code';
import { checkMerchantCard, merchantIdOf } from '../domain/merchant-card';
import { RateLimiter, addressKey } from './rate-limiter';
import { replayOf } from './exactly-once';
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
  /** Per peer address (an IPv6 one by its /64): code requests and merchant payments per minute (default 30 each). */
  readonly codesPerPeerPerMinute?: number;
  readonly paymentsPerPeerPerMinute?: number;
  /** Per merchant card (its terminal): merchant payments per minute (default 60). */
  readonly paymentsPerMerchantCardPerMinute?: number;
}

export interface ShopperEvents {
  onCodeIssued?(outcome: { approved: boolean; decline: DeclineCode | null }): void;
  onMerchantPayment?(outcome: { approved: boolean; decline: DeclineCode | null; replayed: boolean }): void;
  onOutcome?(outcome: { approved: boolean; decline: DeclineCode | null; replayed: boolean }): void;
  onOfflineReceipt?(outcome: { state: OfflineReceiptState; decline: DeclineCode | null }): void;
}

/** Shopper.GetOfflineReceipt's answer (OfflineReceiptResponse.state). */
export type OfflineReceiptState = 'settled' | 'merchant_loss' | 'declined' | 'not_forwarded' | 'refused';

/** The rate-limit key of a caller: a phone's address (IPv6 by /64); other callers by their kind. */
const peerKey = (caller: Caller): string =>
  caller.kind === 'shopper' ? addressKey(caller.peer) : caller.kind;

/**
 * What prove() found; `toCard`: the issuer's authenticated answer to the card's account-verification
 * ARQC (Issuer Authentication Data, with the PIN tries left in the one budget), on every answer that
 * judged or refused the PIN, for the phone to give the card.
 */
type Proof =
  | { ok: true; row: CardRow; toCard: Uint8Array }
  | { ok: false; decline: DeclineCode; triesLeft: number; toCard?: Uint8Array };

/** The costly work the shopper's requests caused, and the requests refused before any of it. */
export interface ShopperWork {
  /** P-256 agreements (a sealed PIN opened, or tried). */
  readonly pinAgreements: number;
  /** Cards' certificate chains and signatures checked (RSA). */
  readonly cardChecks: number;
  /** IssueCode and PayMerchant requests refused on their one-time number before any of the above. */
  readonly refusedBeforeCrypto: number;
}

export class ShopperUseCase {
  private readonly challenges: RateLimiter;
  private readonly codes: RateLimiter;
  private readonly payments: RateLimiter;
  private readonly codesPerPeer: RateLimiter;
  private readonly paymentsPerPeer: RateLimiter;
  private readonly paymentsPerTerminal: RateLimiter;
  private readonly outcomes: RateLimiter;
  private readonly outcomesPerPeer: RateLimiter;
  private readonly codeLifetimeMs: number;
  private issuedChallenges = 0;
  private readonly work = { pinAgreements: 0, cardChecks: 0, refusedBeforeCrypto: 0 };

  constructor(
    private readonly store: BackendStore,
    private readonly keys: KeyStore,
    private readonly clock: Clock,
    o: ShopperOptions = {},
    private readonly events: ShopperEvents = {},
  ) {
    this.codeLifetimeMs = o.codeLifetimeMs ?? CODE_LIFETIME_MS;
    // Generous per address: many phones can share one (carrier NAT); the per-card limits below are the tight ones.
    this.challenges = new RateLimiter(
      clock,
      o.challengesPerPeerPerMinute ?? 600,
      60_000,
      'challenges from this address',
    );
    this.codes = new RateLimiter(clock, o.codesPerCardPerMinute ?? 5, 60_000, 'payment codes for this card');
    this.payments = new RateLimiter(
      clock,
      o.paymentsPerCardPerMinute ?? 10,
      60_000,
      'payments with this card',
    );
    // Per card alone lets one client walk through card numbers: every method is limited per address too.
    this.codesPerPeer = new RateLimiter(
      clock,
      o.codesPerPeerPerMinute ?? 30,
      60_000,
      'payment codes from this address',
    );
    this.paymentsPerPeer = new RateLimiter(
      clock,
      o.paymentsPerPeerPerMinute ?? 30,
      60_000,
      'payments from this address',
    );
    this.paymentsPerTerminal = new RateLimiter(
      clock,
      o.paymentsPerMerchantCardPerMinute ?? 60,
      60_000,
      'payments to this merchant card',
    );
    this.outcomes = new RateLimiter(
      clock,
      o.paymentsPerCardPerMinute ?? 10,
      60_000,
      'outcome questions for this card',
    );
    this.outcomesPerPeer = new RateLimiter(
      clock,
      o.paymentsPerPeerPerMinute ?? 30,
      60_000,
      'outcome questions from this address',
    );
  }

  /** Counts of the costly work done so far (tests and figures: a flood of bad requests must cost none). */
  stats(): ShopperWork {
    return { ...this.work };
  }

  async challenge(caller: Caller): Promise<ShopperChallengeResponse> {
    this.challenges.take(peerKey(caller));
    const expiresAt = this.clock.now() + CHALLENGE_LIFETIME_MS;
    const purge = ++this.issuedChallenges % 1000 === 0;
    const un = await this.store.commit(async (tx) => {
      if (purge) await tx.purgeShopperChallenges(this.clock.now() - 3_600_000);
      // A UN is 4 random bytes: one still on record (issued within the last hour or so) is drawn again, never handed out twice.
      for (;;) {
        const candidate = new Uint8Array(randomBytes(4));
        if (await tx.insertShopperChallenge(toHex(candidate), expiresAt)) return candidate;
      }
    });
    return {
      unpredictableNumber: un,
      expiresAtMs: expiresAt,
      pinKeyCertificate: this.keys.pinKey.certificate,
    };
  }

  /**
   * Card legitimacy and PIN, as AuthorizationUseCase.authorize judges them at a till, inside the
   * caller's transaction: the UN is used up, a wrong PIN counts a try, a fake card burns none. The
   * PIN is judged only with the card's account-verification ARQC over this UN (which makes the card
   * wait for the answer before it checks an offline PIN), and every answer that judged or refused
   * it carries the issuer's authenticated answer for the card: one budget of guesses across the
   * shopper listener, the tills and the card's own VERIFY.
   */
  private async prove(
    tx: CardStore,
    card: CardData,
    un: Uint8Array,
    pin: string | null,
    now: number,
  ): Promise<Proof> {
    const decline = (d: DeclineCode, triesLeft = 0, toCard?: Uint8Array): Proof => ({
      ok: false,
      decline: d,
      triesLeft,
      ...(toCard ? { toCard } : {}),
    });
    // The card's signature over the UN comes first, and every failure before it looks the same (no
    // card-data oracle): the lookup and the signature check are made in every case.
    const row = await tx.findCardByPanHash(this.keys.panHash(card.pan));
    this.work.cardChecks++;
    const proof = proveCard({
      card,
      unpredictableNumber: un,
      caKeys: this.keys.caPublicKeys,
      issuerKeys: this.keys.issuerKeys,
      cardRecords: this.keys.cardRecords,
      now: new Date(now),
    });
    if (proof.decline !== null || !row || row.expiry !== card.expiry || row.panSequence !== card.panSequence)
      return decline('card_authentication_failed');
    const arqc = verifyAuthorizationArqc({
      cryptogram: card.authorizationCryptogram,
      pan: card.pan,
      panSequence: card.panSequence,
      unpredictableNumber: un,
      acMasterKeys: this.keys.acMasterKeys,
      cardKeys: this.keys.cardKeys,
    });
    // The card's PIN Try Counter as it signed it last (its ARQC's CVR when lower than its DDA's).
    const counters = countersAtArqc(proof.counters, arqc);
    const toCard = cardAnswerer(arqc);
    const cardDecline = checkCard(row, now);
    if (cardDecline)
      return decline(cardDecline, 0, cardDecline === 'pin_tries_exceeded' ? toCard(0, false) : undefined);
    // No PIN is judged without the ARQC: a PIN tried here would not reach the card's counter.
    if (!arqc) return decline('cryptogram_invalid', pinTriesLeft(row.pinTries, counters));
    // One budget of PIN guesses with the wrong offline PINs the card signed over this UN (rules.ts).
    if (pinBudgetSpent(row.pinTries, counters)) {
      if (row.pinTries < MAX_PIN_TRIES) await tx.setPinTries(row.id, MAX_PIN_TRIES);
      return decline('pin_tries_exceeded', 0, toCard(0, false));
    }
    const left = pinTriesLeft(row.pinTries, counters);
    if (otherMethodLocked(counters)) return decline('cvm_tries_exceeded', left, toCard(left, false));
    if (pin === null) return decline('pin_missing', left, toCard(left, false));
    const expected = this.keys.pinVerifier(row.pinSalt, pin, row.panHash);
    const matched = expected.length === row.pinVerifier.length && timingSafeEqual(expected, row.pinVerifier);
    const outcome = pinOutcome(row.pinTries, matched, cardWrongPinTries(counters));
    if (outcome.tries !== row.pinTries) await tx.setPinTries(row.id, outcome.tries);
    const after = pinTriesLeft(outcome.tries, counters);
    if (outcome.decline) return decline(outcome.decline, after, toCard(after, false));
    return { ok: true, row, toCard: issuerAnswer(arqc, pinTriesLeft(0, counters), true) };
  }

  private openPin(sealed: Uint8Array, pan: string, context: Uint8Array): string | null {
    this.work.pinAgreements++;
    try {
      return openSealedPin(sealed, { pinPrivateKey: this.keys.pinKey.agreement, pan, context });
    } catch {
      return null;
    }
  }

  async issueCode(req: IssueCodeRequest, caller: Caller): Promise<IssueCodeResponse> {
    const card = req.card!;
    const limit = req.amountLimit!;
    this.codesPerPeer.take(peerKey(caller));
    const now = this.clock.now();
    const masked = maskPan(card.pan);
    // Cheap checks before costly ones: a one-time number that is not live ends the request with a
    // read, before the per-card limit is charged and before any P-256 agreement or RSA check.
    // (The transaction below takes the number for real; this read only refuses early.)
    const un = toHex(req.unpredictableNumber);
    if ((await this.store.read((tx) => tx.peekShopperChallenge(un, now))) !== 'ok') {
      this.work.refusedBeforeCrypto++;
      const res: IssueCodeResponse = {
        approved: false,
        declineReason: 'unpredictable_number_invalid',
        code: '',
        expiresAtMs: 0,
        pinTriesLeft: 0,
        maskedPan: masked,
      };
      this.events.onCodeIssued?.({ approved: false, decline: 'unpredictable_number_invalid' });
      return res;
    }
    this.codes.take(this.keys.panHash(card.pan));
    const pin = this.openPin(req.sealedPinBlock, card.pan, codePinContext(req.unpredictableNumber));
    const res = await this.store.commit(async (tx): Promise<IssueCodeResponse> => {
      const decline = (d: DeclineCode, triesLeft = 0, toCard?: Uint8Array): IssueCodeResponse => ({
        approved: false,
        declineReason: d,
        code: '',
        expiresAtMs: 0,
        pinTriesLeft: triesLeft,
        maskedPan: masked,
        ...(toCard ? { issuerAuthenticationData: toCard } : {}),
      });
      if ((await tx.takeShopperChallenge(un, now)) !== 'ok') return decline('unpredictable_number_invalid');
      const proof = await this.prove(tx, card, req.unpredictableNumber, pin, now);
      if (!proof.ok) return decline(proof.decline, proof.triesLeft, proof.toCard);
      const rule = checkCodeIssue(proof.row, limit);
      if (rule) return decline(rule, MAX_PIN_TRIES, proof.toCard);
      // A fresh code that no live code shares (a keyed hash collides only when the codes are equal).
      let code: string;
      let hash: string;
      do {
        code = String(randomInt(0, 10 ** TEMPORARY_CODE_DIGITS)).padStart(TEMPORARY_CODE_DIGITS, '0');
        hash = this.keys.codeHash(code);
      } while (lookupCode(await tx.findCodes(hash), now).kind === 'live');
      const expiresAt = now + this.codeLifetimeMs;
      await tx.insertCode({
        codeHash: hash,
        cardId: proof.row.id,
        limitMinor: limit.minor,
        currency: limit.currency,
        createdAt: now,
        expiresAt,
      });
      return {
        approved: true,
        declineReason: '',
        code,
        amountLimit: { minor: limit.minor, currency: limit.currency },
        expiresAtMs: expiresAt,
        pinTriesLeft: MAX_PIN_TRIES,
        maskedPan: masked,
        issuerAuthenticationData: proof.toCard,
      };
    });
    this.events.onCodeIssued?.({
      approved: res.approved,
      decline: (res.declineReason || null) as DeclineCode | null,
    });
    return res;
  }

  async payMerchant(req: PayMerchantRequest, caller: Caller): Promise<PayMerchantResponse> {
    const card = req.card!;
    const merchantCard = req.merchantCard!;
    const amount = req.amount!;
    const hash = requestHash(PayMerchantRequest.encode(req).finish());
    const un = req.unpredictableNumber;
    const mcHash = this.keys.panHash(merchantCard.pan);
    this.paymentsPerPeer.take(peerKey(caller));
    this.paymentsPerTerminal.take(mcHash);
    // Cheap checks before costly ones (as in issueCode): a request that is not a retry of a stored
    // payment and whose one-time number is not live is refused with two reads, before the per-card
    // limit is charged and before any agreement or RSA check.
    {
      const live = await this.store.read(async (tx) => {
        const mc = await tx.findMerchantCardByPanHash(mcHash);
        const prior = mc ? await tx.findSettlement(mc.terminalId, req.idempotencyKey) : undefined;
        return prior !== undefined || (await tx.peekShopperChallenge(toHex(un), this.clock.now())) === 'ok';
      });
      if (!live) {
        this.work.refusedBeforeCrypto++;
        this.events.onMerchantPayment?.({
          approved: false,
          decline: 'unpredictable_number_invalid',
          replayed: false,
        });
        const refused: PayMerchantResponse = {
          approved: false,
          declineReason: 'unpredictable_number_invalid',
          replayed: false,
          pinTriesLeft: 0,
        };
        return refused;
      }
    }
    this.payments.take(this.keys.panHash(card.pan));
    const pin = this.openPin(req.sealedPinBlock, card.pan, merchantCardPinContext(un));
    const res = await this.store.commit(async (tx): Promise<PayMerchantResponse> => {
      const now = this.clock.now();
      const refuse = (d: DeclineCode, triesLeft = 0): PayMerchantResponse => ({
        approved: false,
        declineReason: d,
        replayed: false,
        pinTriesLeft: triesLeft,
      });
      const mc = await tx.findMerchantCardByPanHash(mcHash);
      if (mc) {
        const replay = replayOf(
          await tx.findSettlement(mc.terminalId, req.idempotencyKey),
          hash,
          (b) => SettleResponse.decode(b),
          'idempotency key',
        );
        if (replay) return { ...replay, pinTriesLeft: 0 };
      }
      if ((await tx.takeShopperChallenge(toHex(un), now)) !== 'ok')
        return refuse('unpredictable_number_invalid');
      // The merchant card first: a forged or unregistered one ends it before the shopper's card is judged.
      this.work.cardChecks++;
      const mcProof = authenticateCard({
        card: merchantCard,
        unpredictableNumber: un,
        caKeys: this.keys.caPublicKeys,
        issuerKeys: this.keys.issuerKeys,
        cardRecords: this.keys.cardRecords,
        now: new Date(now),
      });
      if (mcProof) return refuse(mc ? 'merchant_card_invalid' : 'merchant_card_unknown');
      const merchant = mc && (await tx.findMerchant(mc.merchantId));
      const mcDecline = checkMerchantCard({
        row: mc,
        recordsMerchantId: merchantIdOf(merchantCard.records),
        expiry: merchantCard.expiry,
        panSequence: merchantCard.panSequence,
        merchant,
        now,
      });
      if (mcDecline || !mc || !merchant) return refuse(mcDecline ?? 'merchant_card_unknown');
      const terminal = await tx.findTerminal(mc.terminalId);

      // From here the outcome is stored under (merchant card's terminal, idempotency key): a retry gets it back.
      const proof = await this.prove(tx, card, un, pin, now);
      let decline: DeclineCode | null = proof.ok ? null : proof.decline;
      const row = proof.ok ? proof.row : await tx.findCardByPanHash(this.keys.panHash(card.pan));
      const atc = req.cryptogram?.atc ?? -1;
      const cardCvr = decodeIad(req.cryptogram?.iad ?? new Uint8Array())?.cvr;
      let cryptogram: DeclineCode | null = null;
      if (!decline && row) {
        cryptogram = verifyCryptogram({
          cryptogram: req.cryptogram,
          pan: card.pan,
          panSequence: row.panSequence,
          amount,
          unpredictableNumber: un,
          acMasterKeys: this.keys.acMasterKeys,
          cardKeys: this.keys.cardKeys,
        });
        // A genuine cryptogram uses up its ATC even when declined (funds, limits): it cannot be replayed.
        const atcUsed = cryptogram === null && atc >= 0 ? !(await tx.useAtc(row.id, atc)) : false;
        const available = row.creditLimitMinor + (await tx.accountBalance(row.accountId));
        // The settlement rules of a till's sale, with this payment standing in for its authorization.
        const authorization = {
          ref: '',
          cardId: row.id,
          terminalId: mc.terminalId,
          un: toHex(un),
          expiresAt: now,
          settled: false,
          cvm: 'online_pin' as const,
        };
        decline = checkSettlement({
          terminal,
          merchant,
          requestMerchantId: merchant.id,
          authorization,
          card: row,
          amount,
          items: req.items,
          availableMinor: available,
          atcUsed,
          cryptogram,
          cvr: cardCvr,
          now,
        });
      }
      const { response: result } = await recordSale(tx, this.keys, {
        terminalId: mc.terminalId,
        terminalTxnId: req.idempotencyKey,
        requestHash: hash,
        terminalMerchantId: merchant.id,
        merchant,
        card: row,
        maskedPan: maskPan(card.pan),
        items: req.items,
        amount,
        decline,
        now,
      });
      if (
        row &&
        proof.ok &&
        cryptogram === null &&
        cardCvr?.pinTryLimitExceeded &&
        row.pinTries < MAX_PIN_TRIES
      )
        await tx.setPinTries(row.id, MAX_PIN_TRIES);
      return {
        ...result,
        pinTriesLeft: proof.ok ? MAX_PIN_TRIES : proof.triesLeft,
        ...(proof.toCard ? { issuerAuthenticationData: proof.toCard } : {}),
      };
    });
    this.events.onMerchantPayment?.({
      approved: res.approved,
      decline: (res.declineReason || null) as DeclineCode | null,
      replayed: res.replayed,
    });
    return res;
  }

  /**
   * Inside a commit: the shopper's UN redeemed, then the card's signature over it, checked against
   * the card's row. The row, or the one decline every failure after the UN gives (no card-data
   * oracle: an unknown, mistyped or unsigned card all look the same).
   */
  private async cardProvenOver(
    tx: StoreTx,
    un: string,
    card: CardData,
    unpredictableNumber: Uint8Array,
    panHash: string,
    now: number,
  ): Promise<CardRow | 'unpredictable_number_invalid' | 'card_authentication_failed'> {
    if ((await tx.takeShopperChallenge(un, now)) !== 'ok') return 'unpredictable_number_invalid';
    const row = await tx.findCardByPanHash(panHash);
    this.work.cardChecks++;
    const proof = authenticateCard({
      card,
      unpredictableNumber,
      caKeys: this.keys.caPublicKeys,
      issuerKeys: this.keys.issuerKeys,
      cardRecords: this.keys.cardRecords,
      now: new Date(now),
    });
    if (proof !== null || !row || row.expiry !== card.expiry || row.panSequence !== card.panSequence)
      return 'card_authentication_failed';
    return row;
  }

  /**
   * The phone that paid at a till asks the card company what became of it. Only the card's holder
   * learns anything (the card's signature over a fresh UN); the answer is signed either way, and
   * "nothing settled" is made true for good: the transaction id is recorded as cancelled and the
   * ATC of the phone's cryptogram is used up, so neither can settle later.
   */
  async getOutcome(req: OutcomeRequest, caller: Caller): Promise<OutcomeResponse> {
    const card = req.card!;
    const refuse = (d: DeclineCode): OutcomeResponse => ({
      approved: false,
      declineReason: d,
      replayed: false,
      receipt: undefined,
    });
    this.outcomesPerPeer.take(peerKey(caller));
    // Cheap checks before costly ones: a one-time number that is not live ends the request with a read.
    const un = toHex(req.unpredictableNumber);
    if ((await this.store.read((tx) => tx.peekShopperChallenge(un, this.clock.now()))) !== 'ok') {
      this.work.refusedBeforeCrypto++;
      return refuse('unpredictable_number_invalid');
    }
    const panHash = this.keys.panHash(card.pan);
    this.outcomes.take(panHash);
    const hash = requestHash(OutcomeRequest.encode(req).finish());
    const res = await this.store.commit(async (tx): Promise<OutcomeResponse> => {
      const now = this.clock.now();
      const row = await this.cardProvenOver(tx, un, card, req.unpredictableNumber, panHash, now);
      if (typeof row === 'string') return refuse(row);
      const prior = await tx.findSettlement(req.terminalId, req.terminalTxnId);
      if (prior) {
        // Another card's payment: nothing about it (the same answer as an id that cannot be cancelled).
        if (prior.cardId !== row.id) return refuse('authorization_invalid');
        const stored = SettleResponse.decode(prior.response);
        return {
          approved: stored.approved,
          declineReason: stored.declineReason,
          receipt: stored.receipt,
          replayed: true,
        };
      }
      // An offline sale not forwarded yet is the till's to forward: a question never cancels it
      // (its confirmation is GetOfflineReceipt's, which writes nothing).
      if (isOfflineId(req.terminalTxnId)) return refuse('authorization_invalid');
      const terminal = await tx.findTerminal(req.terminalId);
      const merchant = terminal && (await tx.findMerchant(terminal.merchantId));
      if (!terminal || !merchant) return refuse('terminal_unknown');
      await tx.useAtc(row.id, req.atc);
      const { response } = await recordSale(tx, this.keys, {
        terminalId: req.terminalId,
        terminalTxnId: req.terminalTxnId,
        requestHash: hash,
        terminalMerchantId: merchant.id,
        merchant,
        card: row,
        maskedPan: maskPan(card.pan),
        items: [],
        amount: req.amount!,
        decline: 'cancelled',
        cancelled: true,
        now,
        atc: req.atc,
      });
      return {
        approved: false,
        declineReason: response.declineReason,
        receipt: response.receipt,
        replayed: false,
      };
    });
    this.events.onOutcome?.({
      approved: res.approved,
      decline: (res.declineReason || null) as DeclineCode | null,
      replayed: res.replayed,
    });
    return res;
  }

  /**
   * The card company's word on a sale a till approved offline (Shopper.GetOfflineReceipt), asked
   * by the phone that paid, by the terminal and offline id of the till-signed OfflineReceipt. Only
   * the card's holder learns anything: the card's signature over a fresh UN first, and a sale of
   * another card is refused as GetOutcome refuses it. Nothing of the sale is written (the UN is
   * used up): unlike GetOutcome, no answer here cancels a sale not yet forwarded, which stays the
   * till's to forward. The receipt is the one ForwardOffline signed, so the phone checks it under
   * the card company's root like any other.
   */
  async getOfflineReceipt(req: OfflineReceiptRequest, caller: Caller): Promise<OfflineReceiptResponse> {
    const card = req.card!;
    const answer = (state: OfflineReceiptState, o: Partial<OfflineReceiptResponse> = {}) => ({
      state,
      receipt: undefined,
      declineReason: '',
      ...o,
    });
    const refuse = (d: DeclineCode) => answer('refused', { declineReason: d });
    this.outcomesPerPeer.take(peerKey(caller));
    const un = toHex(req.unpredictableNumber);
    const res = await (async (): Promise<OfflineReceiptResponse> => {
      if ((await this.store.read((tx) => tx.peekShopperChallenge(un, this.clock.now()))) !== 'ok') {
        this.work.refusedBeforeCrypto++;
        return refuse('unpredictable_number_invalid');
      }
      const panHash = this.keys.panHash(card.pan);
      this.outcomes.take(panHash);
      return this.store.commit(async (tx): Promise<OfflineReceiptResponse> => {
        const now = this.clock.now();
        const row = await this.cardProvenOver(tx, un, card, req.unpredictableNumber, panHash, now);
        if (typeof row === 'string') return refuse(row);
        const prior = await tx.findSettlement(req.terminalId, req.offlineId);
        if (!prior) return answer('not_forwarded');
        const stored = SettleResponse.decode(prior.response);
        const receipt = stored.receipt ? Receipt.decode(stored.receipt.receipt) : undefined;
        // Another card's sale, or not an offline one: nothing about it.
        if (prior.cardId !== row.id || !receipt?.offline) return refuse('authorization_invalid');
        const state: OfflineReceiptState = stored.approved
          ? 'settled'
          : stored.declineReason === 'offline_merchant_loss'
            ? 'merchant_loss'
            : 'declined';
        return answer(state, { receipt: stored.receipt });
      });
    })();
    this.events.onOfflineReceipt?.({
      state: res.state as OfflineReceiptState,
      decline: (res.declineReason || null) as DeclineCode | null,
    });
    return res;
  }
}
