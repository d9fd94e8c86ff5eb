/**
 * Child-process probe for the "close lets the process exit" test: opens NfcPcscCardReader on the
 * reader named in argv[2], waits for the card, sends SELECT PPSE, closes, and then must exit on its
 * own (no process.exit): a leaked PC/SC handle would keep it alive. Prints lengths only.
 */
import { NfcPcscCardReader } from '../../phone-agent/src/adapters/card-reader.nfc-pcsc';
import { SELECT_PPSE } from './pcsc-ppse-card';

async function main(): Promise<void> {
  const reader = new NfcPcscCardReader({ readerName: process.argv[2] ?? 'Virtual PCD' });
  const { atr } = await reader.waitForCard({ timeoutMs: 10_000 });
  const response = await reader.transmit(SELECT_PPSE);
  await reader.close();
  process.stdout.write(`atr=${atr.length} response=${response.length}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as { code?: string }).code ?? 'error'}: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
