/**
 * A software KeyStore whose material lives in keys.json, written by the admin tool and sealed at
 * rest under the master key (adapters/keys-file.ts). (An HSM-backed KeyStore implements the same
 * interface, and the master key then never leaves the HSM.)
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import {
  CardKeyCache,
  CardRecordsCache,
  IssuerKeyCache,
  keyAgreementOf,
  privateKeyFromPem,
  utf8,
} from '@bluetill/protocol';
import { nativeKeyAgreement, nativeSigner, nodeSigner } from './native-keys';
import type { KeyStore } from '../ports/key-store';
import { loadIssuer, type KeyMaterial } from './key-material-format';
import { readKeysFile } from './keys-file';
import type { MasterKey } from './master-key';
import type { AcAlgorithm, RsaPublicKey } from '@bluetill/protocol';

export class SoftwareKeyStore implements KeyStore {
  readonly pinKey;
  readonly receiptKey;
  private readonly lookupKey: Buffer;
  private readonly codeKey: Buffer;
  private readonly dataKey: Buffer;
  private readonly pinVerifierKey: Buffer;
  readonly caPublicKeys: ReadonlyMap<number, RsaPublicKey>;
  readonly issuerKeys = new IssuerKeyCache(1024);
  readonly cardRecords = new CardRecordsCache(4096);
  readonly cardKeys = new CardKeyCache(4096);
  readonly acMasterKeys: Readonly<Record<AcAlgorithm, Uint8Array>>;

  constructor(material: KeyMaterial) {
    const pinPrivateKey = privateKeyFromPem(material.pinKey.privatePem).privateKey;
    this.pinKey = {
      id: material.pinKey.id,
      privateKey: pinPrivateKey,
      certificate: Buffer.from(material.pinKey.certificate, 'base64'),
      agreement: nativeKeyAgreement(pinPrivateKey) ?? {
        kind: 'node' as const,
        ...keyAgreementOf(pinPrivateKey),
      },
    };
    const receiptPrivateKey = privateKeyFromPem(material.receiptKey.privatePem).privateKey;
    this.receiptKey = {
      id: material.receiptKey.id,
      privateKey: receiptPrivateKey,
      certificate: Buffer.from(material.receiptKey.certificate, 'base64'),
      signer: nativeSigner(receiptPrivateKey) ?? nodeSigner(receiptPrivateKey),
    };
    this.lookupKey = Buffer.from(material.lookupKey, 'base64');
    this.codeKey = Buffer.from(
      hkdfSync('sha256', this.lookupKey, new Uint8Array(0), 'bluetill/1 temporary code', 32),
    );
    this.dataKey = Buffer.from(material.dataKey, 'base64');
    this.pinVerifierKey = Buffer.from(material.pinVerifierKey, 'base64');
    const issuer = loadIssuer(material.emv);
    this.caPublicKeys = new Map([[issuer.ca.index, issuer.ca.publicKey]]);
    this.acMasterKeys = issuer.acMasterKeys;
  }

  /**
   * Opens the encrypted keys file with the master key. Throws KeyStoreError: `master_key_wrong`,
   * `keys_file_missing`, `keys_file_invalid`, `keys_file_corrupt`.
   */
  static fromFile(path: string, master: MasterKey): SoftwareKeyStore {
    return new SoftwareKeyStore(readKeysFile(path, master));
  }

  panHash(pan: string): string {
    return createHmac('sha256', this.lookupKey).update(pan).digest('hex');
  }

  codeHash(code: string): string {
    return createHmac('sha256', this.codeKey).update(code).digest('hex');
  }

  encryptPan(pan: string): Uint8Array {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.dataKey, iv);
    return Buffer.concat([iv, c.update(pan, 'utf8'), c.final(), c.getAuthTag()]);
  }

  decryptPan(blob: Uint8Array): string {
    const b = Buffer.from(blob);
    const d = createDecipheriv('aes-256-gcm', this.dataKey, b.subarray(0, 12));
    d.setAuthTag(b.subarray(b.length - 16));
    return Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]).toString('utf8');
  }

  pinVerifier(salt: Uint8Array, pin: string, panHash: string): Uint8Array {
    return new Uint8Array(
      createHmac('sha256', this.pinVerifierKey).update(salt).update(utf8(panHash)).update(utf8(pin)).digest(),
    );
  }
}
