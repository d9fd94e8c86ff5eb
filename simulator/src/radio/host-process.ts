/**
 * Launches a host stack (bleno or noble script) in a child Node process with tsx, so each host
 * has its own bindings singleton and its own event loop. The child gets an IPC channel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the folder whose node_modules holds tsx). */
export const repoRoot = (): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'node_modules', 'tsx'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('tsx not found above simulator/src/radio');
    dir = up;
  }
  return dir;
};

export interface SpawnHostOptions {
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Forward the child's stdout/stderr to ours, prefixed. Default: only stderr. */
  readonly echo?: 'all' | 'stderr' | 'none';
  readonly label?: string;
  /** IPC message encoding; 'advanced' (structured clone) keeps Uint8Arrays, Maps, … Default 'json'. */
  readonly serialization?: 'json' | 'advanced';
}

/** `node --import tsx <entry> ...args` with stdio pipes and IPC. */
export const spawnHost = (entry: string, options: SpawnHostOptions = {}): ChildProcess => {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...(options.args ?? [])], {
    cwd: repoRoot(),
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: options.serialization ?? 'json',
  });
  const label = options.label ?? entry.split('/').pop();
  const echo = options.echo ?? 'stderr';
  const forward = (s: NodeJS.ReadableStream | null, out: NodeJS.WriteStream): void => {
    s?.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line) out.write(`[${label}] ${line}\n`);
    });
  };
  if (echo === 'all') forward(child.stdout, process.stdout);
  else child.stdout?.resume();
  if (echo !== 'none') forward(child.stderr, process.stderr);
  else child.stderr?.resume();
  return child;
};
