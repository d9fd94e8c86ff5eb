/**
 * Demo data: one merchant with its terminal, and a handful of cards that exercise each outcome.
 * The PANs are test numbers on a private BIN (679999, the demo issuer's identifier); PINs are
 * for the demo only. Each card is also issued as an EMV card (cards/<id>.json); Alice's and Bob's
 * cards also hold a fingerprint template (demoFingerprint of their first name, lower case) and a
 * knowledge secret ('green heron', 'rue des lilas 7') for the card-verified methods.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { luhnCheckDigit } from './card-validation';
import { demoFingerprint } from '@bluetill/protocol';
import { join } from 'node:path';
import { describeStore, openRegistryAdmin, type StoreSpec } from '../adapters/store-spec';
import { SoftwareKeyStore } from '../adapters/key-store.file';
import { writeKeysFile } from '../adapters/keys-file';
import type { MasterKey } from '../adapters/master-key';
import {
  DEMO_KEY_BITS,
  createKeyMaterial,
  issueTerminalIdentity,
  trustAnchors,
  type EmvKeyBits,
  type TerminalIdentity,
  type TrustAnchors,
} from './key-material';
import { registerCard, registerMerchantCard, type NewCard, type NewMerchantCard } from './registry';
import { issueCard, issueMerchantCard, writePersonalizationFile } from './card-issuing';
import { createTlsAuthority, issueTerminalTls } from './tls-issuing';
import type { PemPair } from './tls-material';

export const DEMO_MERCHANT = { id: 'M-0001', name: 'Corner Shop', currency: 'EUR' } as const;
export const DEMO_TERMINAL_ID = 'T-0001';

export const DEMO_CARDS: readonly NewCard[] = [
  {
    id: 'card-alice',
    pan: '6799990100000000019',
    expiry: '2812',
    cardholderName: 'ALICE ANDERSON',
    pin: '1234',
    creditLimitMinor: 500_00,
    currency: 'EUR',
    biometricTemplate: demoFingerprint('alice'),
    knowledgeSecret: 'green heron',
  },
  {
    id: 'card-bob',
    pan: '6799990100000000027',
    expiry: '2906',
    cardholderName: 'BOB BROWN',
    pin: '2580',
    creditLimitMinor: 300_00,
    currency: 'EUR',
    biometricTemplate: demoFingerprint('bob'),
    knowledgeSecret: 'rue des lilas 7',
  },
  {
    id: 'card-chen',
    pan: '6799990100000000035',
    expiry: '2703',
    cardholderName: 'CHEN CHAO',
    pin: '9876',
    creditLimitMinor: 1_000_00,
    currency: 'EUR',
  },
  {
    id: 'card-dana',
    pan: '6799990100000000043',
    expiry: '2812',
    cardholderName: 'DANA DIAZ',
    pin: '1111',
    creditLimitMinor: 20_00,
    currency: 'EUR',
  },
  {
    id: 'card-eve',
    pan: '6799990100000000050',
    expiry: '2812',
    cardholderName: 'EVE EVANS',
    pin: '4321',
    creditLimitMinor: 500_00,
    currency: 'EUR',
    status: 'blocked',
  },
  {
    id: 'card-finn',
    pan: '6799990100000000068',
    expiry: '2401',
    cardholderName: 'FINN FISCHER',
    pin: '4321',
    creditLimitMinor: 500_00,
    currency: 'EUR',
  },
];

/** A second merchant (inactive), for refusals. */
export const DEMO_INACTIVE_MERCHANT = {
  id: 'M-0002',
  name: 'Closed Shop',
  currency: 'EUR',
  status: 'inactive',
} as const;

/**
 * Merchant IC cards (claims 2, 7, 8) on the demo issuer's range (679999 09…: the issuer certificate names 679999, so a merchant card's PAN starts with it too): one for the
 * corner shop, one blocked, one of the inactive merchant.
 */
export const DEMO_MERCHANT_CARDS: readonly NewMerchantCard[] = [
  {
    id: 'mcard-corner',
    pan: '6799990900000000012',
    expiry: '3012',
    merchantId: 'M-0001',
    name: 'CORNER SHOP',
  },
  {
    id: 'mcard-blocked',
    pan: '6799990900000000020',
    expiry: '3012',
    merchantId: 'M-0001',
    name: 'CORNER SHOP',
    status: 'blocked',
  },
  {
    id: 'mcard-closed',
    pan: '6799990900000000038',
    expiry: '3012',
    merchantId: 'M-0002',
    name: 'CLOSED SHOP',
  },
];

export { luhnCheckDigit } from './card-validation';

/** Extra cards for fleets of simulated phones: card-fleet-001 …, PIN 1000 + n, limit 1,000.00. */
export function fleetCards(count: number): NewCard[] {
  return Array.from({ length: count }, (_, i) => {
    const n = i + 1;
    const body = `679999020${String(n).padStart(9, '0')}`;
    return {
      id: `card-fleet-${String(n).padStart(3, '0')}`,
      pan: body + luhnCheckDigit(body),
      expiry: '2912',
      cardholderName: `FLEET SHOPPER ${n}`,
      pin: String(1000 + n),
      creditLimitMinor: 1_000_00,
      currency: 'EUR',
    };
  });
}

