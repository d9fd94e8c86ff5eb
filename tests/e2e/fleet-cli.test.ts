/**
 * The testers' fleet command as they run it: `npm run fleet -- --phones 5 --json` in its own
 * process (radio process, real noble/bleno stacks, real backend), and its summary.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const fleetMain = join(root, 'simulator', 'src', 'fleet', 'main.ts');

function fleet(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fleetMain, ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

interface Summary {
  phones: number;
  approved: number;
  declined: Record<string, number>;
  failed: number;
  unknown: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  paymentsPerSecond: number;
  unexpected: number;
  connectFailed: number;
  errors: string[];
  radio?: {
    conditions: string;
    seed: number;
    failedToEstablish: number;
    aclOverflows: number;
    aclMaxInFlight: number;
  };
  arrivals?: { perSecond: number; seed: number; lastArrivalS: number };
  steps?: Record<
    'arrivalToBasketMs' | 'cardReadMs' | 'pinToAuthorizedMs' | 'confirmToReceiptMs' | 'machineMs',
    { p50: number; p99: number }
  >;
}

describe('bluetill-fleet', () => {
  it(
    '--phones 5 --json: five approved, latency percentiles and throughput',
    { timeout: 120_000 },
    async () => {
      const r = await fleet(['--phones', '5', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const s = JSON.parse(r.stdout) as Summary;
      expect(s).toMatchObject({ phones: 5, approved: 5, declined: {}, failed: 0, unknown: 0, unexpected: 0 });
      expect(s.latencyMs.p50).toBeGreaterThan(0);
      expect(s.latencyMs.p50).toBeLessThanOrEqual(s.latencyMs.p90);
      expect(s.latencyMs.p90).toBeLessThanOrEqual(s.latencyMs.p99);
      expect(s.paymentsPerSecond).toBeGreaterThan(0);
    },
  );

  it(
    '--wrong-pin-every 2: every second phone is declined pin_incorrect, as expected (exit 0), text summary',
    { timeout: 120_000 },
    async () => {
      const r = await fleet(['--phones', '4', '--wrong-pin-every', '2']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/approved +2\n/);
      expect(r.stdout).toMatch(/declined +2 \(pin_incorrect: 2\)/);
      expect(r.stdout).toMatch(/latency ms +p50 [\d.]+ +p90 [\d.]+ +p99 [\d.]+/);
    },
  );

  it(
    '--harsh-radio: connections failing (0x3E), RSSI n/a, one 192-byte ACL buffer everywhere; every phone paid or said it could not connect',
    { timeout: 180_000 },
    async () => {
      // Seed 7: the radio's first two connection draws are 0.01 and 0.06, so at least two attempts fail.
      const r = await fleet([
        '--phones',
        '5',
        '--harsh-radio',
        '--connect-fail-rate',
        '0.4',
        '--radio-seed',
        '7',
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const s = JSON.parse(r.stdout) as Summary;
      expect(r.stderr).toContain(
        'radio: connections fail (0x3E) at 0.4, RSSI not available, ACL buffers 1 x 192 bytes (seed 7)',
      );
      expect(s.unknown).toBe(0);
      expect(s.unexpected).toBe(0);
      expect(s.approved + s.connectFailed).toBe(5);
      expect(s.failed).toBe(s.connectFailed);
      for (const e of s.errors) expect(e).toMatch(/connect_failed: .*failed to be established \(HCI 0x3E\)/);
      // The conditions were real: attempts failed and were retried, and no host (noble on the phones,
      // bleno with the till's ACL scheduler) overflowed the single buffer.
      expect(s.radio).toMatchObject({ seed: 7, aclOverflows: 0, aclMaxInFlight: 1 });
      expect(s.radio?.failedToEstablish).toBeGreaterThanOrEqual(2);
      expect(s.approved).toBeGreaterThanOrEqual(1);
    },
  );

  it('a bad radio knob is a usage error (exit 2)', { timeout: 30_000 }, async () => {
    const r = await fleet(['--phones', '1', '--acl-buffer', '300x1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--acl-buffer must be LENxN');
    const rate = await fleet(['--phones', '1', '--connect-fail-rate', '2']);
    expect(rate.code).toBe(2);
    expect(rate.stderr).toContain('--connect-fail-rate must be a number 0..1');
  });

  it(
    '--rate 5 --phones 3 --seed 9: open loop, the seed printed, progress on stderr, step figures, a log per phone, no Node warnings',
    { timeout: 120_000 },
    async () => {
      const logDir = mkdtempSync(join(tmpdir(), 'bluetill-fleet-logs-'));
      try {
        const r = await fleet([
          '--rate',
          '5',
          '--phones',
          '3',
          '--seed',
          '9',
          '--card-profile',
          'instant',
          '--log-dir',
          logDir,
          '--json',
        ]);
        expect(r.code, r.stderr).toBe(0);
        const s = JSON.parse(r.stdout) as Summary;
        expect(s).toMatchObject({
          phones: 3,
          approved: 3,
          failed: 0,
          unexpected: 0,
          arrivals: { perSecond: 5, seed: 9 },
        });
        expect(r.stderr).toContain('repeat with --seed 9');
        expect(r.stderr).toMatch(/3\/3 arrived, 3 paid, 0 declined, 0 failed/);
        expect(r.stderr).not.toMatch(/Warning/);
        const st = s.steps!;
        expect(st.arrivalToBasketMs.p50).toBeGreaterThan(0);
        expect(st.pinToAuthorizedMs.p50).toBeGreaterThan(0);
        expect(st.confirmToReceiptMs.p50).toBeGreaterThan(0);
        expect(st.machineMs.p99).toBeLessThanOrEqual(s.latencyMs.p99);
        expect(readdirSync(logDir).sort()).toEqual([
          'card-fleet-001.log',
          'card-fleet-002.log',
          'card-fleet-003.log',
        ]);
        expect(readFileSync(join(logDir, 'card-fleet-001.log'), 'utf8')).toMatch(
          /Reading card\n[\s\S]*approved\n/,
        );
      } finally {
        rmSync(logDir, { recursive: true, force: true });
      }
    },
  );

  it('--duration without --rate is a usage error (exit 2)', { timeout: 30_000 }, async () => {
    const r = await fleet(['--duration', '5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--duration and --seed go with --rate');
  });

  it('a bad count is a usage error (exit 2)', { timeout: 30_000 }, async () => {
    const r = await fleet(['--phones', 'many']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--phones must be a whole number');
  });
});
