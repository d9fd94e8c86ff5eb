import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChannelError, acceptHello, checkHello, startPhoneHandshake } from './secure-channel';
import { generateP256 } from '../pki/keys';
import { issueCertificate, signWith } from '../pki/certificate';
import { signTerminalStatement } from '../pki/terminal-statement';

function world(
  overrides: { terminalSignedBy?: ReturnType<typeof generateP256>; merchantName?: string } = {},
) {
  const acquirer = generateP256();
  const root = generateP256();
  const terminal = generateP256();
  const pin = generateP256();
  const now = Date.now();
  const terminalCertificate = issueCertificate(
    {
      subjectId: 'T-1',
      role: 'terminal',
      merchantId: 'M-1',
      merchantName: 'Corner Shop',
      publicKey: terminal.publicRaw,
      notAfterMs: now + 3600_000,
      issuer: 'acquirer',
    },
    (overrides.terminalSignedBy ?? acquirer).privateKey,
  );
  const pinKeyCertificate = issueCertificate(
    {
      subjectId: 'pin-1',
      role: 'pin-key',
      merchantId: '',
      merchantName: '',
      publicKey: pin.publicRaw,
      notAfterMs: now + 3600_000,
      issuer: 'root',
    },
    root.privateKey,
  );
  const identity = {
    terminalKey: terminal.privateKey,
    terminalCertificate,
    merchantName: overrides.merchantName ?? 'Corner Shop',
  };
  const trust = { acquirerCa: acquirer.publicKey, cardCompanyRoot: root.publicKey, now };
  const signer = generateP256();
  const signerCertificate = issueCertificate(
    {
      subjectId: 'receipt-1',
      role: 'receipt',
      merchantId: '',
      merchantName: '',
      publicKey: signer.publicRaw,
      notAfterMs: now + 3600_000,
      issuer: 'root',
    },
    root.privateKey,
  );
  const un = Uint8Array.of(9, 8, 7, 6);
  const terminalStatement = signTerminalStatement(
    { terminalId: 'T-1', unpredictableNumber: un, issuedAtMs: now, expiresAtMs: now + 60_000 },
    { sign: (d) => signWith(signer.privateKey, d) },
    signerCertificate,
  );
  const session = { unpredictableNumber: un, pinKeyCertificate, terminalStatement };
  return { identity, trust, session };
}

function connect() {
  const w = world();
  const phone = startPhoneHandshake();
  const till = acceptHello(phone.hello, w.identity, w.session);
  const result = phone.finish(till.ack, w.trust);
  return { phone: result.channel, till: till.channel, result };
}

