/**
 * The operator's registry commands: merchants, terminals and cards as the card company sees them,
 * through the RegistryAdmin port on the chosen store (--store PATH|URL, else $BLUETILL_STORE, else
 * DIR/backend.sqlite).
 *
 *   merchant add [--dir DIR] [--store S] --id M --name NAME [--currency EUR]
 *   merchant list [--dir DIR] [--store S]
 *   terminal add [--dir DIR] [--store S] --id T --merchant M   then `terminal issue-cert` for its TLS identity
 *   terminal list [--dir DIR] [--store S] [--merchant M]
 *   card list [--dir DIR] [--store S] [--status S]              masked card numbers only
 *   card show [--dir DIR] [--store S] --id ID                   one card, masked
 *
 * Each command checks everything it is given before it writes, and writes in one transaction.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { formatMoney, SUPPORTED_CURRENCIES } from '@bluetill/protocol';
import type { CardStatus } from '../ports/backend-store';
import type { CardSummary, RegistryAdmin } from '../ports/registry-admin';

const ID = /^[A-Za-z0-9-]{1,15}$/;
const id = (what: string) => (v: string) => {
  if (!ID.test(v)) throw new InvalidArgumentError(`a ${what} id is 1-15 of A-Z a-z 0-9 -`);
  return v;
};
const CARD_STATUSES: readonly CardStatus[] = ['active', 'blocked', 'lost', 'stolen'];
const cardStatus = (v: string): CardStatus => {
  if (!(CARD_STATUSES as readonly string[]).includes(v))
    throw new InvalidArgumentError(`must be one of ${CARD_STATUSES.join(', ')}`);
  return v as CardStatus;
};

/** Where a command's registry is: --store, else $BLUETILL_STORE, else DIR's backend.sqlite. */
export interface StoreChoice {
  readonly dir?: string;
  readonly store?: string;
}

/** Opens the chosen store's registry for one command and closes it after, whatever happens. */
export type WithAdmin = <T>(o: StoreChoice, use: (admin: RegistryAdmin) => Promise<T>) => Promise<T>;

export const STORE_OPTION = [
  '--store <path|url>',
  'the store: a SQLite file or a postgres:// URL (default: $BLUETILL_STORE, else DIR/backend.sqlite)',
] as const;

/** `--dir` and `--store` on a registry command: either names the store. */
const located = (c: Command): Command =>
  c.option('--dir <dir>', 'data folder (its backend.sqlite is the default store)').option(...STORE_OPTION);

function cardLines(r: CardSummary): string[] {
  const money = (minor: number) => formatMoney({ minor, currency: r.currency });
  const spent = -r.balanceMinor;
  return [
    `card ${r.id}`,
    `  number      ${r.panMasked}`,
    `  name        ${r.cardholderName}`,
    `  expiry      ${r.expiry.slice(2)}/${r.expiry.slice(0, 2)}`,
    `  status      ${r.status}`,
    `  PIN tries   ${r.pinTries} wrong of 3${r.pinTries >= 3 ? ' (locked: card unlock-pin)' : ''}`,
    `  limit       ${money(r.creditLimitMinor)} (available ${money(Math.max(0, r.creditLimitMinor - spent))})`,
    `  last ATC    ${r.lastAtc < 0 ? 'none (never paid)' : r.lastAtc}`,
  ];
}

