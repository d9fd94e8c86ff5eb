/**
 * The playground's folder (`.data/playground/` by default): the seeded backend, the till's data,
 * the keys file (0600: the backend's master key and the till key, kept so the next start reuses
 * the folder; never printed) and, while it runs, the control file that the phones command reads.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MasterKey } from '@bluetill/backend';
import { generateTillKey } from '@bluetill/pos-terminal';

/** Extra cards the playground issues for more than three phones (card-fleet-001 …, PIN 1000 + n). */
export const PLAYGROUND_FLEET_CARDS = 20;

/** What the running playground tells the phones command (control.json, removed when it stops). */
export interface PlaygroundControl {
  readonly pid: number;
  /** The radio's address: HTTP on loopback; POST /phone-devices adds a phone's controller, DELETE /phone-devices/NAME removes it. */
  readonly radio: string;
  /** The till's cashier UI and API (WebSocket /api). */
  readonly till: string;
  /** The till's API token file (0600), for ringing up through the API. */
  readonly tokenFile: string;
  readonly counterName: string;
  readonly cardsDir: string;
  readonly trustFile: string;
}

export interface PlaygroundKeys {
  readonly masterKey: MasterKey;
  readonly tillKey: string;
}

/** The playground folder: BLUETILL_PLAYGROUND_DIR, or .data/playground where the user stands (npm sets INIT_CWD). */
export const playgroundDir = (env: NodeJS.ProcessEnv = process.env): string =>
  resolve(env.INIT_CWD ?? process.cwd(), env.BLUETILL_PLAYGROUND_DIR ?? join('.data', 'playground'));

export const controlFile = (dir: string): string => join(dir, 'control.json');
export const keysFile = (dir: string): string => join(dir, 'playground-keys.json');

/** The folder's keys, made (and written 0600) on first use. */
export function loadOrCreateKeys(dir: string): { keys: PlaygroundKeys; created: boolean } {
  const file = keysFile(dir);
  if (existsSync(file)) {
    const k = JSON.parse(readFileSync(file, 'utf8')) as { masterKey: string; tillKey: string };
    return {
      keys: { masterKey: MasterKey.fromBase64(k.masterKey, file), tillKey: k.tillKey },
      created: false,
    };
  }
  const keys = { masterKey: MasterKey.generate(), tillKey: generateTillKey() };
  writeFileSync(
    file,
    JSON.stringify({ masterKey: keys.masterKey.toBase64(), tillKey: keys.tillKey }) + '\n',
    { mode: 0o600, flag: 'wx' },
  );
  chmodSync(file, 0o600);
  return { keys, created: true };
}

export function readControl(dir: string): PlaygroundControl {
  const file = controlFile(dir);
  if (!existsSync(file)) throw new Error(`no playground running in ${dir} (start one with: make till)`);
  const control = JSON.parse(readFileSync(file, 'utf8')) as PlaygroundControl;
  try {
    process.kill(control.pid, 0);
  } catch {
    throw new Error(`the playground in ${dir} is not running any more (start it with: make till)`);
  }
  return control;
}
