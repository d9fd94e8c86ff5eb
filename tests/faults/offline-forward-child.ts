/**
 * A till process that only forwards its offline sales, for the fault suite to kill with SIGKILL
 * midway: it opens the till's offline journal, forwards the open sales in order through its gRPC
 * client (the till's certificate), and prints `forwarded <offline id> <state>` as each answer is
 * journaled, then `done`. Arguments: one JSON object (journal path and key, card key secret,
 * terminal identity, backend address, TLS folder).
 */
import { privateKeyFromPem } from '@bluetill/protocol';
import { readTerminalTls } from '@bluetill/backend';
import { GrpcBackendClient, OfflineDesk, SqliteOfflineJournal } from '@bluetill/pos-terminal';

const a = JSON.parse(process.argv[2]!) as {
  journalPath: string;
  journalKey: string;
  cardKeySecret: string;
  terminalId: string;
  merchantId: string;
  merchantName: string;
  privatePem: string;
  address: string;
  tlsDir: string;
};
const client = new GrpcBackendClient({
  authorizationAddress: a.address,
  terminalId: a.terminalId,
  tls: readTerminalTls(a.tlsDir, a.terminalId),
  deadlineMs: 2_000,
  attempts: 1,
});
const journal = new SqliteOfflineJournal(a.journalPath, { key: Buffer.from(a.journalKey, 'base64') });
const desk = new OfflineDesk({
  terminalId: a.terminalId,
  merchantId: a.merchantId,
  merchantName: a.merchantName,
  terminalKey: privateKeyFromPem(a.privatePem).privateKey,
  journal,
  limits: {
    currency: 'EUR',
    floorLimitMinor: 1,
    perCardDailyCount: 0,
    perCardDailyAmountMinor: 0,
    exposureMinor: 0,
    timeZone: 'UTC',
  },
  blockList: { has: () => false },
  caKeys: new Map(),
  cardKeySecret: Buffer.from(a.cardKeySecret, 'base64'),
  forwarder: client,
  clock: { now: () => Date.now() },
  onForwarded: (s) => process.stdout.write(`forwarded ${s.offlineId} ${s.state}\n`),
});
const report = await desk.forward();
process.stdout.write(`done ${report.forwarded.length} ${report.remaining}\n`);
client.close();
journal.close();
