/**
 * The operator's offline mode commands, through the RegistryAdmin port on the chosen store:
 *
 *   merchant offline-limits --id M [--floor-limit A] [--exposure A] [--card-daily-count N] [--card-daily-amount A] [--json]
 *   terminal offline-limits --id T [same options]      a terminal's setting overrides its merchant's
 *   offline report [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--merchant M] [--json]
 *
 * Amounts are in the merchant's currency (`50.00`, or `5000` for JPY); `default` clears a setting
 * (the merchant's, else the card company's default applies: domain/offline-limits.ts). With no
 * limit given, `offline-limits` shows the settings and what is in force. The tills receive the
 * limits in force with their offline parameters (Authorization.GetOfflineParameters) at their
 * next fetch. `offline report`: the offline sales forwarded in the period (UTC days, both
 * included; default today), settled and declined after forwarding (the merchant's loss, each
 * with its reason), with totals per merchant and currency.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { formatMoney, iso4217 } from '@bluetill/protocol';
import {
  DEFAULT_OFFLINE_LIMIT_VALUES,
  OFFLINE_LIMIT_NAMES,
  type OfflineLimitSettings,
  type OfflineLimitValues,
} from '../domain/offline-limits';
import type { OfflineLimitsTarget, OfflineLimitsView, OfflineReport } from '../ports/registry-admin';
import { STORE_OPTION, type StoreChoice, type WithAdmin } from './registry-commands';

const ID = /^[A-Za-z0-9-]{1,15}$/;
const id = (what: string) => (v: string) => {
  if (!ID.test(v)) throw new InvalidArgumentError(`a ${what} id is 1-15 of A-Z a-z 0-9 -`);
  return v;
};

type LimitOptions = {
  floorLimit?: string;
  exposure?: string;
  cardDailyCount?: string;
  cardDailyAmount?: string;
};
const OPTION_OF: Readonly<Record<keyof OfflineLimitValues, keyof LimitOptions>> = {
  floorLimitMinor: 'floorLimit',
  exposureMinor: 'exposure',
  cardDailyCount: 'cardDailyCount',
  cardDailyAmountMinor: 'cardDailyAmount',
};
const FLAG_OF: Readonly<Record<keyof OfflineLimitValues, string>> = {
  floorLimitMinor: '--floor-limit',
  exposureMinor: '--exposure',
  cardDailyCount: '--card-daily-count',
  cardDailyAmountMinor: '--card-daily-amount',
};

/** An amount in `currency` as the operator types it ("50.00"; "5000" for JPY), in minor units. */
export function parseAmount(flag: string, text: string, currency: string): number {
  const digits = iso4217(currency)?.minorDigits ?? 2;
  const m = new RegExp(`^(\\d{1,12})(?:\\.(\\d{${digits}}))?$`).exec(text);
  if (!m || (digits === 0 && text.includes('.')))
    throw new InvalidArgumentError(
      `${flag} must be an amount in ${currency} such as ${digits ? '50.00' : '5000'}, or "default"`,
    );
  return Number(m[1]) * 10 ** digits + Number(m[2] ?? 0);
}

/** The settings the options give (undefined: not given; null: `default`), amounts in `currency`. */
export function settingsFrom(o: LimitOptions, currency: string): Partial<OfflineLimitSettings> {
  const out: { -readonly [K in keyof OfflineLimitSettings]?: number | null } = {};
  for (const k of Object.keys(OPTION_OF) as (keyof OfflineLimitValues)[]) {
    const v = o[OPTION_OF[k]];
    if (v === undefined) continue;
    if (v === 'default') out[k] = null;
    else if (k === 'cardDailyCount') {
      if (!/^\d{1,4}$/.test(v))
        throw new InvalidArgumentError(`${FLAG_OF[k]} must be a whole number, or "default"`);
      out[k] = Number(v);
    } else out[k] = parseAmount(FLAG_OF[k], v, currency);
  }
  return out;
}

function limitLines(v: OfflineLimitsView): string[] {
  const show = (k: keyof OfflineLimitValues, n: number) =>
    k === 'cardDailyCount' ? `${n}` : formatMoney({ minor: n, currency: v.currency });
  const lines = [
    v.terminalId === null
      ? `merchant ${v.merchantId} (${v.currency}): offline limits for its terminals`
      : `terminal ${v.terminalId} of merchant ${v.merchantId} (${v.currency}): offline limits`,
  ];
  for (const k of Object.keys(OFFLINE_LIMIT_NAMES) as (keyof OfflineLimitValues)[]) {
    const source = v.terminal?.[k] != null ? 'terminal' : v.merchant[k] != null ? 'merchant' : 'default';
    lines.push(`  ${OFFLINE_LIMIT_NAMES[k].padEnd(22)} ${show(k, v.effective[k]).padStart(12)}  (${source})`);
  }
  return lines;
}

