import { describe, expect, it } from 'vitest';
import { H4Parser, encodeAcl, encodeCommand } from './h4';

// Bluetooth Core v5.4, Vol 4, Part A, 2 (UART transport: 1-byte packet indicator) and
// Part E, 5.4 (HCI command / ACL packet formats).
describe('H4Parser', () => {
  it('splits a command packet delivered one byte at a time', () => {
    const p = new H4Parser();
    const bytes = Buffer.from('01030c00', 'hex'); // HCI_Reset (OGF 0x03, OCF 0x0003)
    const out = [...bytes].flatMap((b) => p.push(Buffer.from([b])));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ kind: 'command', opcode: 0x0c03 });
    expect(p.pending).toBe(0);
  });

  it('yields several packets from one chunk, in order, and keeps a partial tail', () => {
    const p = new H4Parser();
    const chunk = Buffer.from('01010c08fffffbff07f8bf3d' + '010120085f00000000000000' + '010110', 'hex');
    const out = p.push(chunk);
    expect(out.map((x) => (x.kind === 'command' ? x.opcode : -1))).toEqual([0x0c01, 0x2001]);
    expect(p.pending).toBe(3);
    expect(p.push(Buffer.from('00', 'hex'))).toMatchObject([{ kind: 'command', opcode: 0x1001 }]);
  });

  it('decodes ACL handle, packet-boundary and broadcast flags (5.4.2)', () => {
    const p = new H4Parser();
    // handle 0x0042, PB=0b01 (continuation), BC=0, length 3
    const out = p.push(Buffer.from('024210030' + '0aabbcc', 'hex'));
    expect(out[0]).toMatchObject({ kind: 'acl', handle: 0x42, pb: 0b01, bc: 0 });
    expect(out[0]?.kind === 'acl' && out[0].data.toString('hex')).toBe('aabbcc');
  });

  it('reports an unknown indicator byte as garbage and resynchronises', () => {
    const p = new H4Parser();
    const out = p.push(Buffer.from('ff01030c00', 'hex'));
    expect(out.map((x) => x.kind)).toEqual(['garbage', 'command']);
  });

  it('encodes ACL and command packets byte-exactly', () => {
    expect(encodeAcl(0x0001, 0b10, Buffer.from('0102', 'hex')).toString('hex')).toBe('020120020001' + '02');
    expect(encodeCommand(0x0c03).toString('hex')).toBe('01030c00');
  });
});
