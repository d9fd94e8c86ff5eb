/**
 * keys.json at rest: the KeyMaterial sealed under the master key.
 *
 *   {
 *     "format": "bluetill-keys", "version": 1, "alg": "A256GCM",
 *     "kid":   key id of the master key (MasterKey.id, 16 hex),
 *     "nonce": 12 random bytes, base64 (fresh on every write),
 *     "ciphertext", "tag": AES-256-GCM over JSON(KeyMaterial), base64
 *   }
 *
 * The additional authenticated data is `bluetill-keys/v1 key-material <kid>`: it names the file's
 * purpose, so a ciphertext sealed for something else under the same key does not open as keys,
 * and binds the version and key id. Nothing in the file is in clear except these header fields.
 * Written 0600, through a temporary file and a rename (a crash leaves the old file or the new).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { KeyMaterial } from './key-material-format';
import { KeyStoreError } from './key-store-error';
import type { MasterKey } from './master-key';

export const KEYS_FILE_FORMAT = 'bluetill-keys';
export const KEYS_FILE_VERSION = 1;

export interface KeysEnvelope {
  readonly format: typeof KEYS_FILE_FORMAT;
  readonly version: typeof KEYS_FILE_VERSION;
  readonly alg: 'A256GCM';
  readonly kid: string;
  readonly nonce: string;
  readonly ciphertext: string;
  readonly tag: string;
}

const aad = (kid: string) =>
  Buffer.from(`${KEYS_FILE_FORMAT}/v${KEYS_FILE_VERSION} key-material ${kid}`, 'utf8');

export function sealKeyMaterial(material: KeyMaterial, master: MasterKey): KeysEnvelope {
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', master.bytes(), nonce);
  c.setAAD(aad(master.id));
  const ciphertext = Buffer.concat([c.update(JSON.stringify(material), 'utf8'), c.final()]);
  return {
    format: KEYS_FILE_FORMAT,
    version: KEYS_FILE_VERSION,
    alg: 'A256GCM',
    kid: master.id,
    nonce: nonce.toString('base64'),
    ciphertext: ciphertext.toString('base64'),
    tag: c.getAuthTag().toString('base64'),
  };
}

function parseEnvelope(text: string, where: string): KeysEnvelope {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new KeyStoreError('keys_file_invalid', `${where} is not JSON`, { cause: e });
  }
  const o = v as Partial<Record<keyof KeysEnvelope, unknown>> | null;
  if (typeof o !== 'object' || o === null || o.format !== KEYS_FILE_FORMAT) {
    throw new KeyStoreError(
      'keys_file_invalid',
      `${where} is not an encrypted keys file (a plaintext keys.json from an older version must be made again: "keys create" or "seed")`,
    );
  }
  if (o.version !== KEYS_FILE_VERSION || o.alg !== 'A256GCM')
    throw new KeyStoreError(
      'keys_file_invalid',
      `${where}: unsupported version ${String(o.version)} / alg ${String(o.alg)}`,
    );
  for (const f of ['kid', 'nonce', 'ciphertext', 'tag'] as const) {
    if (typeof o[f] !== 'string')
      throw new KeyStoreError('keys_file_invalid', `${where}: field ${f} missing`);
  }
  return o as KeysEnvelope;
}

export function openKeyMaterial(envelope: KeysEnvelope, master: MasterKey, where = 'keys file'): KeyMaterial {
  if (envelope.kid !== master.id) {
    throw new KeyStoreError(
      'master_key_wrong',
      `${where} is encrypted under master key ${envelope.kid}, not the one given (${master.id})`,
    );
  }
  const nonce = Buffer.from(envelope.nonce, 'base64');
  const tag = Buffer.from(envelope.tag, 'base64');
  if (nonce.length !== 12 || tag.length !== 16)
    throw new KeyStoreError('keys_file_invalid', `${where}: bad nonce or tag length`);
  let plain: Buffer;
  try {
    const d = createDecipheriv('aes-256-gcm', master.bytes(), nonce);
    d.setAAD(aad(envelope.kid));
    d.setAuthTag(tag);
    plain = Buffer.concat([d.update(Buffer.from(envelope.ciphertext, 'base64')), d.final()]);
  } catch (e) {
    throw new KeyStoreError(
      'keys_file_corrupt',
      `${where} does not authenticate under master key ${master.id} (altered or damaged)`,
      { cause: e },
    );
  }
  try {
    const material = JSON.parse(plain.toString('utf8')) as KeyMaterial;
    if (material.version !== 1) throw new Error(`key material version ${String(material.version)}`);
    return material;
  } catch (e) {
    throw new KeyStoreError('keys_file_invalid', `${where}: the decrypted key material is not readable`, {
      cause: e,
    });
  } finally {
    plain.fill(0);
  }
}

export function readKeysFile(path: string, master: MasterKey): KeyMaterial {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new KeyStoreError('keys_file_missing', `${path} cannot be read`, { cause: e });
  }
  return openKeyMaterial(parseEnvelope(text, path), master, path);
}

/** Seals and writes (0600, atomically). `exclusive`: refuse to replace an existing file. */
export function writeKeysFile(
  path: string,
  material: KeyMaterial,
  master: MasterKey,
  o: { exclusive?: boolean } = {},
): KeysEnvelope {
  if (o.exclusive && existsSync(path))
    throw new KeyStoreError(
      'keys_file_exists',
      `${path} exists (it is not replaced; use "keys rotate-master" to change the master key)`,
    );
  const envelope = sealKeyMaterial(material, master);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(envelope, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return envelope;
}

/** Re-encrypts the keys file under `next` (opening it with `current`); the key material is unchanged. */
export function rotateKeysFile(
  path: string,
  current: MasterKey,
  next: MasterKey,
): { from: string; to: string } {
  const material = readKeysFile(path, current);
  writeKeysFile(path, material, next);
  return { from: current.id, to: next.id };
}
