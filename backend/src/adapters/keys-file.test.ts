/**
 * keys.json at rest: sealed under the master key (AES-256-GCM, versioned envelope, key id, AAD
 * naming the file's purpose). No key material is readable in the file; a wrong, missing or
 * malformed master key, an altered file or an old plaintext file is refused with a typed error.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createKeyMaterial, type KeyMaterial } from '../admin/key-material';
import { seedDemo } from '../admin/demo-seed';
import { SoftwareKeyStore } from './key-store.file';
import { KeyStoreError } from './key-store-error';
import { readKeysFile, rotateKeysFile, sealKeyMaterial, writeKeysFile, type KeysEnvelope } from './keys-file';
import { MasterKey, masterKeyFromEnv } from './master-key';

const dir = mkdtempSync(join(tmpdir(), 'bluetill-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every secret in the material: PEM private keys and each symmetric key (base64 and hex). */
function secretsOf(m: KeyMaterial): string[] {
  const symmetric = [
    m.lookupKey,
    m.dataKey,
    m.pinVerifierKey,
    m.emv.acMasterKeys.tdes,
    m.emv.acMasterKeys.aes,
    m.emv.personalizationMasterKey,
  ];
  const pems = [
    m.root.privatePem,
    m.acquirer.privatePem,
    m.pinKey.privatePem,
    m.receiptKey.privatePem,
    m.emv.caPrivatePem,
    m.emv.issuerPrivatePem,
  ];
  return [
    ...symmetric,
    ...symmetric.map((k) => Buffer.from(k, 'base64').toString('hex')),
    ...pems.map((p) => p.split('\n')[1]!),
  ];
}

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KeyStoreError);
    return (e as KeyStoreError).code;
  }
  throw new Error('did not throw');
};

describe('keys.json encrypted at rest', () => {
  it('seedDemo writes keys.json with no key material in clear (0600), and it opens with the master key only', async () => {
    const master = MasterKey.generate();
    const seedDir = mkdtempSync(join(dir, 'seed-'));
    const seed = await seedDemo(seedDir, [], [], { masterKey: master });
    const text = readFileSync(seed.keysPath, 'utf8');
    expect(statSync(seed.keysPath).mode & 0o777).toBe(0o600);
    expect(text).not.toMatch(/-----BEGIN|PRIVATE KEY/);
    const material = readKeysFile(seed.keysPath, master);
    for (const s of secretsOf(material)) expect(text).not.toContain(s);
    const envelope = JSON.parse(text) as KeysEnvelope;
    expect(Object.keys(envelope).sort()).toEqual([
      'alg',
      'ciphertext',
      'format',
      'kid',
      'nonce',
      'tag',
      'version',
    ]);
    expect(envelope).toMatchObject({ format: 'bluetill-keys', version: 1, alg: 'A256GCM', kid: master.id });
    expect(text).not.toContain(master.toBase64());

    // The key store opens it and works; a wrong master key refuses.
    const keys = SoftwareKeyStore.fromFile(seed.keysPath, master);
    expect(keys.decryptPan(keys.encryptPan('6799990100000000019'))).toBe('6799990100000000019');
    expect(codeOf(() => SoftwareKeyStore.fromFile(seed.keysPath, MasterKey.generate()))).toBe(
      'master_key_wrong',
    );
  });

  it('uses a fresh nonce on every write (same material, same key: different ciphertext)', () => {
    const master = MasterKey.generate();
    const m = createKeyMaterial();
    const a = sealKeyMaterial(m, master);
    const b = sealKeyMaterial(m, master);
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.ciphertext).not.toBe(b.ciphertext);
  });

  it('refuses an altered file (ciphertext, tag, or a key id forged to match) as keys_file_corrupt or master_key_wrong', () => {
    const master = MasterKey.generate();
    const path = join(dir, 'tamper.json');
    const env = writeKeysFile(path, createKeyMaterial(), master);
    const flip = (s: string) => {
      const b = Buffer.from(s, 'base64');
      b[0]! ^= 1;
      return b.toString('base64');
    };
    for (const altered of [
      { ...env, ciphertext: flip(env.ciphertext) },
      { ...env, tag: flip(env.tag) },
      { ...env, nonce: flip(env.nonce) },
    ]) {
      writeFileSync(path, JSON.stringify(altered));
      expect(codeOf(() => readKeysFile(path, master))).toBe('keys_file_corrupt');
    }
    // Another key's envelope relabelled with this key's id: the AAD and the key both differ.
    const other = sealKeyMaterial(createKeyMaterial(), MasterKey.generate());
    writeFileSync(path, JSON.stringify({ ...other, kid: master.id }));
    expect(codeOf(() => readKeysFile(path, master))).toBe('keys_file_corrupt');
    writeFileSync(path, JSON.stringify(other));
    expect(codeOf(() => readKeysFile(path, master))).toBe('master_key_wrong');
  });

  it('refuses a plaintext keys.json of the old format, a non-JSON file and a missing file', () => {
    const master = MasterKey.generate();
    const path = join(dir, 'plain.json');
    writeFileSync(path, JSON.stringify(createKeyMaterial()));
    expect(codeOf(() => readKeysFile(path, master))).toBe('keys_file_invalid');
    writeFileSync(path, 'not json');
    expect(codeOf(() => readKeysFile(path, master))).toBe('keys_file_invalid');
    expect(codeOf(() => readKeysFile(join(dir, 'none.json'), master))).toBe('keys_file_missing');
  });

  it('rotates to a new master key: the same material, the old key refused', () => {
    const a = MasterKey.generate();
    const b = MasterKey.generate();
    const path = join(dir, 'rotate.json');
    const material = createKeyMaterial();
    writeKeysFile(path, material, a);
    expect(rotateKeysFile(path, a, b)).toEqual({ from: a.id, to: b.id });
    expect(readKeysFile(path, b)).toEqual(material);
    expect(codeOf(() => readKeysFile(path, a))).toBe('master_key_wrong');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(codeOf(() => writeKeysFile(path, material, b, { exclusive: true }))).toBe('keys_file_exists');
  });
});

