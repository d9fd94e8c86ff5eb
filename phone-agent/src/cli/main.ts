/**
 * bluetill-phone: the shopper's phone agent.
 *
 *   bluetill-phone scan [--timeout ms] [--json] [--hci uart:PATH | socket:N]
 *   bluetill-phone pay [--till NAME | strongest] [--reader NAME | --card-file FILE] --trust trust.json [--hci …] [--json] [--yes] [--pin-fd N]
 *   bluetill-phone pay --code --limit AMOUNT --backend HOST:PORT --trust trust.json [--reader NAME | --card-file FILE] [--json]
 *                                                    no till: a one-time payment code from the backend for the cashier
 *   bluetill-phone pay --merchant-card reader:NAME|FILE --item SKU:NAME:QTY:PRICE… [--items FILE] [--amount A] --backend HOST:PORT --trust trust.json
 *                                                    no till: pay the merchant whose IC card is in the other reader
 *   bluetill-phone receipt --terminal ID --offline-id ID --backend HOST:PORT --trust trust.json [--reader NAME | --card-file FILE]
 *                                                    the card company's confirmation of a sale a till approved offline
 *   bluetill-phone card write FILE [--reader NAME]   personalize a blank card from an issuer's file, read it back
 *   bluetill-phone card read [--reader NAME] [--json] read the payment application (card number shown masked)
 *
 * Readers are PC/SC readers known to pcscd (a USB NFC reader, or the vpcd virtual one); --reader
 * picks one by a part of its name, else the first. The PIN comes from the keyboard (masked),
 * BLUETILL_PIN or --pin-fd, never from an argument. Exit codes: see exit-codes.ts (0 approved /
 * done, 1 other error, 2 wrong usage, 3 declined, 4 failed and nothing charged, 5 outcome unknown).
 */
import { Command } from 'commander';
import { registerCard } from './card-commands';
import { CliError } from './cli-error';
import { EXIT } from './exit-codes';
import { registerPay, type CliExtensions } from './pay-command';
import { registerReceipt } from './receipt-command';
import { registerScan } from './scan-command';

/** After a usage error: one line on where the options are, not the whole help. */
function helpHintAfterErrors(cmd: Command, path: string): void {
  cmd.showHelpAfterError(`(${path} --help lists the options)`);
  for (const sub of cmd.commands) helpHintAfterErrors(sub, `${path} ${sub.name()}`);
}

/**
 * Runs the CLI on these arguments (process.argv form). Builds may add extensions (simulated cards)
 * and their own name (shown in usage and messages).
 */
export async function runPhoneCli(argv: readonly string[], ext: CliExtensions = {}): Promise<void> {
  const name = ext.name ?? 'bluetill-phone';
  // A PIN on the command line is visible to every user (ps) and lands in shell history: refuse it
  // before the argument parser could echo it in an "unknown option" message.
  if (argv.some((a) => /^--pin(=|$)/.test(a))) {
    console.error(
      `${name}: the PIN is never taken from an argument: type it, or use BLUETILL_PIN or --pin-fd N`,
    );
    process.exit(EXIT.usage);
  }
  const program = new Command(name).description(
    "bluetill phone agent: the shopper's side of paying with your own phone and IC card",
  );
  // Usage errors exit 2 (set before the subcommands, which inherit it).
  program.exitOverride((e) => process.exit(e.exitCode === 0 ? EXIT.ok : EXIT.usage));
  registerScan(program);
  registerPay(program, ext);
  registerReceipt(program, ext);
  registerCard(program);
  helpHintAfterErrors(program, name);
  await program.parseAsync([...argv]).catch((error: unknown) => {
    console.error(`${name}: ${(error as Error).message}`);
    process.exit(error instanceof CliError ? error.exitCode : EXIT.error);
  });
}
