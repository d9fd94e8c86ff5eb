/**
 * `bluetill-phone pay`: the composition root of one payment: the noble central on the chosen HCI
 * transport, the card (PC/SC reader or a simulated card file), the prompt (terminal or
 * non-interactive), the trust anchors; then the payment session and its report.
 */
import type { Command } from 'commander';
import { NobleCentral } from '../adapters/ble-central.noble';
import { NonInteractivePrompt, pinFromEnv, pinFromFd } from '../adapters/prompt.non-interactive';
import { PromptError, TerminalPrompt } from '../adapters/prompt.terminal';
import { CardReadError } from '../core/card/card-read-error';
import { CardReaderError } from '../ports/card-reader';
import type { Prompt } from '../ports/prompt';
import { openCard, type CardChoice, type OpenCard, type SimulatedCardMaker } from './card-source';

/** What a build of the CLI adds: the simulator's build brings simulated cards for --card-file. */
export interface CliExtensions {
  readonly simulatedCards?: SimulatedCardMaker;
}
import { CliError } from './cli-error';
import { EXIT } from './exit-codes';
import { HCI_HELP, parseCount, parseHci } from './hci-option';
import { printReport, reportError, reportOutcome, type PayReport } from './pay-report';
import { runPaymentSession, type TillChoice } from './payment-session';
import { readTrustFile } from './trust-file';

export const PIN_ENV = 'BLUETILL_PIN';

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
}

/** The shopper's side: a terminal when there is one, else automation (which must say --yes and give a PIN source). */
async function makePrompt(o: PayFlags, interactive: boolean): Promise<Prompt> {
  const source = o.pinFd !== undefined ? pinFromFd(parseCount('--pin-fd', o.pinFd)) : process.env[PIN_ENV] ? pinFromEnv(PIN_ENV) : undefined;
  let pin: (() => Promise<string>) | undefined;
  if (source) {
    // Read and check it now: a bad PIN source is a usage error, found before any till is contacted.
    const value = await source().catch((e: unknown) => {
      throw CliError.usage('pin_source', e instanceof PromptError ? e.message : 'the PIN could not be read', { cause: e });
    });
    pin = async () => value;
  }
  if (interactive) return new TerminalPrompt({ assumeYes: o.yes === true, ...(pin ? { pin } : {}) });
  if (!pin) throw CliError.usage('pin_source', `no terminal to type the PIN: set ${PIN_ENV} or pass --pin-fd N`);
  if (!o.yes) throw CliError.usage('usage', 'no terminal to confirm the items and sum: pass --yes to accept them');
  return new NonInteractivePrompt({ pin, output: process.stderr });
}

async function payOnce(o: PayFlags, ext: CliExtensions): Promise<PayReport> {
  if (o.reader !== undefined && o.cardFile !== undefined) throw CliError.usage('usage', '--reader and --card-file exclude each other');
  const trust = readTrustFile(o.trust);
  const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true;
  const prompt = await makePrompt(o, interactive);
  const till: TillChoice = o.till === 'strongest' ? { kind: 'strongest' } : { kind: 'name', name: o.till };
  // A named till ends the scan as soon as it is seen; the strongest needs the whole window.
  const scanTimeoutMs = parseCount('--timeout', o.timeout ?? (till.kind === 'name' ? '10000' : '3000'));
  const choice: CardChoice = o.cardFile !== undefined ? { kind: 'file', path: o.cardFile } : { kind: 'reader', ...(o.reader ? { readerName: o.reader } : {}) };
  const card: OpenCard = await openCard(choice, { progress: (s) => prompt.progress(s), waitTimeoutMs: parseCount('--card-timeout', o.cardTimeout), ...(ext.simulatedCards ? { simulatedCards: ext.simulatedCards } : {}) });
  const central = new NobleCentral({ hci: parseHci(o.hci) });
  try {
    const result = await runPaymentSession({ central, card: card.card, prompt, trust, till, scanTimeoutMs });
    return reportOutcome(result, { maskedPan: card.maskedPan(), failure: card.failure() });
  } catch (e) {
    if (e instanceof PromptError) return { outcome: 'cancelled', exitCode: EXIT.notCharged, message: `Cancelled (${e.message}): nothing was charged.`, charged: 'no', error: { code: e.code, message: e.message } };
    // GENERATE AC failed: the Payment was never sent.
    if (e instanceof CardReadError || e instanceof CardReaderError) {
      return { outcome: 'failed', exitCode: EXIT.notCharged, message: `Failed: the card stopped answering (${e.code}). Nothing was charged.`, charged: 'no', error: { code: e.code, message: e.message } };
    }
    throw e;
  } finally {
    await card.close().catch(() => undefined);
    await central.close().catch(() => undefined);
  }
}

export function registerPay(program: Command, ext: CliExtensions = {}): void {
  program
    .command('pay')
    .description('pay the basket rung up at a till with your IC card')
    .option('--till <name>', 'the counter name of the till, or "strongest" for the strongest signal', 'strongest')
    .option('--reader <name>', 'part of the PC/SC reader name (default: the first reader)')
    .option('--card-file <file>', 'testers: a simulated card personalized from this file, instead of a reader')
    .requiredOption('--trust <file>', 'trust anchors (trust.json: acquirer CA, card company root)')
    .option('--hci <transport>', HCI_HELP, 'socket:0')
    .option('--timeout <ms>', 'how long to look for the till (default 10000 for a named till, which ends the scan once seen; 3000 to compare signals)')
    .option('--card-timeout <ms>', 'how long to wait for the card', '30000')
    .option('--yes', 'accept the items and sum without asking')
    .option('--pin-fd <n>', `read the PIN from this file descriptor (or set ${PIN_ENV}); never pass a PIN as an argument`)
    .option('--json', 'print one JSON object: outcome, masked card, receipt fields')
    .action(async (o: PayFlags) => {
      let report: PayReport;
      try {
        report = await payOnce(o, ext);
      } catch (e) {
        if (!(e instanceof CliError)) throw e;
        report = reportError(e);
      }
      printReport(report, o.json === true);
      process.exit(report.exitCode);
    });
}
