import { describe, expect, it } from 'vitest';
import {
  intervalUnits,
  mergeShaping,
  rssiAtDistance,
  validateControllerProfile,
  validateShaping,
} from './shaping';
import { RadioError } from './radio-error';

describe('shaping', () => {
  it('connection interval is on the 1.25 ms grid within 7.5 ms .. 4 s (Vol 6, Part B, 4.5.1)', () => {
    expect(intervalUnits(30)).toBe(24);
    expect(intervalUnits(7.5)).toBe(6);
    expect(intervalUnits(1)).toBe(6);
    expect(intervalUnits(4000)).toBe(3200);
    expect(intervalUnits(9000)).toBe(3200);
  });

  it('rejects out-of-range values with a typed error naming the field', () => {
    expect(() => validateShaping({ connectionIntervalMs: 5 })).toThrowError(RadioError);
    expect(() => validateShaping({ lossRate: 1.5 })).toThrowError(/lossRate/);
    expect(() => validateShaping({ llPayloadBytes: 300 })).toThrowError(/llPayloadBytes/);
    expect(() => validateShaping({ connectionIntervalMs: 4000, lossRate: 0.2, latencyMs: 5 })).not.toThrow();
    expect(() => validateShaping({ connectFailRate: -0.1 })).toThrowError(/connectFailRate/);
    expect(() => validateShaping({ rssiUnavailable: 'yes' as unknown as boolean })).toThrowError(
      /rssiUnavailable/,
    );
    expect(() => validateShaping({ connectFailRate: 0.3, rssiUnavailable: true })).not.toThrow();
  });

  it('controller profiles: ACL buffer length 27..251, count 1..255, first handle 1..0x0EFF', () => {
    expect(() =>
      validateControllerProfile({ aclBufferLength: 192, aclBuffers: 1, firstHandle: 0x41 }),
    ).not.toThrow();
    expect(() => validateControllerProfile({ aclBufferLength: 26 })).toThrowError(/aclBufferLength/);
    expect(() => validateControllerProfile({ aclBuffers: 0 })).toThrowError(/aclBuffers/);
    expect(() => validateControllerProfile({ firstHandle: 0 })).toThrowError(/firstHandle/);
    expect(() => validateControllerProfile({ firstHandle: 0x0f00 })).toThrowError(/firstHandle/);
  });

  it('later layers override earlier ones; undefined leaves a value alone', () => {
    const s = mergeShaping(
      { connectionIntervalMs: 50, lossRate: 0.1 },
      { connectionIntervalMs: undefined, lossRate: 0 },
    );
    expect(s.connectionIntervalMs).toBe(50);
    expect(s.lossRate).toBe(0);
    expect(s.packetsPerEvent).toBe(6);
  });

  it('RSSI falls 6 dB per doubling of distance and stays in the HCI range', () => {
    expect(rssiAtDistance(1)).toBe(-59);
    expect(rssiAtDistance(2)).toBe(-65);
    expect(rssiAtDistance(10)).toBe(-79);
    expect(rssiAtDistance(1e9)).toBe(-127);
  });
});
