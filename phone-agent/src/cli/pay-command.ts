/**
 * `bluetill-phone pay`: the composition root of one payment: the noble central on the chosen HCI
 * transport, the card (PC/SC reader or a simulated card file), the prompt (terminal or
 * non-interactive), the trust anchors; then the payment session and its report.
 */
import type { Command } from 'commander';
import { NobleCentral } from '../adapters/ble-central.noble';
import { FileBiometricSensor } from '../adapters/biometric-sensor.file';
import { NonInteractivePrompt, pinFromEnv, pinFromFd, secretFrom } from '../adapters/prompt.non-interactive';
import type { CardholderVerification } from '../core/payment-flow';
import { PromptError, TerminalPrompt } from '../adapters/prompt.terminal';
import { CardReadError } from '../core/card/card-read-error';
import { CardReaderError } from '../ports/card-reader';
import type { Prompt } from '../ports/prompt';
import { openCard, type CardChoice, type OpenCard, type SimulatedCardMaker } from './card-source';

/** What a build of the CLI adds: the simulator's build brings simulated cards for --card-file. */
export interface CliExtensions {
  readonly simulatedCards?: SimulatedCardMaker;
  /** The command's name in usage and messages (the simulator's build: bluetill-phone-sim). Default bluetill-phone. */
  readonly name?: string;
}
import { CliError } from './cli-error';
import { EXIT } from './exit-codes';
import { HCI_HELP, parseCount, parseHci } from './hci-option';
import { printReport, reportError, reportOutcome, type PayReport } from './pay-report';
import { runPaymentSession, TillUnreachableError, type TillChoice } from '../core/payment-session';
import { tillUnreachableCliError } from './till-unreachable';
import { readTrustFile } from './trust-file';
import { runCodeCommand, runMerchantCardCommand, saleFrom, shopperBackend } from './shopper-commands';
import { parseAmount, parseItem, readItemsFile } from './sale-options';

export const PIN_ENV = 'BLUETILL_PIN';
export const SECRET_ENV = 'BLUETILL_SECRET';

/** `--cvm` values (claims 10, 16, 17). */
const CVM_FLAGS = ['online-pin', 'offline-pin', 'biometric', 'knowledge'] as const;
type CvmFlag = (typeof CVM_FLAGS)[number];

interface PayFlags {
  till: string;
  reader?: string;
  cardFile?: string;
  trust: string;
  hci: string;
  json?: boolean;
  yes?: boolean;
  pinFd?: string;
  timeout?: string;
  cardTimeout: string;
  cvm: string;
  oda?: boolean;
  secretFd?: string;
  fingerprintFile?: string;
  code?: boolean;
  limit?: string;
  backend?: string;
  merchantCard?: string;
  item: string[];
  items?: string;
  amount?: string;
  currency: string;
}

/** The shopper's side: a terminal when there is one, else automation (which must say --yes and give a PIN source). */
async function makePrompt(o: PayFlags, interactive: boolean, needsPin: boolean): Promise<Prompt> {
  const source =
    o.pinFd !== undefined
      ? pinFromFd(parseCount('--pin-fd', o.pinFd))
      : process.env[PIN_ENV]
        ? pinFromEnv(PIN_ENV)
        : undefined;
  let pin: (() => Promise<string>) | undefined;
  if (source) {
    // Read and check it now: a bad PIN source is a usage error, found before any till is contacted.
    const value = await source().catch((e: unknown) => {
      throw CliError.usage('pin_source', e instanceof PromptError ? e.message : 'the PIN could not be read', {
        cause: e,
      });
    });
    pin = async () => value;
  }
  if (interactive) return new TerminalPrompt({ assumeYes: o.yes === true, ...(pin ? { pin } : {}) });
  if (!pin && needsPin)
    throw CliError.usage('pin_source', `no terminal to type the PIN: set ${PIN_ENV} or pass --pin-fd N`);
  pin ??= async () => {
    throw new PromptError('pin_unavailable', 'this payment asks no PIN');
  };
  if (!o.yes)
    throw CliError.usage('usage', 'no terminal to confirm the items and sum: pass --yes to accept them');
  return new NonInteractivePrompt({ pin, output: process.stderr });
}

