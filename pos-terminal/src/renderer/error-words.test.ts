import { describe, expect, it } from 'vitest';
import { ApiError } from '../common/ipc/till-api';
import { API_ERROR_WORDS, errorText } from './error-words';

describe("the words for the till API's errors", () => {
  it('have a sentence for every code, and never show the code itself', () => {
    for (const [code, words] of Object.entries(API_ERROR_WORDS)) {
      const text = words('basket B-0002 is not waiting');
      expect(text, code).not.toContain(code);
      expect(text.length, code).toBeGreaterThan(10);
      expect(text[0], code).toBe(text[0]!.toUpperCase());
    }
  });

  it("show the host's message for people, and hide what is not for them", () => {
    expect(
      errorText(new ApiError('conflict', 'basket B-0002 is not waiting (a phone has it, or it is paid)')),
    ).toBe('Basket B-0002 is not waiting (a phone has it, or it is paid)');
    expect(errorText(Object.assign(new Error('no phone 11#10 is connected'), { code: 'not_found' }))).toBe(
      'No phone 11#10 is connected',
    ); // Electron's preload
    expect(errorText(new ApiError('internal', 'TypeError: x is undefined at Till.charge'))).not.toContain(
      'TypeError',
    );
    expect(errorText(new ApiError('unknown_channel', 'no channel "basket:frobnicate"'))).toBe(
      'This screen is older than the till: reload the page',
    );
    expect(errorText(new TypeError("Cannot read properties of undefined (reading 'lines')"))).not.toContain(
      'undefined',
    );
    expect(errorText(Object.assign(new Error('x'), { code: 'toString' }))).not.toContain('x');
  });
});
