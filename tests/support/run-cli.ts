/**
 * Runs a CLI as automation does: its own process, no terminal (stdin closed), output collected,
 * an optional descriptor 3 (for `--pin-fd 3`, `--secret-fd 3`). PIN and secret variables of the
 * test process are cleared unless the caller sets them.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const root = resolve(import.meta.dirname, '..', '..');
/** The simulator's build of bluetill-phone: the same CLI, plus --card-file (a simulated EMV card). */
export const PHONE_SIM_CLI = join(root, 'simulator', 'bin', 'bluetill-phone-sim.mjs');
/** The shopper's bluetill-phone as shipped. */
export const PHONE_CLI = join(root, 'phone-agent', 'bin', 'bluetill-phone.mjs');

export function runCli(
  bin: string,
  args: readonly string[],
  o: { env?: Record<string, string>; fd3?: number; timeoutMs?: number } = {},
): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, BLUETILL_PIN: '', BLUETILL_SECRET: '', ...o.env },
      stdio: ['pipe', 'pipe', 'pipe', ...(o.fd3 !== undefined ? [o.fd3] : [])],
      timeout: o.timeoutMs ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin?.end();
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}