/** The cardholder verification the flags ask for, its inputs checked before any till is contacted. */
async function makeCvm(o: PayFlags, prompt: Prompt): Promise<CardholderVerification> {
  if (!(CVM_FLAGS as readonly string[]).includes(o.cvm))
    throw CliError.usage('usage', `--cvm must be one of ${CVM_FLAGS.join(', ')}`);
  const cvm = o.cvm as CvmFlag;
  if (o.secretFd !== undefined && cvm !== 'knowledge')
    throw CliError.usage('usage', '--secret-fd goes with --cvm knowledge');
  if (o.fingerprintFile !== undefined && cvm !== 'biometric')
    throw CliError.usage('usage', '--fingerprint-file goes with --cvm biometric');
  switch (cvm) {
    case 'online-pin':
      return { method: 'online_pin' };
    case 'offline-pin':
      return { method: 'offline_pin' };
    case 'biometric': {
      if (o.fingerprintFile === undefined)
        throw CliError.usage(
          'usage',
          'this phone has no fingerprint sensor driver: pass --fingerprint-file FILE (a captured template)',
        );
      const sensor = new FileBiometricSensor(o.fingerprintFile);
      await sensor.capture().catch((e: unknown) => {
        throw CliError.usage(
          'fingerprint',
          e instanceof Error ? e.message : 'the fingerprint template cannot be read',
          { cause: e },
        );
      });
      return { method: 'biometric', sensor };
    }
    case 'knowledge': {
      const source =
        o.secretFd !== undefined
          ? secretFrom({ fd: parseCount('--secret-fd', o.secretFd) })
          : process.env[SECRET_ENV]
            ? secretFrom({ env: SECRET_ENV })
            : undefined;
      if (source) {
        const value = await source().catch((e: unknown) => {
          throw CliError.usage(
            'secret_source',
            e instanceof PromptError ? e.message : 'the secret could not be read',
            { cause: e },
          );
        });
        return { method: 'knowledge', secret: async () => value };
      }
      if (prompt instanceof TerminalPrompt) return { method: 'knowledge', secret: () => prompt.secret() };
      throw CliError.usage(
        'secret_source',
        `no terminal to type the secret: set ${SECRET_ENV} or pass --secret-fd N`,
      );
    }
  }
}

