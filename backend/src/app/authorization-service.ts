/**
 * The authorization server's use cases: issue a single-use unpredictable number, then decide card
 * legitimacy (the card's signature over the UN first, then known, active, not expired) and
 * customer legitimacy (the sealed PIN, tries counted durably; one budget of 3 with the wrong
 * offline PINs the card signed in its DDA over this UN, see rules.ts pinOutcome; an online PIN is
 * judged only with the card's account-verification ARQC, and the answer carries the tries left to
 * the card, authenticated: domain/issuer-authentication.ts). Until the card has
 * proven itself every decline is the same one (no card-data oracle). Settlement requests are
 * relayed to the settlement server.
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import {
  cvmNameOf,
  openSealedPin,
  type CardCounters,
  type CvmName,
  pinSealContext,
  signTerminalStatement,
  toHex,
  type AuthorizeRequest,
  type AuthorizeResponse,
  type ChallengeRequest,
  type ChallengeResponse,
  type DeclineCode,
  type CancelRequest,
  type SettleRequest,
  type SettleResponse,
} from '@bluetill/protocol';
import type { BackendStore } from '../ports/backend-store';
import type { Clock } from '../ports/clock';
import type { KeyStore } from '../ports/key-store';
import { proveCard } from '../domain/card-authentication';
import {
  cardAnswerer,
  countersAtArqc,
  verifyAuthorizationArqc,
  type AuthorizationArqc,
} from '../domain/issuer-authentication';
import {
  AUTHORIZATION_LIFETIME_MS,
  CHALLENGE_LIFETIME_MS,
  MAX_PIN_TRIES,
  cardWrongPinTries,
  checkCard,
  otherMethodLocked,
  pinBudgetSpent,
  pinOutcome,
  pinTriesLeft,
} from '../domain/rules';
import { RequestError } from './request-error';
import type { PreparedSettle, SettlementUseCase } from './settlement-service';
import { checkCaller, type Caller } from './caller';
import { RateLimiter } from './rate-limiter';

export interface AuthorizationEvents {
  onDecision?(outcome: { approved: boolean; decline: DeclineCode | null }): void;
}

/**
 * What an Authorize needs that is pure CPU work on the request and the keys (no store): the opened
 * PIN (null when absent or not openable) and the card's own proof (certificates, DDA over the UN).
 * Made before the transaction — by a crypto worker when the use cases run on the worker threads
 * (adapters/worker), else inline — and only *used* inside it, at the same point of the decision as
 * before, so the outcome is the same. The PIN stays in the process (it crosses threads in memory,
 * never a log or a file).
 */
export interface PreparedAuthorize {
  readonly now: number;
  /** The declared cardholder verification method. */
  readonly cvm: CvmName;
  readonly pin: string | null;
  /** null: the card proved itself. */
  readonly cardProof: DeclineCode | null;
  /** The try counters the card signed over this UN (only when it proved itself; absent from older cards). */
  readonly cardCounters?: CardCounters;
  /** Online PIN: the card's account-verification ARQC over this UN, verified (absent: none, or not the card's). */
  readonly authorizationArqc?: AuthorizationArqc;
}

/** The CPU part of Authorize (see PreparedAuthorize); throws the same RequestErrors, in the same order, as authorize. */
export function prepareAuthorize(
  keys: KeyStore,
  clock: Clock,
  req: AuthorizeRequest,
  caller: Caller,
): PreparedAuthorize {
  checkCaller(req.terminalId, caller);
  const card = req.card!;
  const now = clock.now();
  // Declared cardholder verification (validated at the edge): online PIN is judged here; a method
  // the card checks itself is recorded, and settlement requires the card's signed CVR to show it.
  const cvm = cvmNameOf(req.cvmMethod ?? 0);
  if (!cvm) throw new RequestError('invalid_argument', 'cvm_method: unknown method');
  let pin: string | null = null;
  if (cvm === 'online_pin') {
    try {
      pin = openSealedPin(req.sealedPinBlock, {
        pinPrivateKey: keys.pinKey.agreement,
        pan: card.pan,
        context: pinSealContext(req.unpredictableNumber, req.terminalId),
      });
    } catch {
      pin = null;
    }
  }
  const proof = proveCard({
    card,
    unpredictableNumber: req.unpredictableNumber,
    caKeys: keys.caPublicKeys,
    issuerKeys: keys.issuerKeys,
    cardRecords: keys.cardRecords,
    now: new Date(now),
  });
  const authorizationArqc =
    cvm === 'online_pin' && proof.decline === null
      ? verifyAuthorizationArqc({
          cryptogram: card.authorizationCryptogram,
          pan: card.pan,
          panSequence: card.panSequence,
          unpredictableNumber: req.unpredictableNumber,
          acMasterKeys: keys.acMasterKeys,
          cardKeys: keys.cardKeys,
        })
      : undefined;
  return {
    now,
    cvm,
    pin,
    cardProof: proof.decline,
    ...(proof.decline === null && proof.counters ? { cardCounters: proof.counters } : {}),
    ...(authorizationArqc ? { authorizationArqc } : {}),
  };
}

