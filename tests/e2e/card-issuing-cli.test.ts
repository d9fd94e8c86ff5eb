/**
 * Issuing a card with the command-line tools, as an issuer and a card writer would: the backend's
 * admin tool registers the card and writes its personalization file; the phone agent writes it to
 * a blank card in a PC/SC reader (pcscd + vpcd) and reads it back.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmvCard } from '@bluetill/simulator';
import { openVirtualReader, type VirtualReader } from '../support/pcsc-virtual-card';

const run = promisify(execFile);
/** The master key keys.json is sealed under: the CLI reads it from the environment. */
const masterKeyEnv = { BLUETILL_MASTER_KEY: randomBytes(32).toString('base64') };
const root = resolve(import.meta.dirname, '..', '..');
const backendCli = join(root, 'backend', 'bin', 'bluetill-backend.mjs');
const phoneCli = join(root, 'phone-agent', 'bin', 'bluetill-phone.mjs');

let dir: string;
let virtual: VirtualReader;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bluetill-cli-'));
  virtual = await openVirtualReader();
});
afterAll(async () => {
  await virtual?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('card issuing with the CLIs', () => {
  it('issues, writes through PC/SC, and reads back a new card', async () => {
    await run(process.execPath, [backendCli, 'seed', '--dir', dir], {
      env: { ...process.env, ...masterKeyEnv },
    });
    const out = join(dir, 'zoe.json');
    const issued = await run(
      process.execPath,
      [
        backendCli,
        'card',
        'issue',
        '--dir',
        dir,
        '--id',
        'card-zoe',
        '--pan',
        '6799990100000000076',
        '--expiry',
        '2912',
        '--name',
        'ZOE ZHANG',
        '--out',
        out,
      ],
      {
        env: { ...process.env, ...masterKeyEnv, BLUETILL_CARD_PIN: '4455' },
      },
    );
    expect(issued.stdout).toContain('679999*********0076');
    expect(issued.stdout).not.toContain('6799990100000000076');
    expect(statSync(out).mode & 0o077).toBe(0); // secret material: owner only

    const file = JSON.parse(readFileSync(out, 'utf8')) as { personalizationKey: string };
    const blank = new EmvCard(new Uint8Array(Buffer.from(file.personalizationKey, 'base64')));
    await virtual.insert(blank);
    const written = await run(process.execPath, [
      phoneCli,
      'card',
      'write',
      out,
      '--reader',
      virtual.readerName,
      '--timeout',
      '10000',
    ]);
    expect(written.stdout).toMatch(/card written and read back: 679999\*+0076/);
    expect(blank.personalized).toBe(true);

    const read = await run(process.execPath, [
      phoneCli,
      'card',
      'read',
      '--reader',
      virtual.readerName,
      '--json',
      '--timeout',
      '10000',
    ]);
    expect(JSON.parse(read.stdout)).toEqual({
      cardNumber: '679999*********0076',
      expiry: '2912',
      cardholderName: 'ZOE ZHANG',
      panSequence: 1,
      signedUnpredictableNumber: true,
    });
  });

  it('refuses to take the PIN as missing, and says why (exit 2)', async () => {
    await expect(
      run(
        process.execPath,
        [
          backendCli,
          'card',
          'issue',
          '--dir',
          dir,
          '--id',
          'x',
          '--pan',
          '6799990100000000084',
          '--expiry',
          '2912',
          '--name',
          'X',
          '--out',
          join(dir, 'x.json'),
        ],
        { env: { ...process.env, ...masterKeyEnv, BLUETILL_CARD_PIN: '' } },
      ),
    ).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('BLUETILL_CARD_PIN'),
    });
  });
});
