import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { disconnectReason } from '@bluetill/protocol';
import { sessionRow } from '../../host/view-mapping';
import type { SessionSnapshot } from '../session';
import {
  DISCONNECT_WORDS,
  NETWORK_WORDS,
  PHONE_WORDS,
  PROTOCOL_WORDS,
  REFUSAL_WORDS,
  reasonWords,
} from './session-words';

/** A code as the till writes it (snake_case): none may reach the cashier. */
const CODE = /\b[a-z0-9]+_[a-z0-9_]+\b/;
const SESSION_SOURCE = readFileSync(join(import.meta.dirname, '../session.ts'), 'utf8');

const closedRow = (detail: string) => {
  const live = sessionRow(
    {
      id: '11#10',
      state: 'authorizing',
      basketId: null,
      maskedPan: null,
      decline: null,
      detail: '',
    } satisfies SessionSnapshot,
    undefined,
    1,
  );
  return sessionRow(
    { id: '11#10', state: 'closed', basketId: null, maskedPan: null, decline: null, detail },
    live,
    2,
  );
};

describe('the words for what ends a phone session', () => {
  it('has a sentence, not a code, for every code in each table', () => {
    for (const table of [
      DISCONNECT_WORDS,
      PHONE_WORDS,
      REFUSAL_WORDS,
      PROTOCOL_WORDS,
      NETWORK_WORDS,
    ] as Record<string, string>[]) {
      for (const [code, words] of Object.entries(table)) {
        expect(words, code).not.toMatch(CODE);
        expect(words.length, code).toBeGreaterThan(8);
      }
    }
  });

  it('turns every reason the till records into words ("Phone left: the phone ended the connection")', () => {
    expect(closedRow(`disconnected: ${disconnectReason(0x13)}`).label).toBe(
      'Phone left: the phone ended the connection',
    );
    const details = [
      ...[0x08, 0x13, 0x16, 0x3e, 0x3b, undefined].map((c) => `disconnected: ${disconnectReason(c)}`),
      ...Object.keys(PHONE_WORDS).map((c) => `phone: ${c}`),
      ...Object.keys(PROTOCOL_WORDS).map((c) => `protocol error: ${c}`),
      ...Object.keys(NETWORK_WORDS).map((c) => `payment network: ${c}`),
      ...Object.keys(REFUSAL_WORDS).map((c) => `${c}: Some message for the phone`),
      'phone: a_code_no_table_has',
      'protocol error: new_code',
      'disconnected: hci_0x99',
      'disconnected: remote user terminated connection',
      'session timed out',
    ];
    for (const d of details) {
      const label = closedRow(d).label;
      expect(label, d).not.toMatch(CODE);
      expect(label, d).not.toMatch(/disconnected:|phone:|protocol error:|payment network:/);
    }
    expect(reasonWords('surprise_code')).toBe('something unexpected happened');
    expect(reasonWords('new_refusal: The till cannot take this phone')).toBe(
      'The till cannot take this phone',
    );
    expect(reasonWords('no answer from the payment network: the till will confirm the outcome')).toBe(
      'no answer from the payment network: the till will confirm the outcome',
    );
  });

  it('knows each kind of reason and each refusal the session records (session.ts)', () => {
    const prefixes = [...SESSION_SOURCE.matchAll(/this\.detail = `([a-z ]+): \$\{/g)].map((m) => m[1]!);
    const linkPrefixes = [...SESSION_SOURCE.matchAll(/this\.close\(`([a-z ]+): \$\{/g)].map((m) => m[1]!);
    expect(prefixes.length).toBeGreaterThan(2);
    for (const p of [...prefixes, ...linkPrefixes]) expect(reasonWords(`${p}: x_y`), p).not.toMatch(CODE);
    const refusals = [...SESSION_SOURCE.matchAll(/this\.refuse\('([a-z_]+)'/g)].map((m) => m[1]!);
    expect(refusals.length).toBeGreaterThan(2);
    for (const code of refusals) expect(Object.keys(REFUSAL_WORDS), code).toContain(code);
  });
});
