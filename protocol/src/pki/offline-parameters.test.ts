import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OfflineParameters, type SignedOfflineParameters } from '../gen/bluetill/v1/settlement_network';
import { generateP256 } from './keys';
import { issueCertificate, signWith } from './certificate';
import {
  OfflineParametersError,
  blockListEntry,
  isBlocked,
  signOfflineParameters,
  verifyOfflineParameters,
} from './offline-parameters';

const now = 1_800_000_000_000;
const root = generateP256();
const signer = generateP256();
const cert = (role: 'receipt' | 'pin-key', issuer = root) =>
  issueCertificate(
    {
      subjectId: 'k',
      role,
      merchantId: '',
      merchantName: '',
      publicKey: signer.publicRaw,
      notAfterMs: now + 3600_000,
      issuer: 'root',
    },
    issuer.privateKey,
  );
const sign = { sign: (d: Uint8Array) => signWith(signer.privateKey, d) };
const salt = new Uint8Array(randomBytes(16));
const params = (o: Partial<OfflineParameters> = {}): OfflineParameters => ({
  terminalId: 'T-0001',
  merchantId: 'M-0001',
  currency: 'EUR',
  floorLimitMinor: 50_00,
  exposureMinor: 500_00,
  perCardDailyCount: 3,
  perCardDailyAmountMinor: 100_00,
  blockListSalt: salt,
  blockedCards: [blockListEntry(salt, '6799990100000000019', 1)],
  issuedAtMs: now,
  validUntilMs: now + 24 * 3600_000,
  ...o,
});
const good = (o: Partial<OfflineParameters> = {}) => signOfflineParameters(params(o), sign, cert('receipt'));
const check = (
  s: SignedOfflineParameters,
  o: Partial<{ terminalId: string; merchantId: string; now: number; copyIssuedAtMs: number }> = {},
) => verifyOfflineParameters(s, root.publicKey, { terminalId: 'T-0001', merchantId: 'M-0001', now, ...o });
const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (e instanceof OfflineParametersError) return e.code;
    throw e;
  }
  return undefined;
};

describe('offline parameters', () => {
  it('pass for their terminal within their validity; the blocked card is found, no other', () => {
    const p = check(good());
    expect(p.floorLimitMinor).toBe(50_00);
    expect(isBlocked(p, '6799990100000000019', 1)).toBe(true);
    expect(isBlocked(p, '6799990100000000019', 2)).toBe(false);
    expect(isBlocked(p, '6799990100000000027', 1)).toBe(false);
    // The same issue fetched again is accepted (equal issue time).
    expect(check(good(), { copyIssuedAtMs: now }).issuedAtMs).toBe(now);
  });

  it('name no card number: the entries differ from issue to issue', () => {
    const other = new Uint8Array(randomBytes(16));
    expect(Buffer.from(blockListEntry(other, '6799990100000000019', 1))).not.toEqual(
      Buffer.from(blockListEntry(salt, '6799990100000000019', 1)),
    );
    expect(Buffer.from(good().parameters).includes(Buffer.from('6799990100000000019'))).toBe(false);
  });

  it.each([
    [
      'missing',
      () =>
        check({ parameters: new Uint8Array(), signature: new Uint8Array(), certificate: cert('receipt') }),
    ],
    ['malformed', () => check({ ...good(), parameters: Uint8Array.of(0xff, 0xff, 0xff) })],
    ['wrong_terminal', () => check(good(), { terminalId: 'T-0002' })],
    ['wrong_terminal', () => check(good(), { merchantId: 'M-0002' })],
    ['expired', () => check(good({ validUntilMs: now + 60_000 }), { now: now + 60_000 })],
    ['expired', () => check(good({ validUntilMs: now - 1 }))],
    ['not_yet_valid', () => check(good(), { now: now - 10 * 60_000 })],
    ['older_than_copy', () => check(good(), { copyIssuedAtMs: now + 1 })],
    ['malformed', () => check(good({ blockListSalt: new Uint8Array(4) }))],
    ['bad_certificate', () => check(signOfflineParameters(params(), sign, cert('pin-key')))],
    ['bad_certificate', () => check(signOfflineParameters(params(), sign, cert('receipt', generateP256())))],
  ])('refused: %s', (code, f) => {
    expect(codeOf(f)).toBe(code);
  });

  it('refuses a tampered copy: a raised floor limit, a card taken off the list, a stretched validity', () => {
    const s = good();
    for (const change of [
      { floorLimitMinor: 1_000_00 },
      { blockedCards: [] },
      { validUntilMs: now + 30 * 24 * 3600_000 },
    ]) {
      const parameters = OfflineParameters.encode({
        ...OfflineParameters.decode(s.parameters),
        ...change,
      }).finish();
      expect(codeOf(() => check({ ...s, parameters }))).toBe('bad_signature');
    }
    const signature = Uint8Array.from(s.signature);
    signature[signature.length - 1]! ^= 1;
    expect(codeOf(() => check({ ...s, signature }))).toBe('bad_signature');
  });
});
