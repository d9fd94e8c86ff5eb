import { describe, expect, it } from 'vitest';
import { PhoneError } from './phone-error';

describe('PhoneError', () => {
  it("carries the till's error code as a field, not only in its text", () => {
    const e = new PhoneError('till_error', 'cvm_method_unknown: the CVM method is not one the till knows', {
      tillCode: 'cvm_method_unknown',
    });
    expect(e).toMatchObject({ name: 'PhoneError', code: 'till_error', tillCode: 'cvm_method_unknown' });
    expect(new PhoneError('timeout', 'the till did not answer').tillCode).toBeUndefined();
  });

  it('keeps its cause', () => {
    const cause = new Error('link gone');
    expect(new PhoneError('link_lost', 'connection to the till lost', { cause }).cause).toBe(cause);
    expect('cause' in new PhoneError('link_lost', 'x')).toBe(false);
  });
});
