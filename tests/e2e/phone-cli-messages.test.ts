/**
 * What the shopper's CLI prints when something is wrong, run as a shopper runs it (its own
 * process, no terminal) against a real backend: one clear message each, no Node or noble warning,
 * no raw code in the human line, the help pointed at in one line.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackendFixture, type BackendFixture } from '../../backend/src/test-support/backend-fixture';
import { PHONE_CLI, PHONE_SIM_CLI, runCli } from '../support/run-cli';

let f: BackendFixture;
beforeAll(async () => {
  f = await startBackendFixture();
}, 60_000);
afterAll(() => f?.close());

const portOf = (address: string) => address.slice(address.lastIndexOf(':') + 1);
const codeArgs = (backend: string) => [
  'pay',
  '--code',
  '--limit',
  '5',
  '--card-file',
  join(f.seed.cardsDir, 'card-alice.json'),
  '--trust',
  join(f.dir, 'trust.json'),
  '--backend',
  backend,
];
/** Nothing Node or noble warns about reaches the shopper. */
const noWarnings = (r: { stdout: string; stderr: string }) => {
  for (const s of [r.stdout, r.stderr]) {
    expect(s).not.toMatch(/Warning/);
    expect(s).not.toContain('noble warning');
  }
};

describe('bluetill-phone tells the shopper what is wrong, once', () => {
  it(
    'no Bluetooth adapter: the clear message only, without noble warnings, without waiting out the timeout',
    { timeout: 30_000 },
    async () => {
      const t0 = Date.now();
      const r = await runCli(PHONE_CLI, ['scan', '--timeout', '200', '--hci', 'socket:99']);
      expect(r.code).toBe(1);
      expect(r.stderr.match(/Bluetooth is not available/g)).toHaveLength(1);
      noWarnings(r);
      expect(Date.now() - t0).toBeLessThan(9_000);
    },
  );

  it(
    'a backend named by its IP address: the code is issued, no DEP0123 or other Node warning',
    { timeout: 60_000 },
    async () => {
      const r = await runCli(PHONE_SIM_CLI, codeArgs(`127.0.0.1:${portOf(f.shopperAddress)}`), {
        env: { BLUETILL_PIN: '1234' },
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('Payment code');
      noWarnings(r);
    },
  );

  it(
    "--code pointed at the tills' port: says it is the tills' port, not that the certificate is wrong",
    { timeout: 60_000 },
    async () => {
      const r = await runCli(PHONE_SIM_CLI, codeArgs(`localhost:${portOf(f.backend.address)}`), {
        env: { BLUETILL_PIN: '1234' },
      });
      expect(r.code).toBe(4);
      expect(r.stderr).toContain('port for tills');
      expect(r.stderr).toContain('shopper port');
      expect(r.stderr).not.toContain('could not prove who it is');
      expect(r.stderr.match(/Nothing was charged/gi)).toHaveLength(1);
      const json = await runCli(
        PHONE_SIM_CLI,
        [...codeArgs(`localhost:${portOf(f.backend.address)}`), '--json'],
        { env: { BLUETILL_PIN: '1234' } },
      );
      expect(JSON.parse(json.stdout)).toMatchObject({
        outcome: 'failed',
        error: { code: 'not_shopper_listener' },
      });
    },
  );

  it(
    'card read without pcscd: says there is no card reader and to check pcscd, not transmit_failed',
    { timeout: 30_000 },
    async () => {
      const r = await runCli(PHONE_CLI, ['card', 'read'], {
        env: { PCSCLITE_CSOCK_NAME: join(f.dir, 'no-pcscd.comm') },
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('No card reader');
      expect(r.stderr).toContain('pcscd');
      expect(r.stderr).not.toContain('transmit_failed');
    },
  );

  it(
    'a missing --trust: the error and one line on where the options are, not the whole help',
    { timeout: 30_000 },
    async () => {
      const r = await runCli(PHONE_CLI, ['pay', '--code', '--limit', '5', '--backend', 'localhost:1']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("required option '--trust <file>' not specified");
      expect(r.stderr).toContain('bluetill-phone pay --help');
      expect(r.stderr).not.toContain('Options:');
      expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
    },
  );

  it("the simulator's build names itself in its help and its errors", { timeout: 30_000 }, async () => {
    const help = await runCli(PHONE_SIM_CLI, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: bluetill-phone-sim');
    const sub = await runCli(PHONE_SIM_CLI, ['pay', '--help']);
    expect(sub.stdout).toContain('Usage: bluetill-phone-sim pay');
    const bad = await runCli(PHONE_SIM_CLI, ['pay']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('bluetill-phone-sim pay --help');
  });
});