describe('secure channel handshake', () => {
  it('phone verifies the till and both derive the same keys', () => {
    const { phone, till, result } = connect();
    expect(result.terminal.merchantName).toBe('Corner Shop');
    expect(Array.from(result.unpredictableNumber)).toEqual([9, 8, 7, 6]);
    const rec = phone.seal(Uint8Array.of(1, 2, 3));
    expect(Array.from(till.open(rec))).toEqual([1, 2, 3]);
    expect(Array.from(phone.open(till.seal(Uint8Array.of(4))))).toEqual([4]);
  });

  it('refuses a HelloAck without the card company statement, or with one for another UN', () => {
    const w = world();
    const phone = startPhoneHandshake();
    const { ack } = acceptHello(phone.hello, w.identity, {
      ...w.session,
      terminalStatement: new Uint8Array(),
    });
    expect(() => phone.finish(ack, w.trust)).toThrow(
      expect.objectContaining({ code: 'untrusted_statement' }),
    );
    const other = startPhoneHandshake();
    const swapped = acceptHello(other.hello, w.identity, {
      ...w.session,
      unpredictableNumber: Uint8Array.of(1, 2, 3, 4),
    }).ack;
    expect(() => other.finish(swapped, w.trust)).toThrow(
      expect.objectContaining({ code: 'untrusted_statement' }),
    );
  });

  it('offline: accepts a HelloAck without statement or PIN key only as signed offline, and a flipped flag fails the signature', () => {
    const w = world();
    const phone = startPhoneHandshake();
    const offline = {
      ...w.session,
      terminalStatement: new Uint8Array(),
      pinKeyCertificate: new Uint8Array(),
    };
    const { ack } = acceptHello(phone.hello, w.identity, { ...offline, offline: true });
    const result = phone.finish(ack, w.trust);
    expect(result.offline).toBe(true);
    expect(result.pinKey).toBeNull();
    const relay = startPhoneHandshake();
    const online = acceptHello(relay.hello, w.identity, w.session).ack;
    expect(() => relay.finish({ ...online, offline: true }, w.trust)).toThrow(
      expect.objectContaining({ code: 'bad_signature' }),
    );
    expect(connect().result.offline).toBe(false);
  });

  it('refuses a terminal certificate from another CA (fake till) before anything is sent', () => {
    const w = world({ terminalSignedBy: generateP256() });
    const phone = startPhoneHandshake();
    const { ack } = acceptHello(phone.hello, w.identity, w.session);
    expect(() => phone.finish(ack, w.trust)).toThrowError(
      expect.objectContaining({ code: 'untrusted_terminal' }),
    );
  });

  it('refuses a merchant name that is not the certificate’s', () => {
    const w = world({ merchantName: 'Not The Shop' });
    const phone = startPhoneHandshake();
    const { ack } = acceptHello(phone.hello, w.identity, w.session);
    expect(() => phone.finish(ack, w.trust)).toThrowError(
      expect.objectContaining({ code: 'untrusted_terminal' }),
    );
  });

  it('refuses a HelloAck whose UN (card company statement) or amount (signature over the transcript) was changed in flight', () => {
    const w = world();
    const phone = startPhoneHandshake();
    const { ack } = acceptHello(phone.hello, w.identity, {
      ...w.session,
      amount: { minor: 500, currency: 'EUR' },
    });
    expect(() =>
      phone.finish({ ...ack, unpredictableNumber: Uint8Array.of(0, 0, 0, 0) }, w.trust),
    ).toThrowError(expect.objectContaining({ code: 'untrusted_statement' }));
    expect(() => phone.finish({ ...ack, amount: { minor: 5, currency: 'EUR' } }, w.trust)).toThrowError(
      expect.objectContaining({ code: 'bad_signature' }),
    );
  });

  it('checkHello: a fresh Hello passes; wrong version, short nonce, compressed or off-curve keys are bad_hello', () => {
    const good = startPhoneHandshake().hello;
    expect(() => checkHello(good)).not.toThrow();
    const bad = (h: Partial<typeof good>) => () => checkHello({ ...good, ...h });
    const offCurve = Uint8Array.from(good.ephemeralPublicKey);
    offCurve[64]! ^= 1;
    for (const b of [
      bad({ protocolVersion: 2 }),
      bad({ nonce: new Uint8Array(15) }),
      bad({ ephemeralPublicKey: good.ephemeralPublicKey.subarray(0, 33) }),
      bad({ ephemeralPublicKey: offCurve }),
    ])
      expect(b).toThrowError(expect.objectContaining({ name: 'ChannelError', code: 'bad_hello' }));
  });

  it('refuses a Hello with a point off the curve', () => {
    const w = world();
    const bad = {
      protocolVersion: 1,
      ephemeralPublicKey: new Uint8Array(65).fill(4),
      nonce: new Uint8Array(16),
    };
    expect(() => acceptHello(bad, w.identity, w.session)).toThrow(ChannelError);
  });

  it('checkHello passes what acceptHello accepts and refuses what it refuses, before any session is spent', () => {
    expect(() => checkHello(startPhoneHandshake().hello)).not.toThrow();
    const good = startPhoneHandshake().hello;
    for (const bad of [
      { ...good, ephemeralPublicKey: new Uint8Array(65).fill(4) },
      { ...good, ephemeralPublicKey: good.ephemeralPublicKey.subarray(0, 33) },
      { ...good, protocolVersion: 2 },
      { ...good, nonce: new Uint8Array(15) },
    ]) {
      expect(() => checkHello(bad)).toThrowError(expect.objectContaining({ code: 'bad_hello' }));
      expect(() => acceptHello(bad, world().identity, world().session)).toThrow(ChannelError);
    }
  });
});

describe('secure channel records', () => {
  it('rejects a replayed record and stays closed', () => {
    const { phone, till } = connect();
    const r0 = phone.seal(Uint8Array.of(1));
    till.open(r0);
    expect(() => till.open(r0)).toThrowError(expect.objectContaining({ code: 'out_of_order' }));
    expect(() => till.open(phone.seal(Uint8Array.of(2)))).toThrowError(
      expect.objectContaining({ code: 'closed' }),
    );
  });

  it('rejects reordered records', () => {
    const { phone, till } = connect();
    phone.seal(Uint8Array.of(1));
    const r1 = phone.seal(Uint8Array.of(2));
    expect(() => till.open(r1)).toThrowError(expect.objectContaining({ code: 'out_of_order' }));
  });

  it('rejects a record from the other direction (reflection)', () => {
    const { phone } = connect();
    const r0 = phone.seal(Uint8Array.of(1));
    expect(() => phone.open(r0)).toThrowError(expect.objectContaining({ code: 'bad_record' }));
  });

  it('any flipped bit fails authentication (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 100 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (msg, pos, bit) => {
          const { phone, till } = connect();
          const rec = phone.seal(msg);
          const ct = rec.ciphertext.slice();
          ct[pos % ct.length]! ^= 1 << bit;
          expect(() => till.open({ seq: rec.seq, ciphertext: ct })).toThrowError(
            expect.objectContaining({ code: 'bad_record' }),
          );
        },
      ),
      { numRuns: 100 },
    );
  });
});
