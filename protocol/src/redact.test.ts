import { describe, expect, it } from 'vitest';
import { maskPan, redact } from './redact';

describe('redact', () => {
  it('masks the PAN and hides PINs, fingerprint templates and knowledge secrets, however deep', () => {
    const v = redact({
      card: { pan: '6799990100000000019', expiry: '2812' },
      verification: { method: 'knowledge', secret: 'green heron' },
      enrol: { biometricTemplate: Int8Array.of(1, 2, 3), knowledgeSecret: 'rue des lilas 7', pin: '1234' },
      list: [{ template: new Uint8Array(64) }],
    });
    expect(v).toEqual({
      card: { pan: maskPan('6799990100000000019'), expiry: '2812' },
      verification: { method: 'knowledge', secret: '[redacted]' },
      enrol: { biometricTemplate: '[redacted]', knowledgeSecret: '[redacted]', pin: '[redacted]' },
      list: [{ template: '[redacted]' }],
    });
    expect(JSON.stringify(v)).not.toMatch(/green heron|lilas|1234|0000000019/);
  });
});