const DAY_MS = 86_400_000;
function dayStart(flag: string, v: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00Z`) : NaN;
  if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) !== v)
    throw new InvalidArgumentError(`${flag} must be a date YYYY-MM-DD`);
  return ms;
}

function reportLines(r: OfflineReport): string[] {
  const money = (minor: number, currency: string) => formatMoney({ minor, currency });
  const lines = [
    `offline sales forwarded ${new Date(r.fromMs).toISOString().slice(0, 10)} to ${new Date(r.toMs - 1).toISOString().slice(0, 10)} (UTC)`,
  ];
  if (r.totals.length === 0) lines.push('  none');
  for (const t of r.totals)
    lines.push(
      `  ${t.merchantId}  ${t.currency}  settled ${t.settledCount} (${money(t.settledMinor, t.currency)})  merchant's loss ${t.lossCount} (${money(t.lossMinor, t.currency)})`,
    );
  if (r.losses.length > 0) lines.push("declined after forwarding (the merchant's loss):");
  for (const l of r.losses)
    lines.push(
      `  ${new Date(l.forwardedAt).toISOString()}  ${l.merchantId}  ${l.terminalId}  ${l.offlineId}  ${money(l.amountMinor, l.currency)}  ${l.reason.replaceAll('_', ' ')}`,
    );
  return lines;
}

export function addOfflineCommands(program: Command, withAdmin: WithAdmin): void {
  const find = (name: string) => program.commands.find((c) => c.name() === name) ?? program.command(name);
  for (const [parent, what] of [
    ['merchant', 'merchant'],
    ['terminal', 'terminal'],
  ] as const) {
    find(parent)
      .command('offline-limits')
      .description(
        what === 'merchant'
          ? "a merchant's offline limits for its terminals (shown when none is given)"
          : "a terminal's offline limits, over its merchant's (shown when none is given)",
      )
      .requiredOption('--id <id>', `${what} id`, id(what))
      .option(
        '--floor-limit <amount>',
        `the largest sale approved offline (default ${DEFAULT_OFFLINE_LIMIT_VALUES.floorLimitMinor} minor units)`,
      )
      .option(
        '--exposure <amount>',
        `approved offline and not yet settled, per till (default ${DEFAULT_OFFLINE_LIMIT_VALUES.exposureMinor} minor units)`,
      )
      .option(
        '--card-daily-count <n>',
        `offline sales per card per day (default ${DEFAULT_OFFLINE_LIMIT_VALUES.cardDailyCount})`,
      )
      .option(
        '--card-daily-amount <amount>',
        `offline amount per card per day (default ${DEFAULT_OFFLINE_LIMIT_VALUES.cardDailyAmountMinor} minor units)`,
      )
      .option('--json', 'print the result as JSON')
      .option('--dir <dir>', 'data folder (its backend.sqlite is the default store)')
      .option(...STORE_OPTION)
      .action(async (o: StoreChoice & LimitOptions & { id: string; json?: boolean }) => {
        const target: OfflineLimitsTarget = what === 'merchant' ? { merchantId: o.id } : { terminalId: o.id };
        const view = await withAdmin(o, async (admin) => {
          const before = await admin.offlineLimits(target);
          const settings = settingsFrom(o, before.currency);
          return Object.keys(settings).length === 0 ? before : admin.setOfflineLimits(target, settings);
        });
        console.log(o.json ? JSON.stringify(view, null, 2) : limitLines(view).join('\n'));
      });
  }

  find('offline')
    .description('offline payments: what the tills approved while the card company was unreachable')
    .command('report')
    .description(
      "offline sales forwarded in a period: settled, and declined after forwarding (the merchant's loss)",
    )
    .option('--from <date>', 'first day, YYYY-MM-DD (UTC; default today)')
    .option('--to <date>', 'last day, YYYY-MM-DD (UTC; default --from)')
    .option('--merchant <id>', 'one merchant only', id('merchant'))
    .option('--json', 'print the report as JSON')
    .option('--dir <dir>', 'data folder (its backend.sqlite is the default store)')
    .option(...STORE_OPTION)
    .action(async (o: StoreChoice & { from?: string; to?: string; merchant?: string; json?: boolean }) => {
      const today = new Date().toISOString().slice(0, 10);
      const fromMs = dayStart('--from', o.from ?? today);
      const toMs = dayStart('--to', o.to ?? o.from ?? today) + DAY_MS;
      if (toMs <= fromMs) throw new InvalidArgumentError('--to must not be before --from');
      const report = await withAdmin(o, (admin) =>
        admin.offlineReport({ fromMs, toMs, ...(o.merchant ? { merchantId: o.merchant } : {}) }),
      );
      console.log(o.json ? JSON.stringify(report, null, 2) : reportLines(report).join('\n'));
    });
}
