import { describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TillKeyError, generateTillKey, journalKey, tillKeyFromEnv } from './journal-key';

describe('till key and journal key', () => {
  it('refuses to run without a till key, with a clear error that names the variable (and never echoes a bad value)', () => {
    expect(() => tillKeyFromEnv({})).toThrow(
      expect.objectContaining({
        code: 'till_key_missing',
        message: expect.stringContaining('BLUETILL_TILL_KEY'),
      }),
    );
    const bad = 'c2VjcmV0LXNob3J0';
    expect(() => tillKeyFromEnv({ BLUETILL_TILL_KEY: bad })).toThrow(TillKeyError);
    try {
      tillKeyFromEnv({ BLUETILL_TILL_KEY: bad });
    } catch (e) {
      expect((e as Error).message).not.toContain(bad);
    }
    expect(() => tillKeyFromEnv({ BLUETILL_TILL_KEY: 'not base64!' })).toThrow(
      expect.objectContaining({ code: 'till_key_invalid' }),
    );
  });

  it('reads the key from the environment or from a descriptor; the journal key differs per terminal and per till key', () => {
    const k = generateTillKey();
    const fromEnv = tillKeyFromEnv({ BLUETILL_TILL_KEY: k });
    const file = join(mkdtempSync(join(tmpdir(), 'bluetill-tillkey-')), 'k');
    writeFileSync(file, `${k}\n`, { mode: 0o600 });
    const fd = openSync(file, 'r');
    try {
      expect(tillKeyFromEnv({ BLUETILL_TILL_KEY_FD: String(fd) })).toEqual(fromEnv);
    } finally {
      closeSync(fd);
    }
    expect(journalKey(fromEnv, 'T-0001')).toHaveLength(32);
    expect(journalKey(fromEnv, 'T-0001')).not.toEqual(journalKey(fromEnv, 'T-0002'));
    expect(journalKey(fromEnv, 'T-0001')).not.toEqual(
      journalKey(tillKeyFromEnv({ BLUETILL_TILL_KEY: generateTillKey() }), 'T-0001'),
    );
  });
});
