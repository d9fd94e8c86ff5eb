/**
 * The shopper's CLI with the card-verified methods (claims 10, 16, 17): `bluetill-phone-sim pay`
 * in its own process, its own noble stack on the virtual LE radio, paying at the real till
 * (bleno) and the real backend (grpc-js, SQLite), with `--cvm offline-pin|biometric|knowledge`
 * and `--oda`. Secrets come from a file descriptor or a template file, never an argument, and
 * appear in nothing the CLI prints.
 */
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, SimulatedFingerprintSensor, VirtualBle, type World } from '@bluetill/simulator';
import { demoFingerprint, templateBytes } from '@bluetill/protocol';
import type { RemoteDevice } from '../../simulator/src/radio/radio-process';
import { PHONE_SIM_CLI, runCli, type CliRun as Run } from '../support/run-cli';

let ble: VirtualBle;
let world: World;
let device: RemoteDevice;

const cli = (args: readonly string[], env: Record<string, string> = {}, fd3?: number): Promise<Run> =>
  runCli(PHONE_SIM_CLI, args, { env, ...(fd3 !== undefined ? { fd3 } : {}) });

/** Runs the CLI with `text` readable on its descriptor 3 (as `3<file` in a shell). */
async function withFd3(name: string, text: string, args: readonly string[]): Promise<Run> {
  const path = join(world.dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  const fd = openSync(path, 'r');
  try {
    return await cli(args, {}, fd);
  } finally {
    closeSync(fd);
  }
}

const payArgs = (cardId: string, extra: readonly string[]) => [
  'pay',
  '--till',
  'Counter 1',
  '--card-file',
  join(world.seed.cardsDir, `${cardId}.json`),
  '--trust',
  join(world.dir, 'trust.json'),
  '--hci',
  `uart:${device.ttyPath}`,
  '--yes',
  '--json',
  ...extra,
];
const postings = () =>
  (world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM postings').get() as { n: number }).n;

beforeAll(async () => {
  ble = await VirtualBle.start();
  world = await startWorld({ radio: ble });
  device = await ble.radio.addDevice({
    name: 'cli-cvm-phone',
    distanceM: 1,
    shaping: { llPayloadBytes: 251 },
  });
}, 60_000);
afterAll(async () => {
  await world?.close();
  await ble?.close();
});

describe('bluetill-phone pay --cvm', () => {
  it(
    '--cvm offline-pin --oda: the card checks the PIN after the phone authenticated it; exit 0, one posting pair',
    { timeout: 60_000 },
    async () => {
      world.ringUp([{ sku: 'milk', name: 'Milk 1l', quantity: 1, unitPriceMinor: 129 }]);
      const before = postings();
      const r = await cli(payArgs('card-alice', ['--cvm', 'offline-pin', '--oda']), { BLUETILL_PIN: '1234' });
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'approved', charged: 'yes' });
      expect(r.stderr).toContain('The card checks the PIN');
      expect(r.stdout + r.stderr).not.toContain('1234');
      expect(postings() - before).toBe(2);
    },
  );

  it(
    '--cvm knowledge --secret-fd 3: a wrong secret is declined by the card (exit 3, tries left); the right one pays',
    { timeout: 90_000 },
    async () => {
      world.ringUp([{ sku: 'jam', name: 'Jam', quantity: 1, unitPriceMinor: 315 }]);
      const wrong = await withFd3(
        'wrong-secret.txt',
        'rue des roses 9\n',
        payArgs('card-bob', ['--cvm', 'knowledge', '--secret-fd', '3']),
      );
      expect(wrong.code, wrong.stderr + wrong.stdout).toBe(3);
      expect(JSON.parse(wrong.stdout)).toMatchObject({
        outcome: 'declined',
        reason: 'cvm_failed',
        triesLeft: 2,
        charged: 'no',
      });
      expect(wrong.stdout + wrong.stderr).not.toContain('rue des roses');
      const right = await withFd3(
        'secret.txt',
        'rue des lilas 7\n',
        payArgs('card-bob', ['--cvm', 'knowledge', '--secret-fd', '3']),
      );
      expect(right.code, right.stderr + right.stdout).toBe(0);
      expect(right.stdout + right.stderr).not.toContain('rue des lilas');
    },
  );

  it(
    '--cvm biometric --fingerprint-file: a capture of the finger pays, another finger is declined (exit 3)',
    { timeout: 90_000 },
    async () => {
      world.ringUp([{ sku: 'tea', name: 'Tea', quantity: 1, unitPriceMinor: 250 }]);
      const capture = async (name: string, file: string) => {
        const path = join(world.dir, file);
        writeFileSync(
          path,
          templateBytes(
            await new SimulatedFingerprintSensor(demoFingerprint(name), { noise: 15, seed: 3 }).capture(),
          ),
          { mode: 0o600 },
        );
        return path;
      };
      const other = await cli(
        payArgs('card-alice', [
          '--cvm',
          'biometric',
          '--fingerprint-file',
          await capture('mallory', 'mallory.bin'),
        ]),
      );
      expect(other.code, other.stderr + other.stdout).toBe(3);
      expect(JSON.parse(other.stdout)).toMatchObject({
        outcome: 'declined',
        reason: 'cvm_failed',
        triesLeft: 4,
      });
      const own = await cli(
        payArgs('card-alice', [
          '--cvm',
          'biometric',
          '--fingerprint-file',
          await capture('alice', 'alice.bin'),
        ]),
      );
      expect(own.code, own.stderr + own.stdout).toBe(0);
      expect(JSON.parse(own.stdout)).toMatchObject({ outcome: 'approved' });
    },
  );

  it(
    'usage errors before any till is contacted (exit 2): an unknown --cvm, --oda without CA keys, a template file that is not one',
    { timeout: 60_000 },
    async () => {
      const bogus = await cli(payArgs('card-alice', ['--cvm', 'retina']), { BLUETILL_PIN: '1234' });
      expect(bogus.code).toBe(2);
      expect(bogus.stdout + bogus.stderr).toContain('--cvm must be one of');
      const trust = JSON.parse(readFileSync(join(world.dir, 'trust.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      const noCa = join(world.dir, 'trust-no-ca.json');
      writeFileSync(noCa, JSON.stringify({ ...trust, emvCaKeys: undefined }));
      const oda = await cli(
        payArgs('card-alice', ['--oda']).map((a) => (a.endsWith('trust.json') ? noCa : a)),
        { BLUETILL_PIN: '1234' },
      );
      expect(oda.code).toBe(2);
      expect(oda.stdout + oda.stderr).toContain('emvCaKeys');
      const junk = join(world.dir, 'junk.bin');
      writeFileSync(junk, 'not a template');
      const bad = await cli(payArgs('card-alice', ['--cvm', 'biometric', '--fingerprint-file', junk]));
      expect(bad.code).toBe(2);
      expect(bad.stdout + bad.stderr).toContain('64 components');
    },
  );
});
