import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  addCashier,
  emptyCashiersFile,
  readCashiersFile,
  verifyCashierSecret,
  writeCashiersFile,
} from './cashiers-file';
import { loadOrCreateApiToken } from './api-token';

const dir = () => mkdtempSync(join(tmpdir(), 'bluetill-cashiers-'));

describe('cashiers file', () => {
  it('keeps only a salted scrypt hash (0600), which checks the right secret and no other', async () => {
    const path = join(dir(), 'cashiers.json');
    let file = await addCashier(emptyCashiersFile(1500), { id: 'ana', name: 'Ana', role: 'manager' }, '4711');
    file = await addCashier(file, { id: 'bo', name: 'Bo', role: 'cashier' }, '4711');
    writeCashiersFile(path, file);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('4711');
    const back = readCashiersFile(path);
    expect(back.approvalLimitMinor).toBe(1500);
    const [ana, bo] = back.cashiers;
    expect(ana!.scrypt.salt).not.toBe(bo!.scrypt.salt); // same PIN, different hashes
    expect(ana!.scrypt.hash).not.toBe(bo!.scrypt.hash);
    expect(await verifyCashierSecret(ana!, '4711')).toBe(true);
    expect(await verifyCashierSecret(ana!, '4712')).toBe(false);
  });

  it('refuses a duplicate id, a short secret, a file that does not parse, an unknown field, and a weak scrypt setting', async () => {
    const file = await addCashier(emptyCashiersFile(0), { id: 'ana', name: 'Ana', role: 'manager' }, '4711');
    await expect(
      addCashier(file, { id: 'ana', name: 'Ana 2', role: 'cashier' }, '1234'),
    ).rejects.toMatchObject({ code: 'duplicate' });
    await expect(addCashier(file, { id: 'cy', name: 'Cy', role: 'cashier' }, '123')).rejects.toMatchObject({
      code: 'weak_secret',
    });
    const d = dir();
    writeFileSync(join(d, 'a.json'), '{ not json');
    expect(() => readCashiersFile(join(d, 'a.json'))).toThrow(
      expect.objectContaining({ code: 'unreadable' }),
    );
    writeFileSync(join(d, 'b.json'), JSON.stringify({ ...file, admin: true }));
    expect(() => readCashiersFile(join(d, 'b.json'))).toThrow(expect.objectContaining({ code: 'invalid' }));
    writeFileSync(
      join(d, 'c.json'),
      JSON.stringify({
        ...file,
        cashiers: [{ ...file.cashiers[0]!, scrypt: { ...file.cashiers[0]!.scrypt, n: 1024 } }],
      }),
    );
    expect(() => readCashiersFile(join(d, 'c.json'))).toThrow(expect.objectContaining({ code: 'invalid' }));
    writeFileSync(
      join(d, 'e.json'),
      JSON.stringify({ ...file, cashiers: [file.cashiers[0], file.cashiers[0]] }),
    );
    expect(() => readCashiersFile(join(d, 'e.json'))).toThrow(expect.objectContaining({ code: 'duplicate' }));
  });
});

describe('API token file', () => {
  it('is created 0600 with 32 random bytes, read back the same, and refused when others may read it', () => {
    const path = join(dir(), 'api-token');
    const token = loadOrCreateApiToken(path);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadOrCreateApiToken(path)).toBe(token);
    chmodSync(path, 0o644);
    expect(() => loadOrCreateApiToken(path)).toThrow(expect.objectContaining({ code: 'too_open' }));
    chmodSync(path, 0o600);
    writeFileSync(path, 'short\n');
    expect(() => loadOrCreateApiToken(path)).toThrow(expect.objectContaining({ code: 'invalid' }));
  });
});
