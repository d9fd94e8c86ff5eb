import { describe, expect, it } from 'vitest';
import { InProcessCardReader, type InProcessCard } from './card-reader.in-process';

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

function echoCard(): InProcessCard & { powered: boolean } {
  return {
    powered: false,
    powerOn() {
      this.powered = true;
      return h('3B00');
    },
    powerOff() {
      this.powered = false;
    },
    process: (c) => new Uint8Array([...c.subarray(0, 2), 0x90, 0x00]),
  };
}

describe('InProcessCardReader', () => {
  it('powers the card, exchanges APDUs and records a transcript', async () => {
    const card = echoCard();
    const reader = new InProcessCardReader(card);
    expect(Buffer.from((await reader.waitForCard({ timeoutMs: 10 })).atr).toString('hex')).toBe('3b00');
    expect(card.powered).toBe(true);
    expect(Buffer.from(await reader.transmit(h('80CA9F3600'))).toString('hex')).toBe('80ca9000');
    expect(reader.transcript()).toBe('ATR 3B00\n=> 80CA9F3600\n<= 80CA9000\n');
    await reader.close();
    expect(card.powered).toBe(false);
  });
  it('no card: waitForCard rejects with no_card; removed card: transmit rejects with card_removed', async () => {
    const card = echoCard();
    const reader = new InProcessCardReader(card, { present: false });
    await expect(reader.waitForCard({ timeoutMs: 5 })).rejects.toMatchObject({ code: 'no_card' });
    reader.insertCard();
    await reader.waitForCard({ timeoutMs: 5 });
    reader.removeCard();
    expect(card.powered).toBe(false);
    await expect(reader.transmit(h('00'))).rejects.toMatchObject({ code: 'card_removed' });
  });
  it('a card that takes time: the answer comes after the card says its command took (never before)', async () => {
    const card = { ...echoCard(), lastCommandMs: () => 40 };
    const reader = new InProcessCardReader(card);
    await reader.waitForCard({ timeoutMs: 10 });
    const t0 = performance.now();
    expect(Buffer.from(await reader.transmit(h('80CA9F3600'))).toString('hex')).toBe('80ca9000');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(39); // setTimeout never fires early by a whole ms
    await reader.close();
  });
});
