/**
 * A modified phone against the till's check of an offline approval (pos-terminal's pure
 * checkOfflineApproval) with real simulated cards (the simulator's EmvCard, personalized with
 * offline limits, driven APDU by APDU as the phone drives it): a TC when the till asked the card to
 * go online, a replayed TC (same ATC, at the same sale or at the next one), a TC over a smaller
 * amount or with the amount edited afterwards, the phone's own UN or the till's UN edited in, a
 * signature by another card, a card over its offline limits whose ARQC or AAC is handed on (as is,
 * or with its CID edited to TC), a card certified under a rogue issuer, and a TC without the PIN.
 * None is approved; an honest offline sale beside them is.
 * Prints {"bench":"faults_offline_card","value":<attacks>,"unit":"attacks","approved":0,…}.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { issueSimulatedCard, type EmvCard } from '@bluetill/simulator';
import {
  BLUETILL_AID,
  buildDolData,
  cardCdol1,
  cardPdol,
  createDemoIssuer,
  decodeResponseApdu,
  decodeTlv,
  encodePlaintextPinBlock,
  encodeTlv,
  generateAcCommand,
  getProcessingOptionsCommand,
  readRecordCommand,
  selectCommand,
  SW,
  verifyCommand,
  type DemoIssuer,
  type OfflineTcEvidence,
  type Tlv,
} from '@bluetill/protocol';
import {
  checkOfflineApproval,
  type OfflineApprovalCheck,
  type TillAcRequest,
} from '../../pos-terminal/src/common/offline/offline-approval';
import { classifyForwardedTc } from '../../backend/src/domain/offline-tc';

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const n = (v: number, digits: number): Uint8Array => h(String(v).padStart(digits, '0'));
const LIMITS = { lowerConsecutive: 2, upperConsecutive: 3, amountMinor: 20_000, currency: 978 };
const NOW = new Date('2026-12-07T10:00:00Z');

let issuer: DemoIssuer;
let rogue: DemoIssuer;
let caKeys: Map<number, DemoIssuer['ca']['publicKey']>;
beforeAll(() => {
  issuer = createDemoIssuer();
  // A rogue issuer whose CA claims the scheme's index: the till holds only the scheme's key.
  rogue = createDemoIssuer({ caIndex: 0x99 });
  caKeys = new Map([[issuer.ca.index, issuer.ca.publicKey]]);
});

let pans = 0;
async function newCard(from = issuer, limits = LIMITS): Promise<EmvCard> {
  pans += 1;
  const { card } = await issueSimulatedCard(from, {
    pan: `99900100000${String(pans).padStart(5, '0')}`,
    expiry: '3012',
    cardholderName: 'OFFLINE SHOPPER',
    pin: '1234',
    offlineLimits: limits,
  });
  return card;
}

/** What the phone does with the card for one sale: read, VERIFY the PIN, GENERATE AC as it chooses (CDA). */
function cardSession(
  card: EmvCard,
  o: { minor: number; un: Uint8Array; ask: 'tc' | 'arqc' | 'aac'; pin?: string | undefined },
): OfflineTcEvidence {
  const send = (cmd: Uint8Array): Uint8Array => {
    const r = decodeResponseApdu(card.process(cmd));
    expect(r.sw).toBe(SW.OK);
    return r.data;
  };
  card.powerOn();
  send(selectCommand(BLUETILL_AID));
  const pdolData = buildDolData(cardPdol(), {
    '9F02': n(o.minor, 12),
    '5F2A': h('0978'),
    '9F37': o.un,
    '9F1A': h('0276'),
  });
  send(getProcessingOptionsCommand(pdolData));
  const records = Buffer.concat(
    [
      [1, 1],
      [1, 2],
      [2, 1],
      [2, 2],
      [2, 3],
      [2, 4],
    ].map(([sfi, rec]) => send(readRecordCommand(sfi!, rec!))),
  );
  if (o.pin !== undefined) send(verifyCommand(encodePlaintextPinBlock(o.pin)));
  const cdol1Data = buildDolData(cardCdol1(), {
    '9F02': n(o.minor, 12),
    '9F03': n(0, 12),
    '9F1A': h('0276'),
    '95': h('0000000000'),
    '5F2A': h('0978'),
    '9A': h('261207'),
    '9C': h('00'),
    '9F37': o.un,
    '9F34': h('010002'),
  });
  const response = send(generateAcCommand(o.ask, cdol1Data, { cda: true }));
  card.powerOff();
  return { records: new Uint8Array(records), pdolData, cdol1Data, response };
}