async function payOnce(o: PayFlags, ext: CliExtensions): Promise<PayReport> {
  if (o.reader !== undefined && o.cardFile !== undefined)
    throw CliError.usage('usage', '--reader and --card-file exclude each other');
  const trust = readTrustFile(o.trust);
  if (o.oda && (trust.emvCaKeys?.size ?? 0) === 0)
    throw CliError.usage(
      'trust_file',
      `--oda needs the scheme's EMV CA keys (emvCaKeys) in the trust file ${o.trust}`,
    );
  const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true;
  const prompt = await makePrompt(o, interactive, o.cvm === 'online-pin' || o.cvm === 'offline-pin');
  const cvm = await makeCvm(o, prompt);
  const till: TillChoice = o.till === 'strongest' ? { kind: 'strongest' } : { kind: 'name', name: o.till };
  // A named till ends the scan as soon as it is seen; the strongest needs the whole window.
  const scanTimeoutMs = parseCount('--timeout', o.timeout ?? (till.kind === 'name' ? '10000' : '3000'));
  const choice: CardChoice = cardChoice(o);
  const card: OpenCard = await openCard(choice, {
    progress: (s) => prompt.progress(s),
    waitTimeoutMs: parseCount('--card-timeout', o.cardTimeout),
    ...(ext.simulatedCards ? { simulatedCards: ext.simulatedCards } : {}),
  });
  const central = new NobleCentral({ hci: parseHci(o.hci) });
  // With --backend, an outcome the till leaves unknown is asked of the card company directly.
  const askBackend = o.backend ? shopperBackend({ backend: o.backend, trust }) : undefined;
  try {
    const result = await runPaymentSession({
      central,
      card: card.card,
      prompt,
      trust,
      till,
      scanTimeoutMs,
      cvm,
      ...(o.oda ? { oda: true } : {}),
      ...(askBackend ? { askBackend } : {}),
    });
    return reportOutcome(result, { maskedPan: card.maskedPan(), failure: card.failure() });
  } catch (e) {
    if (e instanceof TillUnreachableError) throw tillUnreachableCliError(e);
    if (e instanceof PromptError)
      return {
        outcome: 'cancelled',
        exitCode: EXIT.notCharged,
        message: `Cancelled (${e.message}): nothing was charged.`,
        charged: 'no',
        error: { code: e.code, message: e.message },
      };
    // GENERATE AC failed: the Payment was never sent.
    if (e instanceof CardReadError || e instanceof CardReaderError) {
      return {
        outcome: 'failed',
        exitCode: EXIT.notCharged,
        message: `Failed: the card stopped answering (${e.code}). Nothing was charged.`,
        charged: 'no',
        error: { code: e.code, message: e.message },
      };
    }
    throw e;
  } finally {
    askBackend?.close();
    await card.close().catch(() => undefined);
    await central.close().catch(() => undefined);
  }
}

const cardChoice = (o: { reader?: string | undefined; cardFile?: string | undefined }): CardChoice =>
  o.cardFile !== undefined
    ? { kind: 'file', path: o.cardFile }
    : { kind: 'reader', ...(o.reader ? { readerName: o.reader } : {}) };

/** `--merchant-card reader[:NAME]` (a PC/SC reader other than the shopper's) or a personalization file (testers' build). */
function merchantCardChoice(spec: string): CardChoice {
  if (spec === 'reader') return { kind: 'reader' };
  if (spec.startsWith('reader:')) return { kind: 'reader', readerName: spec.slice('reader:'.length) };
  return { kind: 'file', path: spec };
}

/** pay --code / --merchant-card: the phone talks to the backend directly (no till, no Bluetooth). */
async function payDirect(o: PayFlags, ext: CliExtensions): Promise<PayReport> {
  if (o.reader !== undefined && o.cardFile !== undefined)
    throw CliError.usage('usage', '--reader and --card-file exclude each other');
  if (o.code && o.merchantCard !== undefined)
    throw CliError.usage('usage', '--code and --merchant-card exclude each other');
  if (!o.backend)
    throw CliError.usage(
      'usage',
      `${o.code ? '--code' : '--merchant-card'} needs --backend HOST:PORT (the payment network's shopper address)`,
    );
  const trust = readTrustFile(o.trust);
  const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true;
  const common = {
    backend: o.backend,
    trust,
    card: cardChoice(o),
    cardTimeoutMs: parseCount('--card-timeout', o.cardTimeout),
    ...(ext.simulatedCards ? { simulatedCards: ext.simulatedCards } : {}),
  };
  if (o.code) {
    if (!o.limit) throw CliError.usage('usage', '--code needs --limit AMOUNT: the most the code may pay');
    const limit = { minor: parseAmount('--limit', o.limit), currency: o.currency };
    // Nothing to confirm for a code (the cashier's sale is confirmed at the till): --yes is implied.
    const prompt = await makePrompt({ ...o, yes: true }, interactive, true);
    return runCodeCommand({ ...common, prompt, limit });
  }
  const items = [...(o.items ? readItemsFile(o.items) : []), ...o.item.map(parseItem)];
  const sale = saleFrom(
    items,
    o.currency,
    o.amount !== undefined ? parseAmount('--amount', o.amount) : undefined,
  );
  const merchantCard = merchantCardChoice(o.merchantCard!);
  if (
    merchantCard.kind === 'reader' &&
    common.card.kind === 'reader' &&
    (merchantCard.readerName ?? '') === (common.card.readerName ?? '')
  )
    throw CliError.usage(
      'usage',
      "the merchant's card and yours need two readers: name them (--merchant-card reader:NAME, --reader NAME)",
    );
  const prompt = await makePrompt(o, interactive, true);
  return runMerchantCardCommand({ ...common, prompt, merchantCard, items: sale.items, total: sale.total });
}