export interface SeededBackend {
  /** The SQLite file, or (PostgreSQL) the store's URL with its password hidden. */
  readonly dbPath: string;
  readonly store: StoreSpec;
  readonly keysPath: string;
  readonly terminal: TerminalIdentity;
  readonly trust: TrustAnchors;
  /** cards/<card id>.json: each demo card's personalization, for the simulated phones' card writers. */
  readonly cardsDir: string;
  /** tls/: backend CA, server certificate, one client certificate per terminal (see adapters/tls-files.ts). */
  readonly tlsDir: string;
}

export interface SeedOptions {
  /** keys.json is sealed under it (the CLI takes it from BLUETILL_MASTER_KEY; demos and tests generate one per run). */
  readonly masterKey: MasterKey;
  readonly serverNames?: readonly string[];
  /** EMV key sizes; default DEMO_KEY_BITS (quick to make and to check; a seed is a demo). */
  readonly emvKeyBits?: EmvKeyBits;
  /** Where the registry goes; default the SQLite file backend.sqlite in the folder. */
  readonly store?: StoreSpec;
}

/** What seed writes in its folder: all of it new, so a folder that holds any of it is refused. */
const SEEDED_FILES = [
  'keys.json',
  'backend.sqlite',
  'backend.sqlite-wal',
  'tls',
  'cards',
  'trust.json',
  `terminal-${DEMO_TERMINAL_ID}.json`,
] as const;

/** Seed refuses a folder that already holds a card company: it never replaces keys or data. */
export class SeedError extends Error {
  override readonly name = 'SeedError';
  readonly code = 'already_seeded';
  constructor(
    readonly dir: string,
    readonly present: readonly string[],
  ) {
    super(
      `${dir} already holds ${present.join(', ')}: seed creates a new card company and never replaces keys or data; give it an empty or new folder${present.some((p) => p.startsWith('a registry')) ? ' and an empty store' : ''}`,
    );
  }
}

/**
 * Creates keys, database and demo registry in `dir` (refused, with nothing touched, when `dir`
 * already holds any of it); writes keys.json (encrypted under the master
 * key), trust.json, terminal-T-0001.json, and tls/ (backend CA, server certificate, a client
 * certificate per terminal).
 */
export async function seedDemo(
  dir: string,
  extraTerminals: readonly string[],
  extraCards: readonly NewCard[],
  o: SeedOptions,
): Promise<SeededBackend> {
  const present = SEEDED_FILES.filter((f) => existsSync(join(dir, f)));
  if (present.length > 0) throw new SeedError(dir, present);
  const cards = [...DEMO_CARDS, ...extraCards];
  const keysPath = join(dir, 'keys.json');
  const tlsDir = join(dir, 'tls');
  const dbPath = join(dir, 'backend.sqlite');
  const store: StoreSpec = o.store ?? { kind: 'sqlite', path: dbPath };
  const admin = await openRegistryAdmin(store);
  let ca: PemPair | undefined;
  let material;
  try {
    const held = await admin.counts();
    if (held.merchants + held.terminals + held.cards + held.merchantCards > 0)
      throw new SeedError(dir, [
        `a registry in ${describeStore(store)} (${held.merchants} merchant(s), ${held.terminals} terminal(s), ${held.cards} card(s))`,
      ]);
    material = createKeyMaterial(Date.now(), { emvKeyBits: o.emvKeyBits ?? DEMO_KEY_BITS });
    writeKeysFile(keysPath, material, o.masterKey);
    const keys = new SoftwareKeyStore(material);
    await admin.addMerchant(DEMO_MERCHANT);
    const terminals = [DEMO_TERMINAL_ID, ...extraTerminals];
    for (const id of terminals) await admin.addTerminal({ id, merchantId: DEMO_MERCHANT.id });
    for (const card of cards) await registerCard(admin, keys, card);
    await admin.addMerchant(DEMO_INACTIVE_MERCHANT);
    for (const mc of DEMO_MERCHANT_CARDS) await registerMerchantCard(admin, keys, mc);
    ca = await createTlsAuthority(tlsDir, o.serverNames ? { serverNames: o.serverNames } : {});
    for (const id of terminals)
      await issueTerminalTls(tlsDir, admin, ca, { terminalId: id, merchantId: DEMO_MERCHANT.id });
  } finally {
    await admin.close();
  }
  const terminal = issueTerminalIdentity(material, {
    terminalId: DEMO_TERMINAL_ID,
    merchantId: DEMO_MERCHANT.id,
    merchantName: DEMO_MERCHANT.name,
  });
  writeFileSync(join(dir, `terminal-${DEMO_TERMINAL_ID}.json`), JSON.stringify(terminal, null, 2), {
    mode: 0o600,
  });
  const trust: TrustAnchors = { ...trustAnchors(material), backendTlsCa: ca!.cert };
  writeFileSync(join(dir, 'trust.json'), JSON.stringify(trust, null, 2));
  const cardsDir = join(dir, 'cards');
  mkdirSync(cardsDir, { recursive: true });
  for (const card of cards)
    writePersonalizationFile(join(cardsDir, `${card.id}.json`), card.id, issueCard(material, card));
  for (const mc of DEMO_MERCHANT_CARDS)
    writePersonalizationFile(join(cardsDir, `${mc.id}.json`), mc.id, issueMerchantCard(material, mc));
  return {
    dbPath: store.kind === 'sqlite' ? store.path : describeStore(store),
    store,
    keysPath,
    terminal,
    trust,
    cardsDir,
    tlsDir,
  };
}
