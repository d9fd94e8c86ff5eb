import { describe, expect, it } from 'vitest';
import { SignedTerminalStatement } from '../gen/bluetill/v1/ble';
import { generateP256 } from './keys';
import { issueCertificate, signWith } from './certificate';
import { signTerminalStatement, verifyTerminalStatement } from './terminal-statement';

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
const un = Uint8Array.of(1, 2, 3, 4);
const good = () =>
  signTerminalStatement(
    { terminalId: 'T-0001', unpredictableNumber: un, issuedAtMs: now, expiresAtMs: now + 60_000 },
    sign,
    cert('receipt'),
  );
const check = (
  s: Uint8Array,
  o: Partial<{ terminalId: string; unpredictableNumber: Uint8Array; now: number }> = {},
) => verifyTerminalStatement(s, root.publicKey, { terminalId: 'T-0001', unpredictableNumber: un, now, ...o });

describe('terminal statement', () => {
  it('passes for the terminal, UN and time it was signed for', () => {
    expect(check(good())).toMatchObject({ terminalId: 'T-0001' });
    expect(check(good(), { now: now + 80_000 })).toMatchObject({ terminalId: 'T-0001' }); // within expiry + skew
  });

  it.each([
    ['missing', () => check(new Uint8Array())],
    ['malformed', () => check(Uint8Array.of(0xff, 0xff, 0xff))],
    ['wrong_terminal', () => check(good(), { terminalId: 'T-0002' })],
    ['wrong_un', () => check(good(), { unpredictableNumber: Uint8Array.of(1, 2, 3, 5) })],
    ['stale', () => check(good(), { now: now + 91_000 })],
    ['stale', () => check(good(), { now: now - 31_000 })],
    [
      'bad_certificate',
      () =>
        check(
          signTerminalStatement(
            { terminalId: 'T-0001', unpredictableNumber: un, issuedAtMs: now, expiresAtMs: now + 60_000 },
            sign,
            cert('receipt', generateP256()),
          ),
        ),
    ],
    [
      'bad_certificate',
      () =>
        check(
          signTerminalStatement(
            { terminalId: 'T-0001', unpredictableNumber: un, issuedAtMs: now, expiresAtMs: now + 60_000 },
            sign,
            cert('pin-key'),
          ),
        ),
    ],
  ])('refuses: %s', (code, f) => {
    expect(f).toThrow(expect.objectContaining({ code }));
  });

  it('refuses a statement whose bytes were edited after signing (another terminal id spliced in)', () => {
    const outer = SignedTerminalStatement.decode(good());
    const other = SignedTerminalStatement.decode(
      signTerminalStatement(
        { terminalId: 'T-0002', unpredictableNumber: un, issuedAtMs: now, expiresAtMs: now + 60_000 },
        sign,
        cert('receipt'),
      ),
    );
    const spliced = SignedTerminalStatement.encode({ ...outer, statement: other.statement }).finish();
    expect(() => check(spliced, { terminalId: 'T-0002' })).toThrow(
      expect.objectContaining({ code: 'bad_signature' }),
    );
  });
});
