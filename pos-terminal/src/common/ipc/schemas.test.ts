import { describe, expect, it } from 'vitest';
import { parseRequest } from './schemas';

describe('request schemas', () => {
  it('take the session ids the BLE adapter gives phones (handle#count), for cancel and assign', () => {
    expect(parseRequest('session:cancel', { sessionId: '11#10' })).toEqual({
      ok: true,
      value: { sessionId: '11#10' },
    });
    expect(parseRequest('basket:assign', { basketId: 'B-3', sessionId: '64#2' }).ok).toBe(true);
    expect(parseRequest('session:cancel', { sessionId: 'mem-1' }).ok).toBe(true);
  });

  it('still refuse ids with other characters, in words', () => {
    const bad = parseRequest('session:cancel', { sessionId: '11#10 <b>' });
    expect(bad.ok).toBe(false);
    expect(bad.ok ? '' : bad.message).toContain('letters, digits');
    expect(parseRequest('session:cancel', { sessionId: '' }).ok).toBe(false);
    expect(parseRequest('session:cancel', { sessionId: 'x'.repeat(129) }).ok).toBe(false);
  });
});
