/** Cashiers for tests and demos: one cashier, one manager, a 20.00 approval limit, and an API token. */
import { randomBytes } from 'node:crypto';
import {
  addCashier,
  emptyCashiersFile,
  writeCashiersFile,
  type CashiersFile,
} from '../adapters/auth/cashiers-file';
import { CashierAuth } from './cashier-auth';

export const TEST_CASHIER = { id: 'cora', name: 'Cora', secret: '2468' } as const;
export const TEST_MANAGER = { id: 'max', name: 'Max', secret: 'manager-1357' } as const;
export const TEST_APPROVAL_LIMIT_MINOR = 2000;

let cached: Promise<CashiersFile> | undefined;

/** The test cashiers file (hashed once per process: scrypt is slow on purpose). */
export function testCashiersFile(): Promise<CashiersFile> {
  cached ??= (async () => {
    const one = await addCashier(
      emptyCashiersFile(TEST_APPROVAL_LIMIT_MINOR),
      { id: TEST_CASHIER.id, name: TEST_CASHIER.name, role: 'cashier' },
      TEST_CASHIER.secret,
    );
    return addCashier(
      one,
      { id: TEST_MANAGER.id, name: TEST_MANAGER.name, role: 'manager' },
      TEST_MANAGER.secret,
    );
  })();
  return cached;
}

/** Writes the test cashiers file (0600) to `path`. */
export async function writeTestCashiersFile(path: string): Promise<string> {
  writeCashiersFile(path, await testCashiersFile());
  return path;
}

/** A CashierAuth over the test cashiers, with a fresh API token. */
export async function testCashierAuth(): Promise<{ auth: CashierAuth; token: string }> {
  const token = randomBytes(32).toString('base64url');
  return { auth: new CashierAuth({ cashiers: await testCashiersFile(), apiToken: token }), token };
}