export function addRegistryCommands(program: Command, withAdmin: WithAdmin): void {
  const merchant =
    program.commands.find((c) => c.name() === 'merchant') ??
    program.command('merchant').description('merchants (shops) and their accounts');
  located(merchant.command('add').description('register a merchant with its settlement account'))
    .requiredOption('--id <id>', 'merchant id (1-15 of A-Z a-z 0-9 -)', id('merchant'))
    .requiredOption('--name <name>', 'name on receipts (1-40 characters)')
    .option('--currency <code>', 'ISO 4217 currency of its account', 'EUR')
    .action(async (o: StoreChoice & { id: string; name: string; currency: string }) => {
      if (!SUPPORTED_CURRENCIES.includes(o.currency))
        throw new InvalidArgumentError(`currency must be one of ${SUPPORTED_CURRENCIES.join(', ')}`);
      if (o.name.trim().length === 0 || o.name.length > 40)
        throw new InvalidArgumentError('the name must be 1 to 40 characters');
      await withAdmin(o, async (admin) => {
        if (await admin.findMerchant(o.id)) throw new InvalidArgumentError(`merchant ${o.id} already exists`);
        await admin.addMerchant({ id: o.id, name: o.name, currency: o.currency });
      });
      console.log(
        `merchant ${o.id} (${o.name}, ${o.currency}) registered; next: terminal add --merchant ${o.id}`,
      );
    });
  located(merchant.command('list').description('the registered merchants')).action(async (o: StoreChoice) => {
    const rows = await withAdmin(o, (admin) => admin.listMerchants());
    for (const r of rows)
      console.log(`${r.id}  ${r.name}  ${r.currency}  ${r.status}  ${r.terminals} terminal(s)`);
    if (rows.length === 0) console.log('no merchants');
  });

  const terminal = program.commands.find((c) => c.name() === 'terminal') ?? program.command('terminal');
  located(
    terminal
      .command('add')
      .description('register a till for a merchant (then: terminal issue-cert for its TLS identity)'),
  )
    .requiredOption('--id <id>', 'terminal id (1-15 of A-Z a-z 0-9 -)', id('terminal'))
    .requiredOption('--merchant <id>', 'merchant id')
    .action(async (o: StoreChoice & { id: string; merchant: string }) => {
      await withAdmin(o, async (admin) => {
        const m = await admin.findMerchant(o.merchant);
        if (!m) throw new InvalidArgumentError(`no merchant ${o.merchant} (merchant add first)`);
        if (m.status !== 'active') throw new InvalidArgumentError(`merchant ${o.merchant} is ${m.status}`);
        if (await admin.findTerminal(o.id)) throw new InvalidArgumentError(`terminal ${o.id} already exists`);
        await admin.addTerminal({ id: o.id, merchantId: o.merchant });
      });
      console.log(
        `terminal ${o.id} registered for merchant ${o.merchant}; next: terminal issue-cert --id ${o.id}`,
      );
    });
  located(
    terminal
      .command('list')
      .description("the registered terminals (merchant cards' own ones too), with live certificates"),
  )
    .option('--merchant <id>', "only this merchant's terminals")
    .action(async (o: StoreChoice & { merchant?: string }) => {
      const rows = await withAdmin(o, (admin) =>
        admin.listTerminals(o.merchant === undefined ? {} : { merchantId: o.merchant }),
      );
      for (const r of rows)
        console.log(`${r.id}  ${r.merchantId}  ${r.status}  ${r.certificates} certificate(s)`);
      console.log(`${rows.length} terminal(s)`);
    });

  const card = program.commands.find((c) => c.name() === 'card') ?? program.command('card');
  located(card.command('list').description('the registered payment cards (masked card numbers only)'))
    .option('--status <status>', 'only cards with this status (active, blocked, lost, stolen)', cardStatus)
    .action(async (o: StoreChoice & { status?: CardStatus }) => {
      const rows = await withAdmin(o, (admin) =>
        admin.listCards(o.status === undefined ? {} : { status: o.status }),
      );
      for (const r of rows)
        console.log(
          `${r.id}  ${r.panMasked}  ${r.expiry.slice(2)}/${r.expiry.slice(0, 2)}  ${r.status}  ${r.currency}  ${r.cardholderName}`,
        );
      console.log(`${rows.length} card(s)`);
    });
  located(
    card
      .command('show')
      .description('one payment card: status, PIN tries, limit and what is available (masked card number)'),
  )
    .requiredOption('--id <id>', 'card id')
    .action(async (o: StoreChoice & { id: string }) => {
      const row = await withAdmin(o, (admin) => admin.showCard(o.id));
      if (!row) throw new InvalidArgumentError(`no card ${o.id}`);
      console.log(cardLines(row).join('\n'));
    });
}
