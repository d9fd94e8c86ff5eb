/**
 * The authorization server's use cases: issue a single-use unpredictable number, then decide card
 * legitimacy (known, active, not expired) and customer legitimacy (the sealed PIN, tries counted
 * durably, locked at 3). Settlement requests are relayed to the settlement server.
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import {
  cvmNameOf, openSealedPin, type CvmName, pinSealContext, toHex,
  type AuthorizeRequest, type AuthorizeResponse, type ChallengeRequest, type ChallengeResponse, type DeclineCode,
  type CancelRequest, type SettleRequest, type SettleResponse,
} from '@bluetill/protocol';
import type { BackendStore } from '../ports/backend-store';
import type { Clock } from '../ports/clock';
import type { KeyStore } from '../ports/key-store';
import { authenticateCard } from '../domain/card-authentication';
import { AUTHORIZATION_LIFETIME_MS, CHALLENGE_LIFETIME_MS, MAX_PIN_TRIES, checkCard, pinOutcome } from '../domain/rules';
import { RequestError } from './request-error';
import type { PreparedSettle, SettlementUseCase } from './settlement-service';
import { checkCaller, type Caller } from './caller';

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
}

/** The CPU part of Authorize (see PreparedAuthorize); throws the same RequestErrors, in the same order, as authorize. */
export function prepareAuthorize(keys: KeyStore, clock: Clock, req: AuthorizeRequest, caller: Caller): PreparedAuthorize {
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
      pin = openSealedPin(req.sealedPinBlock, { pinPrivateKey: keys.pinKey.agreement, pan: card.pan, context: pinSealContext(req.unpredictableNumber, req.terminalId) });
    } catch {
      pin = null;
    }
  }
  const cardProof = authenticateCard({ card, unpredictableNumber: req.unpredictableNumber, caKeys: keys.caPublicKeys, issuerKeys: keys.issuerKeys, cardRecords: keys.cardRecords, now: new Date(now) });
  return { now, cvm, pin, cardProof };
}

/** Expired challenges are kept this long (a late Authorize still learns "expired"), then purged. */
export const CHALLENGE_RETENTION_MS = 24 * 3600_000;

export class AuthorizationUseCase {
  private readonly drawUn: () => Uint8Array;

  constructor(
    private readonly store: BackendStore,
    private readonly keys: KeyStore,
    private readonly clock: Clock,
    private readonly settlement: Pick<SettlementUseCase, 'settle' | 'cancel'>,
    private readonly events: AuthorizationEvents = {},
    /** Test hook: where unpredictable numbers come from (default 4 random bytes). */
    o: { drawUn?: () => Uint8Array } = {},
  ) {
    this.drawUn = o.drawUn ?? (() => new Uint8Array(randomBytes(4)));
  }

  async challenge(req: ChallengeRequest, caller: Caller): Promise<ChallengeResponse> {
    checkCaller(req.terminalId, caller);
    const now = this.clock.now();
    const expiresAt = now + CHALLENGE_LIFETIME_MS;
    const un = await this.store.commit(() => {
      const terminal = this.store.findTerminal(req.terminalId);
      if (!terminal || terminal.status !== 'active') throw new RequestError('permission_denied', 'terminal not registered');
      // Now and then, forget challenges long expired (an unknown UN declines like an expired one).
      if (randomInt(100) === 0) this.store.purgeChallenges(now - CHALLENGE_RETENTION_MS);
      // A 4-byte UN repeats after tens of thousands of challenges per terminal: draw again then,
      // so every challenge is a row of its own (single use stays checkable).
      for (let attempt = 0; attempt < 16; attempt++) {
        const drawn = this.drawUn();
        if (this.store.insertChallenge(toHex(drawn), req.terminalId, expiresAt)) return drawn;
      }
      throw new Error('16 unpredictable numbers in a row were already taken for this terminal');
    });
    return { unpredictableNumber: un, expiresAtMs: expiresAt, pinKeyCertificate: this.keys.pinKey.certificate };
  }

  /** `prepared`: made by a crypto worker (prepareAuthorize); made here when absent. */
  async authorize(req: AuthorizeRequest, caller: Caller, prepared?: PreparedAuthorize): Promise<AuthorizeResponse> {
    checkCaller(req.terminalId, caller);
    const card = req.card!;
    // The PIN is opened and the card's certificates checked outside the transaction (CPU work), but judged inside it.
    const { now, cvm, pin, cardProof } = prepared ?? prepareAuthorize(this.keys, this.clock, req, caller);
    const panHash = this.keys.panHash(card.pan);
    const result = await this.store.commit((): AuthorizeResponse => {
      const decline = (code: DeclineCode, triesLeft = 0): AuthorizeResponse => ({ approved: false, declineReason: code, authorizationRef: '', expiresAtMs: 0, pinTriesLeft: triesLeft });
      const un = toHex(req.unpredictableNumber);
      const state = this.store.takeChallenge(un, req.terminalId, now);
      if (state !== 'ok') return decline('unpredictable_number_invalid');
      const row = this.store.findCardByPanHash(panHash);
      const cardDecline = checkCard(row, now);
      if (cardDecline || !row) return decline(cardDecline ?? 'unknown_card');
      if (row.expiry !== card.expiry || row.panSequence !== card.panSequence) return decline('card_authentication_failed');
      // The card proves itself before any PIN try is counted: a cloned or fake card burns no tries.
      if (cardProof) return decline(cardProof, MAX_PIN_TRIES - row.pinTries);
      if (cvm !== 'online_pin') {
        const ref = authorizationRef(row.id, req.terminalId, un);
        const expiresAt = now + AUTHORIZATION_LIFETIME_MS;
        this.store.insertAuthorization({ ref, cardId: row.id, terminalId: req.terminalId, un, expiresAt, settled: false, cvm });
        return { approved: true, declineReason: '', authorizationRef: ref, expiresAtMs: expiresAt, pinTriesLeft: MAX_PIN_TRIES - row.pinTries };
      }
      if (pin === null) return decline('pin_missing', MAX_PIN_TRIES - row.pinTries);
      const expected = this.keys.pinVerifier(row.pinSalt, pin, panHash);
      const matched = expected.length === row.pinVerifier.length && timingSafeEqual(expected, row.pinVerifier);
      const outcome = pinOutcome(row.pinTries, matched);
      if (outcome.tries !== row.pinTries) this.store.setPinTries(row.id, outcome.tries);
      if (outcome.decline) return decline(outcome.decline, MAX_PIN_TRIES - outcome.tries);
      const ref = authorizationRef(row.id, req.terminalId, un);
      const expiresAt = now + AUTHORIZATION_LIFETIME_MS;
      this.store.insertAuthorization({ ref, cardId: row.id, terminalId: req.terminalId, un, expiresAt, settled: false, cvm });
      return { approved: true, declineReason: '', authorizationRef: ref, expiresAtMs: expiresAt, pinTriesLeft: MAX_PIN_TRIES };
    });
    this.events.onDecision?.({ approved: result.approved, decline: (result.declineReason || null) as DeclineCode | null });
    return result;
  }

  /** Relays to the settlement server (claims 3, 5, 12). */
  settle(req: SettleRequest, caller: Caller, prepared?: PreparedSettle): Promise<SettleResponse> | SettleResponse {
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