/** The till's sale: its request and a fresh UN from its own CSPRNG. */
const sale = (minor: number, requested: TillAcRequest['requested'] = 'tc'): TillAcRequest => ({
  requested,
  amount: { minor, currency: 'EUR' },
  unpredictableNumber: new Uint8Array(crypto.getRandomValues(new Uint8Array(4))),
});

class Journal {
  private readonly atcs = new Set<string>();
  hasAtc(c: { pan: string; psn: number }, atc: number): boolean {
    return this.atcs.has(`${c.pan}/${c.psn}/${atc}`);
  }
  /** The till journals an approval before it tells the shopper. */
  record(r: OfflineApprovalCheck): void {
    if (r.ok) this.atcs.add(`${r.tc.pan}/${r.tc.psn}/${r.tc.atc}`);
  }
}

const editResponse = (e: OfflineTcEvidence, tag: string, value: Uint8Array): OfflineTcEvidence => {
  const [t] = decodeTlv(e.response) as [Tlv];
  return {
    ...e,
    response: encodeTlv([{ ...t, children: t.children!.map((c) => (c.tag === tag ? { tag, value } : c)) }]),
  };
};
const editDol = (bytes: Uint8Array, at: number, value: Uint8Array): Uint8Array => {
  const out = Uint8Array.from(bytes);
  out.set(value, at);
  return out;
};

