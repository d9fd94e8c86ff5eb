import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Till } from './till';
import { BackendError, type BackendClient } from './ports/backend-client';
import type { BlePeripheral } from './ports/ble-peripheral';
import type { Journal } from './ports/journal';

const peripheral: BlePeripheral = { start: async () => undefined, onConnect: () => undefined, stop: async () => undefined };
const journal = { unresolved: () => [], forBasket: () => [] } as unknown as Journal;

function till(getSettlement: BackendClient['getSettlement']): Till {
  const backend = { getSettlement } as unknown as BackendClient;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return new Till({
    terminalId: 'T-1', merchantId: 'M-1', counterName: 'C', currency: 'EUR',
    identity: { terminalKey: privateKey, terminalCertificate: new Uint8Array(), merchantName: 'Shop' },
    peripheral, backend, journal, resolveEveryMs: 0,
  });
}

describe('Till.probeBackend', () => {
  it('is true when the network answers (not found is an answer), false on a BackendError', async () => {
    const asked: string[] = [];
    expect(await till(async (id) => (asked.push(id), null)).probeBackend()).toBe(true);
    expect(asked).toEqual(['T-1-probe']);
    expect(await till(async () => Promise.reject(new BackendError('unavailable', 'down'))).probeBackend()).toBe(false);
    await expect(till(async () => Promise.reject(new TypeError('bug'))).probeBackend()).rejects.toThrow(TypeError);
  });
});

describe('Till.info', () => {
  it('names the terminal, merchant, counter and currency', () => {
    expect(till(async () => null).info()).toEqual({ terminalId: 'T-1', merchantId: 'M-1', merchantName: 'Shop', counterName: 'C', currency: 'EUR' });
  });
});
