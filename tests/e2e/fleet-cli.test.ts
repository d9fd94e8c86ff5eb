/**
 * The testers' fleet command as they run it: `npm run fleet -- --phones 5 --json` in its own
 * process (radio process, real noble/bleno stacks, real backend), and its summary.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const fleetMain = join(root, 'simulator', 'src', 'fleet', 'main.ts');

function fleet(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fleetMain, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
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
}

describe('bluetill-fleet', () => {
  it('--phones 5 --json: five approved, latency percentiles and throughput', { timeout: 120_000 }, async () => {
    const r = await fleet(['--phones', '5', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as Summary;
    expect(s).toMatchObject({ phones: 5, approved: 5, declined: {}, failed: 0, unknown: 0, unexpected: 0 });
    expect(s.latencyMs.p50).toBeGreaterThan(0);
    expect(s.latencyMs.p50).toBeLessThanOrEqual(s.latencyMs.p90);
    expect(s.latencyMs.p90).toBeLessThanOrEqual(s.latencyMs.p99);
    expect(s.paymentsPerSecond).toBeGreaterThan(0);
  });

  it('--wrong-pin-every 2: every second phone is declined pin_incorrect, as expected (exit 0), text summary', { timeout: 120_000 }, async () => {
    const r = await fleet(['--phones', '4', '--wrong-pin-every', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/approved +2\n/);
    expect(r.stdout).toMatch(/declined +2 \(pin_incorrect: 2\)/);
    expect(r.stdout).toMatch(/latency ms +p50 [\d.]+ +p90 [\d.]+ +p99 [\d.]+/);
  });

  it('a bad count is a usage error (exit 2)', { timeout: 30_000 }, async () => {
    const r = await fleet(['--phones', 'many']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--phones must be a whole number');
  });
});
