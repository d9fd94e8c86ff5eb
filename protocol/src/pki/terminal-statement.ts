/**
 * The card company's statement that a terminal is in good standing now, for one unpredictable
 * number: the authorization server signs it with each Challenge (a revoked till gets no Challenge,
 * so it has no fresh statement), the till hands it to the phone in HelloAck, and the phone checks
 * it against the card company root before any card data leaves. A terminal certificate alone says
 * only that the acquirer vouched for the key once (for a year).
 */
import type { KeyObject } from 'node:crypto';
import { SignedTerminalStatement, TerminalStatement } from '../gen/bluetill/v1/ble';
import { ProtocolError } from '../errors';
import { verifyCertificate, verifyWith } from './certificate';

export type TerminalStatementErrorCode =
  'missing' | 'malformed' | 'bad_certificate' | 'bad_signature' | 'wrong_terminal' | 'wrong_un' | 'stale';
export class TerminalStatementError extends ProtocolError<TerminalStatementErrorCode> {}

/** How far the phone's clock may be from the backend's. */
export const STATEMENT_CLOCK_SKEW_MS = 30_000;

const LABEL = Buffer.from('bluetill terminal statement v1\0', 'latin1');

/** The bytes signed: a label (so no other signed message of the same key can pass for a statement), then the statement. */
export function terminalStatementSignedBytes(statement: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat([LABEL, statement]));
}

/** Signs a statement (the backend's side); `sign` is ECDSA P-256 / SHA-256 with the key of `certificate`. */
export function signTerminalStatement(
  s: TerminalStatement,
  signer: { sign(data: Uint8Array): Uint8Array },
  certificate: Uint8Array,
): Uint8Array {
  const statement = TerminalStatement.encode(s).finish();
  return SignedTerminalStatement.encode({
    statement,
    signature: signer.sign(terminalStatementSignedBytes(statement)),
    certificate,
  }).finish();
}

/**
 * The phone's check: the signing key certified by the card company root, the signature, the
 * terminal id of the till's certificate, the UN the till uses, and freshness (issued not in the
 * future, not past the UN's expiry, each within the clock skew). Throws TerminalStatementError.
 */
export function verifyTerminalStatement(
  signed: Uint8Array,
  cardCompanyRoot: KeyObject,
  expected: { terminalId: string; unpredictableNumber: Uint8Array; now: number },
): TerminalStatement {
  if (signed.length === 0) throw new TerminalStatementError('missing', 'no statement from the card company');
  let outer: SignedTerminalStatement;
  let s: TerminalStatement;
  try {
    outer = SignedTerminalStatement.decode(signed);
    s = TerminalStatement.decode(outer.statement);
  } catch (cause) {
    throw new TerminalStatementError('malformed', 'statement does not decode', { cause });
  }
  let key;
  try {
    key = verifyCertificate(outer.certificate, cardCompanyRoot, { role: 'receipt', now: expected.now });
  } catch (cause) {
    throw new TerminalStatementError('bad_certificate', 'statement key not certified by the card company', {
      cause,
    });
  }
  if (!verifyWith(key.publicKey, terminalStatementSignedBytes(outer.statement), outer.signature))
    throw new TerminalStatementError('bad_signature', 'statement signature invalid');
  if (s.terminalId !== expected.terminalId)
    throw new TerminalStatementError('wrong_terminal', 'statement is for another terminal');
  if (!Buffer.from(s.unpredictableNumber).equals(Buffer.from(expected.unpredictableNumber)))
    throw new TerminalStatementError('wrong_un', 'statement is for another unpredictable number');
  if (
    s.issuedAtMs > expected.now + STATEMENT_CLOCK_SKEW_MS ||
    s.expiresAtMs + STATEMENT_CLOCK_SKEW_MS < expected.now ||
    s.expiresAtMs < s.issuedAtMs
  )
    throw new TerminalStatementError('stale', 'statement is not current');
  return s;
}
