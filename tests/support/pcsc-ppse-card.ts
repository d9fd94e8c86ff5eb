import type { CardApplication } from '../../simulator/src/card/card-application';
import { contactlessAtr } from '../../simulator/src/card/vpcd/contactless-atr';

/**
 * A test-double contactless EMV card for PC/SC tests. It knows:
 *   SELECT PPSE (00 A4 04 00 0E "2PAY.SYS.DDF01" 00) → FCI ‖ 9000
 *   GET CHALLENGE (00 84 00 00 08)                      → 61 08, then GET RESPONSE (00 C0 00 00 08) → 8 bytes ‖ 9000
 *   GET DATA 9F36 (80 CA 9F 36 xx)                      → 6C 05 unless Le = 05, then 9F 36 02 00 2A ‖ 9000
 *   anything else                                       → 6D 00
 * Synthetic data only (test AID A0000000031010, no PAN).
 */
export const PPSE_AID = Buffer.from('2PAY.SYS.DDF01', 'ascii');
export const SELECT_PPSE = hex('00 A4 04 00 0E 32 50 41 59 2E 53 59 53 2E 44 44 46 30 31 00');
export const TEST_AID = hex('A0 00 00 00 03 10 10');
export const PPSE_CARD_ATR = contactlessAtr(hex('80'));
export const PPSE_FCI = tlv(
  0x6f,
  tlv(0x84, PPSE_AID),
  tlv(0xa5, tlv(0xbf0c, tlv(0x61, tlv(0x4f, TEST_AID), tlv(0x87, hex('01'))))),
);

export class PpseTestCard implements CardApplication {
  powerOns = 0;
  commands = 0;
  private selected = false;
  private pendingResponse: Uint8Array | undefined;

  powerOn(): Uint8Array {
    this.powerOns += 1;
    this.selected = false;
    this.pendingResponse = undefined;
    return PPSE_CARD_ATR;
  }

  powerOff(): void {
    this.selected = false;
  }

  process(command: Uint8Array): Uint8Array {
    this.commands += 1;
    const c = Buffer.from(command);
    if (c.equals(Buffer.from(SELECT_PPSE))) {
      this.selected = true;
      return withSw(PPSE_FCI, 0x9000);
    }
    if (c.equals(Buffer.from(hex('00 84 00 00 08')))) {
      this.pendingResponse = hex('01 02 03 04 05 06 07 08');
      return Uint8Array.of(0x61, 0x08);
    }
    if (c.subarray(0, 4).equals(Buffer.from(hex('00 C0 00 00'))) && this.pendingResponse) {
      const data = this.pendingResponse;
      this.pendingResponse = undefined;
      return withSw(data, 0x9000);
    }
    if (c.length === 5 && c.subarray(0, 4).equals(Buffer.from(hex('80 CA 9F 36')))) {
      return c[4] === 0x05 ? withSw(hex('9F 36 02 00 2A'), 0x9000) : Uint8Array.of(0x6c, 0x05);
    }
    return Uint8Array.of(0x6d, 0x00);
  }

  get ppseSelected(): boolean {
    return this.selected;
  }
}

export function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

function withSw(data: Uint8Array, sw: number): Uint8Array {
  return Uint8Array.of(...data, sw >> 8, sw & 0xff);
}

/** BER-TLV with a 1- or 2-byte tag and a short (< 128) length: enough for this FCI. */
function tlv(tag: number, ...values: Uint8Array[]): Uint8Array {
  const value = Buffer.concat(values);
  if (value.length > 127) throw new RangeError('test TLV too long');
  const tagBytes = tag > 0xff ? [tag >> 8, tag & 0xff] : [tag];
  return Uint8Array.of(...tagBytes, value.length, ...value);
}
