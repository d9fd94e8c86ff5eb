/** `serve` as a process: real adapters against a seeded backend, no radio (`--ble none`). */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '@bluetill/simulator';
import { generateTillKey } from '../../pos-terminal/src/adapters/journal/journal-key';
import { WsTestClient } from '../../pos-terminal/src/server/ws-test-client';
import { writeTestCashiersFile } from '../../pos-terminal/src/host/test-cashiers';

describe('serve CLI', () => {
  let world: World;
  let data: string;
  beforeAll(async () => {
    world = await startWorld();
    data = mkdtempSync(join(tmpdir(), 'bluetill-cli-'));
  });
  afterAll(async () => {
    await world?.close();
    rmSync(data, { recursive: true, force: true });
  });

  it('composes a till with the real adapters and serves it until SIGTERM', async () => {
    const cli = join(import.meta.dirname, '../../pos-terminal/src/server/cli.ts');
    const cashiers = await writeTestCashiersFile(join(data, 'cashiers.json'));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        cli,
        '--terminal',
        join(world.dir, 'terminal-T-0001.json'),
        '--backend',
        world.backend.address,
        '--ble',
        'none',
        '--port',
        '0',
        '--data',
        data,
        '--counter',
        'Counter 7',
        '--cashiers',
        cashiers,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BLUETILL_TILL_KEY: generateTillKey() } },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (out += String(d)));
    const url = await new Promise<string>((resolve, reject) => {
      const t = setInterval(() => {
        const m = /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) resolve(m[1]!);
        if (child.exitCode !== null) reject(new Error(out));
      }, 50);
      setTimeout(() => (clearInterval(t), reject(new Error(`no url: ${out}`))), 20_000);
    });
    await expect(WsTestClient.open(url)).rejects.toThrow(/401/); // a script without the token
    const tokenFile = join(data, 'api-token');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const client = await WsTestClient.withToken(url, readFileSync(tokenFile, 'utf8').trim());
    expect((await client.call('till:snapshot', {})).counterName).toBe('Counter 7');
    // The first probe may have answered before this client connected: ask until it has.
    await expect
      .poll(async () => (await client.call('till:snapshot', {})).backend.health, { timeout: 10_000 })
      .toBe('reachable');
    expect((await client.call('catalog:search', { query: '' })).length).toBeGreaterThanOrEqual(20);
    // Offline mode is on by default: the till fetched the card company's signed limits (trust.json beside the terminal file).
    expect(out).toMatch(/offline mode on/);
    await expect
      .poll(async () => (await client.call('till:snapshot', {})).backend.offline?.available, {
        timeout: 10_000,
      })
      .toBe(true);
    client.close();
    child.kill('SIGTERM');
    expect(await new Promise((r) => child.once('exit', r))).toBe(0);
  });

  it('refuses a bad --offline value and a missing trust file before opening anything', async () => {
    const cashiers = await writeTestCashiersFile(join(data, 'cashiers-2.json'));
    const fresh = join(data, 'not-created');
    for (const [extra, message] of [
      [['--offline', 'maybe'], /--offline must be on or off, not "maybe"/],
      [['--trust', join(data, 'no-trust.json')], /offline mode: cannot read the trust file .*no-trust\.json/],
    ] as const) {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          join(import.meta.dirname, '../../pos-terminal/src/server/cli.ts'),
          '--terminal',
          join(world.dir, 'terminal-T-0001.json'),
          '--backend',
          world.backend.address,
          '--ble',
          'none',
          '--data',
          fresh,
          '--cashiers',
          cashiers,
          ...extra,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BLUETILL_TILL_KEY: generateTillKey() } },
      );
      let err = '';
      child.stderr.on('data', (d) => (err += String(d)));
      expect(await new Promise((r) => child.once('exit', r))).toBe(1);
      expect(err).toMatch(message);
      expect(existsSync(fresh)).toBe(false);
    }
  }, 90_000);

  it('explains its arguments', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, '../../pos-terminal/src/server/cli.ts'),
        '--ble',
        'bluetooth',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (d) => (err += String(d)));
    expect(await new Promise((r) => child.once('exit', r))).toBe(2);
    expect(err).toMatch(/usage: serve --terminal FILE/);
  });
});
