import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Trace } from './trace';

describe('Trace', () => {
  it('writes one line per packet with direction, label and hex, to memory and to <dir>/<device>.hci.log', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hci-trace-'));
    const t = new Trace('phone 1', performance.now(), { dir, keep: 2 });
    t.log('H>C', 'CMD reset', Buffer.from('01030c00', 'hex'));
    t.log('C>H', 'EVT cmd-complete', Buffer.from('040e0401030c00', 'hex'));
    t.log('---', 'note');
    expect(t.snapshot()).toHaveLength(2);
    const file = readFileSync(join(dir, 'phone_1.hci.log'), 'utf8').trim().split('\n');
    expect(file).toHaveLength(3);
    expect(file[0]).toMatch(/^\+\s+\d+\.\d{3} H>C CMD reset 01030c00$/);
    expect(file[1]).toMatch(/C>H EVT cmd-complete 040e0401030c00$/);
  });

  it('is silent without options', () => {
    const t = new Trace('x', 0, undefined);
    t.log('H>C', 'CMD reset', Buffer.from('01030c00', 'hex'));
    expect(t.snapshot()).toEqual([]);
  });
});
