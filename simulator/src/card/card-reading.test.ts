// End to end: the phone's reading flow (phone-agent core + in-process reader) against the
// simulated card, then the checks the authorization server makes. Test-only imports of
// phone-agent files: the simulator drives the apps (STYLE: dependency direction).
import { beforeAll, describe, expect, it } from 'vitest';
import { InProcessCardReader } from '@bluetill/phone-agent';
import { ReplayCardReader } from '@bluetill/phone-agent';
import {
  CardReadError,
  EmvPaymentCard,
  generateCryptogram,
  readCard,
  verifyOfflinePin,
  type TransactionData,
} from '@bluetill/phone-agent';
import {
  cardAcInput,
  cdaTransactionDataHash,
  computeCardAc,
  createDemoIssuer,
  deriveCardAcMasterKey,
  recoverIccPublicKey,
  recoverIssuerPublicKey,
  verifyCda,
  verifyDda,
  type DemoIssuer,
} from '@bluetill/protocol';
import { issueSimulatedCard } from './issue-card';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();
const CARD = {
  pan: '9990010000000017',
  psn: 1,
  expiry: '3012',
  cardholderName: 'TEST/CARDHOLDER',
  pin: '1234',
};
const tx: TransactionData = {
  amount: 1250n,
  currency: 978,
  country: 276,
  unpredictableNumber: Uint8Array.from([0xa1, 0xb2, 0xc3, 0xd4]),
  date: new Date('2026-11-24T12:00:00Z'),
};

let issuer: DemoIssuer;
beforeAll(() => {
  issuer = createDemoIssuer();
});