describe("offline approval attacks (modified phone, real simulated cards, the till's pure check)", () => {
  it('none approved; an honest offline sale is', { timeout: 60_000 }, async () => {
    const journal = new Journal();
    const outcomes: { attack: string; result: OfflineApprovalCheck }[] = [];
    const check = (request: TillAcRequest, evidence: OfflineTcEvidence): OfflineApprovalCheck =>
      checkOfflineApproval({ request, evidence, caKeys, journal, now: NOW });
    const attack = (name: string, request: TillAcRequest, evidence: OfflineTcEvidence): void => {
      outcomes.push({ attack: name, result: check(request, evidence) });
    };

    // The control: an honest offline sale is approved (so the check can say yes).
    const alice = await newCard();
    const honest = sale(1250);
    const control = check(
      honest,
      cardSession(alice, { minor: 1250, un: honest.unpredictableNumber, ask: 'tc', pin: '1234' }),
    );
    expect(control.ok).toBe(true);
    journal.record(control);

    // A TC when the till asked the card to go online.
    const online = sale(1250, 'arqc');
    attack(
      'tc_when_till_asked_online',
      online,
      cardSession(alice, { minor: 1250, un: online.unpredictableNumber, ask: 'tc', pin: '1234' }),
    );

    // A replayed TC: the same one again at the same sale, then at the next sale.
    const bob = await newCard();
    const first = sale(900);
    const bobTc = cardSession(bob, { minor: 900, un: first.unpredictableNumber, ask: 'tc', pin: '1234' });
    const bobFirst = check(first, bobTc);
    expect(bobFirst.ok).toBe(true);
    journal.record(bobFirst);
    attack('replayed_tc_same_sale', first, bobTc);
    attack('replayed_tc_next_sale', { ...sale(900) }, bobTc);

    // Altered amount: the card signs 1.00 for a 12.50 sale; or the phone edits 12.50 into what the card signed.
    const carol = await newCard();
    const s1 = sale(1250);
    const cheap = cardSession(carol, { minor: 100, un: s1.unpredictableNumber, ask: 'tc', pin: '1234' });
    attack('tc_over_smaller_amount', s1, cheap);
    attack('amount_edited_after_signing', s1, {
      ...cheap,
      cdol1Data: editDol(cheap.cdol1Data, 0, n(1250, 12)),
      pdolData: editDol(cheap.pdolData, 0, n(1250, 12)),
    });

    // Wrong UN: the phone's own; or the till's UN edited in after the card signed the phone's.
    const s2 = sale(500);
    const ownUn = cardSession(carol, { minor: 500, un: h('00000001'), ask: 'tc', pin: '1234' });
    attack('phone_own_un', s2, ownUn);
    attack('un_edited_after_signing', s2, {
      ...ownUn,
      cdol1Data: editDol(ownUn.cdol1Data, 27, s2.unpredictableNumber),
      pdolData: editDol(ownUn.pdolData, 8, s2.unpredictableNumber),
    });

    // A signature by another card: Dave's TC with Alice's records (her certificates).
    const dave = await newCard();
    const s3 = sale(700);
    const daveTc = cardSession(dave, { minor: 700, un: s3.unpredictableNumber, ask: 'tc', pin: '1234' });
    const aliceRecords = cardSession(alice, { minor: 1, un: h('00000002'), ask: 'aac' }).records;
    attack('signature_by_another_card', s3, { ...daveTc, records: aliceRecords });

    // A card certified by a rogue issuer under the scheme's CA index.
    const forged = await newCard(rogue);
    const s4 = sale(300);
    attack(
      'rogue_issuer_card',
      s4,
      cardSession(forged, { minor: 300, un: s4.unpredictableNumber, ask: 'tc', pin: '1234' }),
    );

    // A card over its offline limits: at the lower limit it answers ARQC, beyond the upper AAC.
    const erin = await newCard(issuer, {
      lowerConsecutive: 0,
      upperConsecutive: 1,
      amountMinor: 20_000,
      currency: 978,
    });
    const s5 = sale(400);
    const arqc = cardSession(erin, { minor: 400, un: s5.unpredictableNumber, ask: 'tc', pin: '1234' });
    attack('card_over_lower_limit_arqc', s5, arqc);
    attack('card_over_lower_limit_cid_edited', s5, editResponse(arqc, '9F27', Uint8Array.of(0x40)));
    const frank = await newCard(issuer, {
      lowerConsecutive: 0,
      upperConsecutive: 0,
      amountMinor: 20_000,
      currency: 978,
    });
    const s6 = sale(400);
    const aac = cardSession(frank, { minor: 400, un: s6.unpredictableNumber, ask: 'tc', pin: '1234' });
    attack('card_over_upper_limit_aac', s6, aac);
    attack('card_over_upper_limit_cid_edited', s6, editResponse(aac, '9F27', Uint8Array.of(0x40)));
    const grace = await newCard(issuer, {
      lowerConsecutive: 5,
      upperConsecutive: 5,
      amountMinor: 1_000,
      currency: 978,
    });
    const s7 = sale(1_500);
    attack(
      'card_over_amount_limit',
      s7,
      cardSession(grace, { minor: 1_500, un: s7.unpredictableNumber, ask: 'tc', pin: '1234' }),
    );

    // No cardholder verification on the card.
    const s8 = sale(200);
    attack('tc_without_pin', s8, cardSession(dave, { minor: 200, un: s8.unpredictableNumber, ask: 'tc' }));

    const approved = outcomes.filter((o) => o.result.ok).map((o) => o.attack);
    const reasons: Record<string, string> = Object.fromEntries(
      outcomes.map((o) => [o.attack, o.result.ok ? 'APPROVED' : o.result.reason]),
    );
    process.stdout.write(
      `${JSON.stringify({ bench: 'faults_offline_card', value: outcomes.length, unit: 'attacks', approved: approved.length, controlApproved: control.ok ? 1 : 0, reasons })}\n`,
    );
    expect(approved).toEqual([]);
    expect(reasons).toEqual({
      tc_when_till_asked_online: 'not_requested',
      replayed_tc_same_sale: 'atc_replayed',
      replayed_tc_next_sale: 'unpredictable_number_mismatch',
      tc_over_smaller_amount: 'amount_mismatch',
      amount_edited_after_signing: 'cda_signature',
      phone_own_un: 'unpredictable_number_mismatch',
      un_edited_after_signing: 'cda_signature',
      signature_by_another_card: 'cda_signature',
      rogue_issuer_card: 'card_certificates',
      card_over_lower_limit_arqc: 'not_a_tc',
      card_over_lower_limit_cid_edited: 'cda_signature',
      card_over_upper_limit_aac: 'not_a_tc',
      card_over_upper_limit_cid_edited: 'malformed', // an AAC carries no CDA signature: a "TC" without one
      card_over_amount_limit: 'not_a_tc',
      tc_without_pin: 'cardholder_not_verified',
    });
  });

  it("what the till approved from a real card the card company settles once; the same TC forwarded again is the merchant's loss", async () => {
    const card = await newCard();
    const s = sale(2_000);
    const evidence = cardSession(card, { minor: 2_000, un: s.unpredictableNumber, ask: 'tc', pin: '1234' });
    const approved = checkOfflineApproval({ request: s, evidence, caKeys, journal: new Journal(), now: NOW });
    expect(approved.ok).toBe(true);
    const seen = new Set<number>();
    const forward = () =>
      classifyForwardedTc({
        forwarded: { evidence, amount: s.amount, approvedAtMs: NOW.getTime() },
        caKeys,
        acMasterKeys: issuer.acMasterKeys,
        cardAtSale: () => ({ availableMinor: 50_000, currency: 'EUR' }),
        atcSeen: (_pan, _psn, atc) => seen.has(atc),
      });
    const first = forward();
    expect(first.kind).toBe('settle');
    if (first.kind === 'settle') seen.add(first.tc.atc);
    expect(forward()).toMatchObject({ kind: 'merchant_loss', reason: 'atc_replayed' });
  });
});