/** Authorize declines before the card proved itself, per terminal per minute, before the terminal's Authorize calls are refused (RESOURCE_EXHAUSTED) for the rest of the minute. */
export const UNPROVEN_CARDS_PER_TERMINAL_PER_MINUTE = 60;

/**
 * Most challenges one terminal holds at once (unexpired, used or not). Challenges are asked for by
 * a till on every phone's Hello, and Hellos are anonymous: without a bound, a radio flooding one
 * till with Hellos grows the table without end. At the bound the terminal's OLDEST challenge is
 * evicted (an Authorize with it then declines unpredictable_number_invalid, as an expired one
 * does) rather than the new one refused: refusing would let a burst of 128 Hellos lock every
 * later phone out of that till for the challenges' whole lifetime, while eviction costs an honest
 * phone its session only if 128 more Hellos reach the same till while that phone pays (seconds),
 * and stops hurting the moment the flood does. 128 is twice a minute's challenges of a till
 * serving a phone every second (a challenge lives CHALLENGE_LIFETIME_MS, one minute).
 */
export const MAX_CHALLENGES_PER_TERMINAL = 128;

/** One challenge issue in this many also purges every terminal's expired challenges (the issuing terminal's go at every issue). */
export const CHALLENGE_PURGE_EVERY = 100;

/** The Authorization service's per-terminal bounds (defaults above); a benchmark raises them to its calls in flight. */
export interface AuthorizationLimits {
  readonly unprovenPerTerminalPerMinute?: number;
  /** Challenges one terminal holds at once (default MAX_CHALLENGES_PER_TERMINAL). */
  readonly maxChallengesPerTerminal?: number;
}

export class AuthorizationUseCase {
  private readonly drawUn: () => Uint8Array;
  private readonly maxChallenges: number;
  private readonly unproven: RateLimiter;

  constructor(
    private readonly store: BackendStore,
    private readonly keys: KeyStore,
    private readonly clock: Clock,
    private readonly settlement: Pick<SettlementUseCase, 'settle' | 'cancel'>,
    private readonly events: AuthorizationEvents = {},
    /** Test hook: where unpredictable numbers come from (default 4 random bytes). */
    o: AuthorizationLimits & { drawUn?: () => Uint8Array } = {},
  ) {
    this.drawUn = o.drawUn ?? (() => new Uint8Array(randomBytes(4)));
    this.maxChallenges = o.maxChallengesPerTerminal ?? MAX_CHALLENGES_PER_TERMINAL;
    // Cards that did not prove themselves, per terminal: a till (or whoever holds its key) walking
    // card data is stopped; a real till sees a few a day.
    this.unproven = new RateLimiter(
      clock,
      o.unprovenPerTerminalPerMinute ?? UNPROVEN_CARDS_PER_TERMINAL_PER_MINUTE,
      60_000,
      'cards that did not prove themselves at this terminal',
    );
  }