describe('MasterKey', () => {
  it('comes from the environment: missing → master_key_missing, not 32 bytes of base64 → master_key_invalid', () => {
    const k = MasterKey.generate();
    expect(masterKeyFromEnv('BLUETILL_MASTER_KEY', { BLUETILL_MASTER_KEY: k.toBase64() }).id).toBe(k.id);
    expect(codeOf(() => masterKeyFromEnv('BLUETILL_MASTER_KEY', {}))).toBe('master_key_missing');
    expect(codeOf(() => masterKeyFromEnv('BLUETILL_MASTER_KEY', { BLUETILL_MASTER_KEY: ' ' }))).toBe(
      'master_key_missing',
    );
    expect(
      codeOf(() =>
        masterKeyFromEnv('BLUETILL_MASTER_KEY', { BLUETILL_MASTER_KEY: Buffer.alloc(16).toString('base64') }),
      ),
    ).toBe('master_key_invalid');
    expect(
      codeOf(() => masterKeyFromEnv('BLUETILL_MASTER_KEY', { BLUETILL_MASTER_KEY: 'not base64!' })),
    ).toBe('master_key_invalid');
  });

  it('never shows its bytes when logged or serialized; error messages carry the key id only', () => {
    const k = MasterKey.generate();
    const b64 = k.toBase64();
    const hex = Buffer.from(b64, 'base64').toString('hex');
    for (const shown of [inspect(k), String(k), JSON.stringify({ k }), inspect({ nested: { k } })]) {
      expect(shown).toContain(k.id);
      expect(shown).not.toContain(b64);
      expect(shown).not.toContain(hex);
    }
    const path = join(dir, 'msg.json');
    writeKeysFile(path, createKeyMaterial(), k);
    const other = MasterKey.generate();
    let message = '';
    try {
      readKeysFile(path, other);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(k.id);
    expect(message).toContain(other.id);
    expect(message).not.toContain(other.toBase64());
    expect(message).not.toContain(k.toBase64());
  });
});
