/**
 * The operator's registry commands: merchants, terminals and cards as the card company sees them.
 *
 *   merchant add --dir DIR --id M --name NAME [--currency EUR]
 *   merchant list --dir DIR
 *   terminal add --dir DIR --id T --merchant M        then `terminal issue-cert` for its TLS identity
 *   card list --dir DIR [--status S]                   masked card numbers only
 *   card show --dir DIR --id ID                        one card, masked
 *
 * Each command checks everything it is given before it writes, and writes in one transaction.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { formatMoney, SUPPORTED_CURRENCIES } from '@bluetill/protocol';
import { registerMerchant, registerTerminal } from '../admin/registry';
import type { SqliteBackendStore } from '../adapters/sqlite/backend-store.sqlite';

const ID = /^[A-Za-z0-9-]{1,15}$/;
const id = (what: string) => (v: string) => {
  if (!ID.test(v)) throw new InvalidArgumentError(`a ${what} id is 1-15 of A-Z a-z 0-9 -`);
  return v;
};

/** Opens DIR's database for one command and closes it after, whatever happens. */
export type WithStore = <T>(dir: string, use: (store: SqliteBackendStore) => T) => T;

interface CardListRow {
  id: string;
  pan_masked: string;
  expiry: string;
  cardholder_name: string;
  status: string;
  pin_tries: number;
  credit_limit_minor: number;
  currency: string;
  balance_minor: number | null;
  last_atc: number;
}

const CARD_LIST_SQL = `SELECT c.id, c.pan_masked, c.expiry, c.cardholder_name, c.status, c.pin_tries, c.credit_limit_minor, c.currency,
  a.balance_minor, c.last_atc FROM cards c LEFT JOIN accounts a ON a.id = c.account_id`;

function cardLines(r: CardListRow): string[] {
  const money = (minor: number) => formatMoney({ minor, currency: r.currency });
  const spent = -(r.balance_minor ?? 0);
  return [
    `card ${r.id}`,
    `  number      ${r.pan_masked}`,
    `  name        ${r.cardholder_name}`,
    `  expiry      ${r.expiry.slice(2)}/${r.expiry.slice(0, 2)}`,
    `  status      ${r.status}`,
    `  PIN tries   ${r.pin_tries} wrong of 3${r.pin_tries >= 3 ? ' (locked: card unlock-pin)' : ''}`,
    `  limit       ${money(r.credit_limit_minor)} (available ${money(Math.max(0, r.credit_limit_minor - spent))})`,
    `  last ATC    ${r.last_atc < 0 ? 'none (never paid)' : r.last_atc}`,
  ];
}

export function addRegistryCommands(program: Command, withStore: WithStore): void {
  const merchant =
    program.commands.find((c) => c.name() === 'merchant') ??
    program.command('merchant').description('merchants (shops) and their accounts');
  merchant
    .command('add')
    .description('register a merchant with its settlement account')
    .requiredOption('--dir <dir>', 'data folder')
    .requiredOption('--id <id>', 'merchant id (1-15 of A-Z a-z 0-9 -)', id('merchant'))
    .requiredOption('--name <name>', 'name on receipts (1-40 characters)')
    .option('--currency <code>', 'ISO 4217 currency of its account', 'EUR')
    .action((o: { dir: string; id: string; name: string; currency: string }) => {
      if (!SUPPORTED_CURRENCIES.includes(o.currency))
        throw new InvalidArgumentError(`currency must be one of ${SUPPORTED_CURRENCIES.join(', ')}`);
      if (o.name.trim().length === 0 || o.name.length > 40)
        throw new InvalidArgumentError('the name must be 1 to 40 characters');
      withStore(o.dir, (store) => {
        if (store.findMerchant(o.id)) throw new InvalidArgumentError(`merchant ${o.id} already exists`);
        registerMerchant(store.db, { id: o.id, name: o.name, currency: o.currency });
      });
      console.log(
        `merchant ${o.id} (${o.name}, ${o.currency}) registered; next: terminal add --merchant ${o.id}`,
      );
    });
  merchant
    .command('list')
    .description('the registered merchants')
    .requiredOption('--dir <dir>', 'data folder')
    .action((o: { dir: string }) => {
      const rows = withStore(
        o.dir,
        (store) =>
          store.db
            .prepare(
              `SELECT m.id, m.name, m.status, a.currency, (SELECT count(*) FROM terminals t WHERE t.merchant_id = m.id) AS terminals
         FROM merchants m JOIN accounts a ON a.id = m.account_id ORDER BY m.id`,
            )
            .all() as Array<{
            id: string;
            name: string;
            status: string;
            currency: string;
            terminals: number;
          }>,
      );
      for (const r of rows)
        console.log(`${r.id}  ${r.name}  ${r.currency}  ${r.status}  ${r.terminals} terminal(s)`);
      if (rows.length === 0) console.log('no merchants');
    });

  const terminal = program.commands.find((c) => c.name() === 'terminal') ?? program.command('terminal');
  terminal
    .command('add')
    .description('register a till for a merchant (then: terminal issue-cert for its TLS identity)')
    .requiredOption('--dir <dir>', 'data folder')
    .requiredOption('--id <id>', 'terminal id (1-15 of A-Z a-z 0-9 -)', id('terminal'))
    .requiredOption('--merchant <id>', 'merchant id')
    .action((o: { dir: string; id: string; merchant: string }) => {
      withStore(o.dir, (store) => {
        const m = store.findMerchant(o.merchant);
        if (!m) throw new InvalidArgumentError(`no merchant ${o.merchant} (merchant add first)`);
        if (m.status !== 'active') throw new InvalidArgumentError(`merchant ${o.merchant} is ${m.status}`);
        if (store.findTerminal(o.id)) throw new InvalidArgumentError(`terminal ${o.id} already exists`);
        registerTerminal(store.db, { id: o.id, merchantId: o.merchant });
      });
      console.log(
        `terminal ${o.id} registered for merchant ${o.merchant}; next: terminal issue-cert --id ${o.id}`,
      );
    });

  const card = program.commands.find((c) => c.name() === 'card') ?? program.command('card');
  card
    .command('list')
    .description('the registered payment cards (masked card numbers only)')
    .requiredOption('--dir <dir>', 'data folder')
    .option('--status <status>', 'only cards with this status (active, blocked, lost, stolen)')
    .action((o: { dir: string; status?: string }) => {
      const rows = withStore(
        o.dir,
        (store) =>
          (o.status === undefined
            ? store.db.prepare(`${CARD_LIST_SQL} ORDER BY c.id`).all()
            : store.db
                .prepare(`${CARD_LIST_SQL} WHERE c.status = ? ORDER BY c.id`)
                .all(o.status)) as CardListRow[],
      );
      for (const r of rows)
        console.log(
          `${r.id}  ${r.pan_masked}  ${r.expiry.slice(2)}/${r.expiry.slice(0, 2)}  ${r.status}  ${r.currency}  ${r.cardholder_name}`,
        );
      console.log(`${rows.length} card(s)`);
    });
  card
    .command('show')
    .description('one payment card: status, PIN tries, limit and what is available (masked card number)')
    .requiredOption('--dir <dir>', 'data folder')
    .requiredOption('--id <id>', 'card id')
    .action((o: { dir: string; id: string }) => {
      const row = withStore(
        o.dir,
        (store) => store.db.prepare(`${CARD_LIST_SQL} WHERE c.id = ?`).get(o.id) as CardListRow | undefined,
      );
      if (!row) throw new InvalidArgumentError(`no card ${o.id}`);
      console.log(cardLines(row).join('\n'));
    });
}
