/**
 * The shopper's CLI as a shopper's script would run it: `bluetill-phone` in its own process, its
 * own noble stack on its own controller of the virtual LE radio (`--hci uart:<pty>`), paying at a
 * real till (bleno) backed by the real gRPC + SQLite backend, with a simulated card from the
 * seed's personalization files.
 */
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn as ptySpawn } from '@lydell/node-pty';
import { startWorld, VirtualBle, type World } from '@bluetill/simulator';
import type { RemoteDevice } from '../../simulator/src/radio/radio-process';
import { PHONE_CLI, PHONE_SIM_CLI, runCli, type CliRun as Run } from '../support/run-cli';

const ALICE_PAN = '6799990100000000019';

let ble: VirtualBle;
let world: World;
let device: RemoteDevice;

/** The CLI with no terminal, as automation runs it; `fd3` becomes its descriptor 3. */
const cli = (
  args: readonly string[],
  env: Record<string, string> = {},
  fd3?: number,
  bin = PHONE_SIM_CLI,
): Promise<Run> => runCli(bin, args, { env, ...(fd3 !== undefined ? { fd3 } : {}) });

const hci = () => `uart:${device.ttyPath}`;
const payArgs = (extra: readonly string[] = []) => [
  'pay',
  '--till',
  'Counter 1',
  '--card-file',
  join(world.seed.cardsDir, 'card-alice.json'),
  '--trust',
  join(world.dir, 'trust.json'),
  '--hci',
  hci(),
  '--yes',
  '--json',
  ...extra,
];

beforeAll(async () => {
  ble = await VirtualBle.start();
  world = await startWorld({ radio: ble });
  // The CLI's phone: its own controller on the radio, reused by each run (one process at a time).
  device = await ble.radio.addDevice({ name: 'cli-phone', distanceM: 1, shaping: { llPayloadBytes: 251 } });
}, 60_000);
afterAll(async () => {
  await world?.close();
  await ble?.close();
});