  async challenge(req: ChallengeRequest, caller: Caller): Promise<ChallengeResponse> {
    checkCaller(req.terminalId, caller);
    const now = this.clock.now();
    const expiresAt = now + CHALLENGE_LIFETIME_MS;
    const un = await this.store.commit(async (tx) => {
      const terminal = await tx.findTerminal(req.terminalId);
      if (!terminal || terminal.status !== 'active')
        throw new RequestError('permission_denied', 'terminal not registered');
      // Bounded storage: this terminal's expired challenges go now, and at MAX_CHALLENGES_PER_TERMINAL
      // the oldest is evicted to make room; now and then every terminal's expired ones go too (an
      // unknown UN declines like an expired or used one, so nothing is learned by keeping them).
      await tx.boundChallenges(req.terminalId, now, this.maxChallenges - 1);
      if (randomInt(CHALLENGE_PURGE_EVERY) === 0) await tx.purgeChallenges(now);
      // A 4-byte UN repeats after tens of thousands of challenges per terminal: draw again then,
      // so every challenge is a row of its own (single use stays checkable).
      for (let attempt = 0; attempt < 16; attempt++) {
        const drawn = this.drawUn();
        if (await tx.insertChallenge(toHex(drawn), req.terminalId, expiresAt)) return drawn;
      }
      throw new Error('16 unpredictable numbers in a row were already taken for this terminal');
    });
    // The card company's word to the phone that this terminal is in good standing now and that the
    // UN is its own (signed with its receipt key, certified by the root): a revoked till gets no
    // Challenge, so it has no fresh statement to show.
    const terminalStatement = signTerminalStatement(
      { terminalId: req.terminalId, unpredictableNumber: un, issuedAtMs: now, expiresAtMs: expiresAt },
      this.keys.receiptKey.signer,
      this.keys.receiptKey.certificate,
    );
    return {
      unpredictableNumber: un,
      expiresAtMs: expiresAt,
      pinKeyCertificate: this.keys.pinKey.certificate,
      terminalStatement,
    };
  }

