/**
 * `pos-terminal cashiers`: keeps a till's cashiers file (salted scrypt hashes only, 0600).
 *
 *   npx tsx pos-terminal/src/server/cashiers-cli.ts add --file cashiers.json --id ana --name Ana --role manager [--approval-limit 2000] < pin.txt
 *
 * The PIN or password is read from standard input (first line), never from the command line
 * (which other users of the machine can see). A new file is created with the approval limit given
 * (minor units, default 2000: refunds and voids above 20.00 need a manager).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { fromUserDir } from './user-dir';
import {
  addCashier,
  emptyCashiersFile,
  readCashiersFile,
  writeCashiersFile,
} from '../adapters/auth/cashiers-file';

const USAGE =
  'usage: cashiers add --file FILE --id ID --name NAME --role cashier|manager [--approval-limit MINOR] < secret';

async function readStdinLine(): Promise<string> {
  let data = '';
  for await (const chunk of process.stdin) {
    data += String(chunk);
    if (data.includes('\n') || data.length > 256) break;
  }
  return data.split(/\r?\n/)[0] ?? '';
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      file: { type: 'string' },
      id: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string' },
      'approval-limit': { type: 'string' },
    },
    strict: true,
  });
  if (
    positionals[0] !== 'add' ||
    !values.file ||
    !values.id ||
    !values.name ||
    (values.role !== 'cashier' && values.role !== 'manager')
  ) {
    console.error(USAGE);
    return 2;
  }
  const limit = Number(values['approval-limit'] ?? '2000');
  if (!Number.isInteger(limit) || limit < 0)
    throw new Error('--approval-limit must be a whole number of minor units');
  const path = fromUserDir(values.file);
  const file = existsSync(path) ? readCashiersFile(path) : emptyCashiersFile(limit);
  const secret = await readStdinLine();
  // A new till's folder (e.g. .data/till) may not exist yet; the file itself is written 0600.
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeCashiersFile(
    path,
    await addCashier(file, { id: values.id, name: values.name, role: values.role }, secret),
  );
  console.log(`cashiers: ${values.id} (${values.role}) added to ${path}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`cashiers: ${(error as Error).message}`);
    process.exit(1);
  },
);