describe('bluetill-phone over the virtual radio', () => {
  it('scan --json lists the till by counter name with its signal strength', { timeout: 60_000 }, async () => {
    const r = await cli(['scan', '--timeout', '3000', '--json', '--hci', hci()]);
    expect(r.code, r.stderr).toBe(0);
    const { tills } = JSON.parse(r.stdout) as { tills: { counterName: string; rssi: number; id: string }[] };
    expect(tills).toContainEqual(expect.objectContaining({ counterName: 'Counter 1' }));
    expect(tills[0]!.rssi).toBeLessThan(0);
  });

  it(
    'pays the basket with BLUETILL_PIN and --yes: exit 0, a verified receipt, the card masked',
    { timeout: 60_000 },
    async () => {
      world.ringUp([
        { sku: 'milk', name: 'Milk 1l', quantity: 2, unitPriceMinor: 129 },
        { sku: 'bread', name: 'Bread', quantity: 1, unitPriceMinor: 349 },
      ]);
      const r = await cli(payArgs(), { BLUETILL_PIN: '1234' });
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const out = JSON.parse(r.stdout) as {
        outcome: string;
        card: string;
        charged: string;
        till: { counterName: string };
        receipt: {
          result: string;
          maskedPan: string;
          merchantName: string;
          total: { minor: number; currency: string };
          items: unknown[];
          approvalCode: string;
        };
        receiptText: string;
      };
      expect(out).toMatchObject({
        outcome: 'approved',
        charged: 'yes',
        card: '679999*********0019',
        till: { counterName: 'Counter 1' },
      });
      expect(out.receipt).toMatchObject({
        result: 'approved',
        maskedPan: '679999*********0019',
        merchantName: 'Corner Shop',
        total: { minor: 607, currency: 'EUR' },
      });
      expect(out.receipt.items).toHaveLength(2);
      expect(out.receipt.approvalCode).not.toBe('');
      expect(out.receiptText).toContain('APPROVED');
      // The card is read from the start (what needs no UN, beside the BLE setup); the merchant from
      // the verified certificate was shown before the card's data over the till's UN was read.
      expect(r.stderr.indexOf('Card found')).toBeLessThan(r.stderr.indexOf('Till verified'));
      expect(r.stderr.indexOf('Till verified: paying Corner Shop')).toBeGreaterThanOrEqual(0);
      expect(r.stderr.indexOf('Till verified')).toBeLessThan(r.stderr.indexOf('Card read:'));
      // Neither the card number nor the PIN in anything the CLI printed.
      for (const s of [r.stdout, r.stderr]) {
        expect(s).not.toContain(ALICE_PAN);
        expect(s).not.toContain('1234');
      }
      expect(world.till.baskets.list().filter((b) => b.state === 'paid')).toHaveLength(1);
    },
  );

  it(
    'a wrong PIN from --pin-fd: exit 3, declined pin_incorrect with the tries left',
    { timeout: 60_000 },
    async () => {
      world.ringUp([{ sku: 'gum', name: 'Gum', quantity: 1, unitPriceMinor: 99 }]);
      // The PIN arrives on descriptor 3, as from `--pin-fd 3 3<pin.txt` in a shell.
      const pinFile = join(world.dir, 'wrong-pin.txt');
      writeFileSync(pinFile, '5820\n', { mode: 0o600 });
      const fd = openSync(pinFile, 'r');
      let result: Run;
      try {
        result = await cli(payArgs(['--pin-fd', '3']), {}, fd);
      } finally {
        closeSync(fd);
      }
      expect(result.code, result.stderr + result.stdout).toBe(3);
      const out = JSON.parse(result.stdout) as {
        outcome: string;
        reason: string;
        pinTriesLeft?: number;
        charged: string;
      };
      expect(out).toMatchObject({
        outcome: 'declined',
        reason: 'pin_incorrect',
        charged: 'no',
        pinTriesLeft: 2,
      });
      expect(result.stderr).not.toContain('5820');
    },
  );

  it('prints the receipt as text without --json', { timeout: 60_000 }, async () => {
    world.ringUp([{ sku: 'tea', name: 'Tea', quantity: 1, unitPriceMinor: 250 }]);
    const args = payArgs()
      .filter((a) => a !== '--json')
      .map((a) => (a.endsWith('card-alice.json') ? join(world.seed.cardsDir, 'card-chen.json') : a));
    const r = await cli(args, { BLUETILL_PIN: '9876' });
    expect(r.code, r.stderr).toBe(0);
    // The till hands out its oldest open basket (the declined payment above left one).
    expect(r.stdout).toMatch(/\n1 x (Gum|Tea) +€\d+\.\d\d\n/);
    expect(r.stdout).toMatch(/TOTAL +€\d+\.\d\d/);
    expect(r.stdout).toMatch(/Card +679999\*+0035/);
    expect(r.stdout).toMatch(/APPROVED +code /);
    expect(r.stdout).toContain('Approved: Corner Shop');
    expect(r.stderr).toMatch(/1 x (Gum|Tea)/);
  });

  it(
    'a till whose certificate does not chain to the trusted acquirer: exit 4, no card data read over its UN or sent',
    { timeout: 60_000 },
    async () => {
      const trust = JSON.parse(readFileSync(join(world.dir, 'trust.json'), 'utf8')) as {
        acquirerCa: string;
        cardCompanyRoot: string;
      };
      const wrong = join(world.dir, 'wrong-trust.json');
      writeFileSync(wrong, JSON.stringify({ ...trust, acquirerCa: trust.cardCompanyRoot }));
      const r = await cli(
        payArgs().map((a) => (a.endsWith('trust.json') ? wrong : a)),
        { BLUETILL_PIN: '1234' },
      );
      expect(r.code).toBe(4);
      const out = JSON.parse(r.stdout) as { outcome: string; error: { code: string; message: string } };
      expect(out).toMatchObject({ outcome: 'failed', error: { code: 'till_untrusted' } });
      expect(out.error.message).toContain('Till not trusted');
      expect(r.stderr).not.toContain('Card read:');
    },
  );

  it(
    'three wrong PINs lock the card: the third says the PIN is locked (exit 3)',
    { timeout: 90_000 },
    async () => {
      const bob = payArgs().map((a) =>
        a.endsWith('card-alice.json') ? join(world.seed.cardsDir, 'card-bob.json') : a,
      );
      const reasons: string[] = [];
      let last: Run | undefined;
      for (let i = 0; i < 3; i++) {
        world.ringUp([{ sku: `nuts-${i}`, name: 'Nuts', quantity: 1, unitPriceMinor: 199 }]);
        last = await cli(bob, { BLUETILL_PIN: '0000' });
        expect(last.code, last.stderr + last.stdout).toBe(3);
        reasons.push((JSON.parse(last.stdout) as { reason: string }).reason);
      }
      expect(reasons).toEqual(['pin_incorrect', 'pin_incorrect', 'pin_tries_exceeded']);
      const r = await cli(
        bob.filter((a) => a !== '--json'),
        { BLUETILL_PIN: '0000' },
      );
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('The PIN is locked');
    },
  );

  // Alice's second payment with the same card file: the simulated card's counter (ATC) was kept
  // beside the file, as a real card keeps it, so the backend does not see a replayed ATC.
  it('on a terminal: the PIN typed masked, the basket confirmed with y', { timeout: 60_000 }, async () => {
    world.ringUp([{ sku: 'jam', name: 'Jam', quantity: 1, unitPriceMinor: 315 }]);
    const args = payArgs().filter((a) => a !== '--yes' && a !== '--json');
    const term = ptySpawn(process.execPath, [PHONE_SIM_CLI, ...args], {
      cols: 100,
      rows: 40,
      env: { ...process.env, BLUETILL_PIN: '' } as Record<string, string>,
    });
    let screen = '';
    let typedPin = false;
    let confirmed = false;
    term.onData((d) => {
      screen += d;
      if (!typedPin && /PIN/.test(screen)) {
        typedPin = true;
        term.write('1234\r');
      }
      if (!confirmed && /Pay €[\d.]+ to Corner Shop\?/.test(screen)) {
        confirmed = true;
        term.write('y\r');
      }
    });
    const code = await new Promise<number>((done) => term.onExit((e) => done(e.exitCode)));
    expect(code, screen).toBe(0);
    expect(screen).toMatch(/PIN[^\n]*\*{4}/);
    expect(screen).not.toContain('1234');
    expect(screen).not.toContain(ALICE_PAN);
    expect(screen).toContain('APPROVED');
  });

  it('no till by that name within the timeout: exit 4 and says so', { timeout: 60_000 }, async () => {
    const r = await cli(
      [
        'pay',
        '--till',
        'Counter 99',
        '--timeout',
        '1500',
        '--card-file',
        join(world.seed.cardsDir, 'card-alice.json'),
        '--trust',
        join(world.dir, 'trust.json'),
        '--hci',
        hci(),
        '--yes',
      ],
      { BLUETILL_PIN: '1234' },
    );
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(
      /No till found: the till "Counter 99" was not seen within 1500 ms \(only "Counter 1"\)/,
    );
    expect(r.stderr).toContain('Nothing was charged');
  });

  it("the plain bluetill-phone reads real cards only: --card-file is refused with a pointer to the testers' build (exit 2)", async () => {
    const r = await cli(
      [
        'pay',
        '--yes',
        '--card-file',
        join(world.seed.cardsDir, 'card-alice.json'),
        '--trust',
        join(world.dir, 'trust.json'),
        '--hci',
        hci(),
      ],
      { BLUETILL_PIN: '1234' },
      undefined,
      PHONE_CLI,
    );
    expect(r.code).toBe(2);
    expect(r.stderr + r.stdout).toContain('bluetill-phone-sim');
  });

  it('refuses a PIN given as an argument without echoing it (exit 2)', async () => {
    const r = await cli(['pay', '--pin=4711', '--trust', join(world.dir, 'trust.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('never taken from an argument');
    expect(r.stderr).not.toContain('4711');
  });

  it('without a terminal and without a PIN source: exit 2 naming BLUETILL_PIN', async () => {
    const r = await cli([
      'pay',
      '--yes',
      '--card-file',
      join(world.seed.cardsDir, 'card-alice.json'),
      '--trust',
      join(world.dir, 'trust.json'),
      '--hci',
      hci(),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('BLUETILL_PIN');
  });
});