  /** `prepared`: made by a crypto worker (prepareAuthorize); made here when absent. */
  async authorize(
    req: AuthorizeRequest,
    caller: Caller,
    prepared?: PreparedAuthorize,
  ): Promise<AuthorizeResponse> {
    checkCaller(req.terminalId, caller);
    this.unproven.check(req.terminalId);
    const card = req.card!;
    // The PIN is opened and the card's certificates checked outside the transaction (CPU work), but judged inside it.
    const {
      now,
      cvm,
      pin,
      cardProof,
      cardCounters: signedCounters,
      authorizationArqc,
    } = prepared ?? prepareAuthorize(this.keys, this.clock, req, caller);
    // The card's PIN Try Counter as it was at its ARQC when lower than in its DDA (domain).
    const cardCounters = countersAtArqc(signedCounters, authorizationArqc);
    const panHash = this.keys.panHash(card.pan);
    const result = await this.store.commit(async (tx): Promise<AuthorizeResponse> => {
      const decline = (
        code: DeclineCode,
        triesLeft = 0,
        issuerAuthenticationData?: Uint8Array,
      ): AuthorizeResponse => ({
        approved: false,
        declineReason: code,
        authorizationRef: '',
        expiresAtMs: 0,
        pinTriesLeft: triesLeft,
        ...(issuerAuthenticationData ? { issuerAuthenticationData } : {}),
      });
      // Every answer that judges or refuses an online PIN tells the card, authenticated, the tries
      // left in the one budget (ARPC ‖ CSU over its account-verification ARQC): until the card has
      // it, the card checks no offline PIN.
      const toCard = cardAnswerer(authorizationArqc);
      const un = toHex(req.unpredictableNumber);
      const state = await tx.takeChallenge(un, req.terminalId, now);
      if (state !== 'ok') return decline('unpredictable_number_invalid');
      // Nothing about the card number is said before the card has proven itself (its signature over
      // this UN): an unknown, blocked, expired or mistyped card, and a fake one, all get the same
      // decline with no PIN tries, after the same work (the lookup is made in every case).
      const row = await tx.findCardByPanHash(panHash);
      const unproven =
        cardProof !== null || !row || row.expiry !== card.expiry || row.panSequence !== card.panSequence;
      if (unproven) return decline('card_authentication_failed');
      // The card proved itself: from here the answer may name the card's state and its PIN tries.
      const cardDecline = checkCard(row, now);
      if (cardDecline)
        return decline(
          cardDecline,
          0,
          cardDecline === 'pin_tries_exceeded' && cvm === 'online_pin' ? toCard(0, false) : undefined,
        );
      // Online PIN is judged only with the card's account-verification ARQC over this UN, which
      // makes the card wait for this answer before it checks an offline PIN again.
      if (cvm === 'online_pin' && !authorizationArqc)
        return decline('cryptogram_invalid', pinTriesLeft(row.pinTries, cardCounters));
      // One budget of PIN guesses: the wrong online PINs counted here and the wrong offline PINs the
      // card signed over this UN. Spent: no method pays and no PIN is looked at; the server's
      // counter locks too, so a later offline PIN right at the card cannot pay either.
      if (pinBudgetSpent(row.pinTries, cardCounters)) {
        if (row.pinTries < MAX_PIN_TRIES) await tx.setPinTries(row.id, MAX_PIN_TRIES);
        return decline('pin_tries_exceeded', 0, cvm === 'online_pin' ? toCard(0, false) : undefined);
      }
      const cardWrong = cardWrongPinTries(cardCounters);
      if (cvm !== 'online_pin') {
        const ref = authorizationRef(row.id, req.terminalId, un);
        const expiresAt = now + AUTHORIZATION_LIFETIME_MS;
        await tx.insertAuthorization({
          ref,
          cardId: row.id,
          terminalId: req.terminalId,
          un,
          expiresAt,
          settled: false,
          cvm,
        });
        return {
          approved: true,
          declineReason: '',
          authorizationRef: ref,
          expiresAtMs: expiresAt,
          pinTriesLeft: pinTriesLeft(row.pinTries, cardCounters),
        };
      }
      // The card signed its fingerprint or secret locked: online PIN is refused, as at settlement.
      if (otherMethodLocked(cardCounters))
        return decline(
          'cvm_tries_exceeded',
          pinTriesLeft(row.pinTries, cardCounters),
          toCard(pinTriesLeft(row.pinTries, cardCounters), false),
        );
      if (pin === null)
        return decline(
          'pin_missing',
          pinTriesLeft(row.pinTries, cardCounters),
          toCard(pinTriesLeft(row.pinTries, cardCounters), false),
        );
      const expected = this.keys.pinVerifier(row.pinSalt, pin, panHash);
      const matched =
        expected.length === row.pinVerifier.length && timingSafeEqual(expected, row.pinVerifier);
      const outcome = pinOutcome(row.pinTries, matched, cardWrong);
      if (outcome.tries !== row.pinTries) await tx.setPinTries(row.id, outcome.tries);
      if (outcome.decline)
        return decline(
          outcome.decline,
          pinTriesLeft(outcome.tries, cardCounters),
          toCard(pinTriesLeft(outcome.tries, cardCounters), false),
        );
      const ref = authorizationRef(row.id, req.terminalId, un);
      const expiresAt = now + AUTHORIZATION_LIFETIME_MS;
      await tx.insertAuthorization({
        ref,
        cardId: row.id,
        terminalId: req.terminalId,
        un,
        expiresAt,
        settled: false,
        cvm,
      });
      const left = pinTriesLeft(0, cardCounters);
      const issuerAuthenticationData = toCard(left, true);
      return {
        approved: true,
        declineReason: '',
        authorizationRef: ref,
        expiresAtMs: expiresAt,
        pinTriesLeft: left,
        ...(issuerAuthenticationData ? { issuerAuthenticationData } : {}),
      };
    });
    if (result.declineReason === 'card_authentication_failed') this.unproven.count(req.terminalId);
    this.events.onDecision?.({
      approved: result.approved,
      decline: (result.declineReason || null) as DeclineCode | null,
    });
    return result;
  }

  /** Relays to the settlement server (claims 3, 5, 12). */
  settle(
    req: SettleRequest,
    caller: Caller,
    prepared?: PreparedSettle,
  ): Promise<SettleResponse> | SettleResponse {
    checkCaller(req.terminalId, caller);
    return this.settlement.settle(req, caller, prepared);
  }

  /** Relays a till's Cancel to the settlement server, as Settle. */
  cancel(req: CancelRequest, caller: Caller): Promise<SettleResponse> {
    checkCaller(req.terminalId, caller);
    return this.settlement.cancel(req, caller);
  }
}

/** A reference bound to card, terminal and UN, with 16 random bytes so it cannot be guessed. */
function authorizationRef(cardId: string, terminalId: string, un: string): string {
  const binding = createHash('sha256').update(`${cardId}|${terminalId}|${un}`).digest('hex').slice(0, 8);
  return `AUTH-${binding}-${randomBytes(16).toString('hex')}`;
}