export function registerPay(program: Command, ext: CliExtensions = {}): void {
  program
    .command('pay')
    .description(
      'pay the basket rung up at a till with your IC card; or, with no till, get a payment code (--code) or pay a merchant card (--merchant-card)',
    )
    .option(
      '--till <name>',
      'the counter name of the till, or "strongest" for the strongest signal',
      'strongest',
    )
    .option('--reader <name>', 'part of the PC/SC reader name (default: the first reader)')
    .option(
      '--card-file <file>',
      'testers: a simulated card personalized from this file, instead of a reader',
    )
    .requiredOption(
      '--trust <file>',
      'trust anchors (trust.json: acquirer CA, card company root, backend CA)',
    )
    .option('--hci <transport>', HCI_HELP, 'socket:0')
    .option(
      '--timeout <ms>',
      'how long to look for the till (default 10000 for a named till, which ends the scan once seen; 3000 to compare signals)',
    )
    .option('--card-timeout <ms>', 'how long to wait for the card', '30000')
    .option('--yes', 'accept the items and sum without asking')
    .option(
      '--pin-fd <n>',
      `read the PIN from this file descriptor (or set ${PIN_ENV}); never pass a PIN as an argument`,
    )
    .option(
      '--cvm <method>',
      'how you are verified: online-pin (checked by the card company), offline-pin (checked by the card), biometric (fingerprint matched on the card), knowledge (a secret checked by the card)',
      'online-pin',
    )
    .option(
      '--oda',
      'authenticate the card on this phone (scheme CA keys of the trust file) before any card data leaves it',
    )
    .option(
      '--secret-fd <n>',
      `with --cvm knowledge: read the secret from this file descriptor (or set ${SECRET_ENV}); typed masked on a terminal`,
    )
    .option(
      '--fingerprint-file <file>',
      'with --cvm biometric: a captured fingerprint template (64 bytes) standing in for the sensor',
    )
    .option('--json', 'print one JSON object: outcome, masked card, receipt fields')
    .option(
      '--code',
      'no till: ask the payment network for a one-time payment code (8 digits, 5 minutes) to tell the cashier',
    )
    .option('--limit <amount>', 'with --code: the most the code may pay, e.g. 25.00')
    .option(
      '--merchant-card <source>',
      'no till: pay the merchant whose IC card is in this reader (reader:NAME) or, for testers, personalization file',
    )
    .option(
      '--item <SKU:NAME:QTY:PRICE>',
      'with --merchant-card: one line of the sale (repeat)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option(
      '--items <file>',
      'with --merchant-card: the sale as JSON [{ sku, name, quantity, unitPrice: "3.50" }]',
    )
    .option('--amount <amount>', "with --merchant-card: the sum, checked against the items' total")
    .option('--currency <code>', 'ISO 4217 currency of --limit, --item and --amount', 'EUR')
    .option(
      '--backend <host:port>',
      "the payment network's shopper address (TLS checked against the trust file's backendTlsCa): with --code or --merchant-card, where to pay; at a till, whom to ask when the till leaves the outcome unknown",
    )
    .action(async (o: PayFlags) => {
      let report: PayReport;
      try {
        report = o.code || o.merchantCard !== undefined ? await payDirect(o, ext) : await payOnce(o, ext);
      } catch (e) {
        if (!(e instanceof CliError)) throw e;
        report = reportError(e);
      }
      printReport(report, o.json === true);
      process.exit(report.exitCode);
    });
}