describe('reading a simulated card from the phone', () => {
  it('read → DDA verifies → ARQC verifies at the issuer; the transcript replays', async () => {
    const { card } = await issueSimulatedCard(issuer, CARD);
    const reader = new InProcessCardReader(card);
    await reader.waitForCard({ timeoutMs: 100 });
    const read = await readCard(reader, tx);
    expect(read.pan).toBe(CARD.pan);
    expect(read.expiry).toBe('301231');
    expect(read.cardholderName).toBe(CARD.cardholderName);
    expect(read.psn).toBe(1);
    expect(read.label).toBe('BLUETILL');
    expect(read.records.length).toBe(6);
    expect(hex(read.cdol2 ?? new Uint8Array())).toBe('8A0295059F3704');
    expect(read.caPublicKeyIndex).toBe(issuer.ca.index);

    // What the authorization server does with it:
    const ic = read.issuerCertificate;
    const cc = read.iccCertificate;
    if (!ic || !cc || !read.signedDynamicData) throw new Error('certificates missing');
    const issuerKey = recoverIssuerPublicKey({
      caPublicKey: issuer.ca.publicKey,
      ...ic,
      pan: read.pan,
      now: tx.date,
    });
    const iccKey = recoverIccPublicKey({
      issuerPublicKey: issuerKey.publicKey,
      ...cc,
      pan: read.pan,
      staticData: read.staticData,
      now: tx.date,
    });
    expect(() =>
      verifyDda({
        iccPublicKey: iccKey.publicKey,
        signedDynamicData: read.signedDynamicData as Uint8Array,
        terminalData: tx.unpredictableNumber,
      }),
    ).not.toThrow();

    const pin = await verifyOfflinePin(reader, '1234');
    expect(pin).toEqual({ ok: true });
    const c = await generateCryptogram(reader, read, tx);
    expect(c.cid).toBe(0x80);
    expect(hex(c.cvmResults ?? new Uint8Array())).toBe('010002');
    const mk = deriveCardAcMasterKey(issuer.acMasterKeys.aes, read.pan, read.psn ?? 0, 'aes');
    expect(hex(c.arqc ?? new Uint8Array())).toBe(
      hex(
        computeCardAc({
          iccMasterKey: mk,
          algorithm: 'aes',
          atc: c.atc,
          data: cardAcInput(c.cdolData, read.aip, c.atc, c.iad),
        }),
      ),
    );
    await reader.close();

    // The recorded transcript plays back through the replay reader, byte for byte.
    const replay = new ReplayCardReader(reader.transcript());
    await replay.waitForCard({ timeoutMs: 1 });
    const again = await readCard(replay, tx);
    expect(again.pan).toBe(read.pan);
    expect(await verifyOfflinePin(replay, '1234')).toEqual({ ok: true });
    expect(hex((await generateCryptogram(replay, again, tx)).arqc ?? new Uint8Array())).toBe(
      hex(c.arqc ?? new Uint8Array()),
    );
    await expect(replay.close()).resolves.toBeUndefined();

    // A different UN is a different command: the replay refuses it.
    const replay2 = new ReplayCardReader(reader.transcript());
    await replay2.waitForCard({ timeoutMs: 1 });
    await readCard(replay2, tx);
    await verifyOfflinePin(replay2, '1234');
    await expect(generateCryptogram(replay2, again, { ...tx, amount: 1251n })).rejects.toMatchObject({
      code: 'transmit_failed',
    });
    // Leftover lines make close() fail.
    const replay3 = new ReplayCardReader(reader.transcript());
    await replay3.waitForCard({ timeoutMs: 1 });
    await expect(replay3.close()).rejects.toMatchObject({ code: 'unexpected_command' });
  });

  it('CDA: the AC is recovered from the signature and matches the issuer computation', async () => {
    const { card } = await issueSimulatedCard(issuer, { ...CARD, acAlgorithm: 'tdes' });
    const reader = new InProcessCardReader(card);
    await reader.waitForCard({ timeoutMs: 100 });
    const read = await readCard(reader, tx);
    const c = await generateCryptogram(reader, read, tx, { cda: true });
    expect(c.arqc).toBeUndefined();
    const issuerKey = recoverIssuerPublicKey({
      caPublicKey: issuer.ca.publicKey,
      ...(read.issuerCertificate as NonNullable<typeof read.issuerCertificate>),
      pan: read.pan,
    });
    const iccKey = recoverIccPublicKey({
      issuerPublicKey: issuerKey.publicKey,
      ...(read.iccCertificate as NonNullable<typeof read.iccCertificate>),
      pan: read.pan,
      staticData: read.staticData,
    });
    const { ac } = verifyCda({
      iccPublicKey: iccKey.publicKey,
      signedDynamicData: c.cdaSignature as Uint8Array,
      unpredictableNumber: tx.unpredictableNumber,
      cid: c.cid,
      transactionDataHash: cdaTransactionDataHash(read.pdolData, c.cdolData, c.responseObjects),
    });
    const mk = deriveCardAcMasterKey(issuer.acMasterKeys.tdes, read.pan, 1, 'tdes');
    expect(hex(ac)).toBe(
      hex(
        computeCardAc({
          iccMasterKey: mk,
          algorithm: 'tdes',
          atc: c.atc,
          data: cardAcInput(c.cdolData, read.aip, c.atc, c.iad),
        }),
      ),
    );
  });

  it('card removed mid-read ends with CardReadError(card_removed)', async () => {
    const { card } = await issueSimulatedCard(issuer, CARD);
    const reader = new InProcessCardReader(card);
    await reader.waitForCard({ timeoutMs: 100 });
    let calls = 0;
    const flaky = {
      waitForCard: reader.waitForCard.bind(reader),
      close: reader.close.bind(reader),
      transmit: async (c: Uint8Array) => {
        calls += 1;
        if (calls === 5) reader.removeCard();
        return reader.transmit(c);
      },
    };
    const err = await readCard(flaky, tx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CardReadError);
    expect((err as CardReadError).code).toBe('card_removed');
  });

  it('wrong PIN gives tries left, then blocked', async () => {
    const { card } = await issueSimulatedCard(issuer, { ...CARD, pinTryLimit: 2 });
    const reader = new InProcessCardReader(card);
    await reader.waitForCard({ timeoutMs: 100 });
    await readCard(reader, tx);
    expect(await verifyOfflinePin(reader, '9999')).toEqual({
      ok: false,
      reason: 'pin_incorrect',
      triesLeft: 1,
    });
    expect(await verifyOfflinePin(reader, '9999')).toEqual({ ok: false, reason: 'pin_blocked' });
    expect(await verifyOfflinePin(reader, '1234')).toEqual({ ok: false, reason: 'pin_blocked' });
  });

  it('EmvPaymentCard (the PaymentCard port): CardData for CardAuth, then a Cryptogram the issuer verifies', async () => {
    const { card } = await issueSimulatedCard(issuer, CARD);
    const reader = new InProcessCardReader(card, { present: false });
    const port = new EmvPaymentCard(reader, {
      country: 276,
      currency: 'EUR',
      now: () => tx.date,
      waitTimeoutMs: 5,
    });
    await expect(port.read(tx.unpredictableNumber)).rejects.toMatchObject({ code: 'no_card' });
    reader.insertCard();
    const data = await port.read(tx.unpredictableNumber);
    expect(data.pan).toBe(CARD.pan);
    expect(data.expiry).toBe('3012');
    expect(data.panSequence).toBe(1);
    expect(data.records[0]).toBe(0x70);
    expect(data.signedDynamicData.length).toBe(96);
    const c = await port.generateAc({
      amount: { minor: 1250, currency: 'EUR' },
      unpredictableNumber: tx.unpredictableNumber,
    });
    expect(c.atc).toBe(1);
    expect(c.cid).toBe(0x80);
    const atc = Uint8Array.of(0, 1);
    const mk = deriveCardAcMasterKey(issuer.acMasterKeys.aes, CARD.pan, 1, 'aes');
    expect(hex(c.arqc)).toBe(
      hex(
        computeCardAc({
          iccMasterKey: mk,
          algorithm: 'aes',
          atc,
          data: cardAcInput(c.cdolData, Uint8Array.of(0x39, 0), atc, c.iad),
        }),
      ),
    );
    await expect(
      port.generateAc({ amount: { minor: 1, currency: 'XXX' }, unpredictableNumber: tx.unpredictableNumber }),
    ).rejects.toMatchObject({ code: 'bad_input' });
  });
});
