import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { printerFromSpec } from './printer-from-spec';
import { PrinterError } from './receipt-printer';

describe('receipt printers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bluetill-printer-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('file: appends each receipt', async () => {
    const path = join(dir, 'out.escpos');
    const p = printerFromSpec(`file:${path}`)!;
    await p.print(Uint8Array.of(1, 2));
    await p.print(Uint8Array.of(3));
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    expect(p.sink).toBe(`file:${path}`);
  });

  it('tcp: sends the bytes to a raw port (a real socket on 127.0.0.1:0)', async () => {
    const got: Buffer[] = [];
    const server = createServer((s) => s.on('data', (d) => got.push(d)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await printerFromSpec(`tcp:127.0.0.1:${port}`)!.print(Uint8Array.of(0x1b, 0x40));
    await new Promise((r) => setTimeout(r, 50));
    server.close();
    expect([...Buffer.concat(got)]).toEqual([0x1b, 0x40]);
  });

  it('tcp: an unreachable printer is a PrinterError, and bad specs are refused', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));
    await expect(printerFromSpec(`tcp:127.0.0.1:${port}`)!.print(Uint8Array.of(1))).rejects.toMatchObject({
      code: 'unreachable',
    });
    expect(() => printerFromSpec('lpt1')).toThrow(PrinterError);
    expect(printerFromSpec('none')).toBeNull();
  });
});
