import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { NonInteractivePrompt, pinFromEnv, pinFromFd } from './prompt.non-interactive';
import { progressLine, PromptError, TerminalPrompt } from './prompt.terminal';

const basket = {
  merchantName: 'Corner Shop',
  items: [{ sku: 'm', name: 'Milk', quantity: 2, unitPriceMinor: 129 }],
  total: { minor: 258, currency: 'EUR' },
};

/** A terminal made of streams: what is typed, and everything shown. */
function terminal() {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = '';
  output.on('data', (d: Buffer) => (shown += d.toString()));
  return { input, output, shown: () => shown };
}

describe('TerminalPrompt', () => {
  it('takes the PIN masked: the digits never reach the screen', async () => {
    const t = terminal();
    const prompt = new TerminalPrompt({ input: t.input, output: t.output });
    const pin = prompt.pin();
    for (const ch of '4821') t.input.write(ch);
    t.input.write('\r');
    await expect(pin).resolves.toBe('4821');
    expect(t.shown()).toContain('PIN');
    expect(t.shown()).toContain('****');
    expect(t.shown()).not.toContain('4821');
  });

  it('shows items and sum, and pays only on yes', async () => {
    const t = terminal();
    const prompt = new TerminalPrompt({ input: t.input, output: t.output });
    const answer = prompt.confirm(basket);
    t.input.write('y\r');
    await expect(answer).resolves.toBe(true);
    expect(t.shown()).toContain('2 x Milk');
    expect(t.shown()).toContain('Total  €2.58');
    // A fresh terminal: inquirer ends the output stream it was given (process.stderr never ends).
    const t2 = terminal();
    const no = new TerminalPrompt({ input: t2.input, output: t2.output }).confirm(basket);
    t2.input.write('n\r');
    await expect(no).resolves.toBe(false);
  });

  it('--yes: shows the basket and does not ask', async () => {
    const t = terminal();
    await expect(
      new TerminalPrompt({ input: t.input, output: t.output, assumeYes: true }).confirm(basket),
    ).resolves.toBe(true);
    expect(t.shown()).toContain('Total  €2.58');
    expect(t.shown()).not.toContain('Pay ');
  });

  it('progress lines: ongoing steps end in an ellipsis, finished ones do not', () => {
    expect(progressLine('Reading card')).toBe('Reading card...');
    expect(progressLine('Card read: 679999*********0019')).toBe('Card read: 679999*********0019');
  });
});

describe('non-interactive PIN sources', () => {
  it('reads the PIN once from a descriptor, dropping the newline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pin-'));
    try {
      writeFileSync(join(dir, 'pin'), '2580\n');
      const fd = openSync(join(dir, 'pin'), 'r');
      try {
        await expect(new NonInteractivePrompt({ pin: pinFromFd(fd), output: null }).pin()).resolves.toBe(
          '2580',
        );
      } finally {
        closeSync(fd);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a missing or malformed PIN without echoing it', async () => {
    await expect(pinFromEnv('X', {})()).rejects.toMatchObject({ code: 'pin_unavailable' });
    const bad = pinFromEnv('X', { X: '12ab34' })();
    await expect(bad).rejects.toBeInstanceOf(PromptError);
    await expect(bad).rejects.toSatisfy((e: Error) => !e.message.includes('12ab34'));
    await expect(pinFromFd(9999)()).rejects.toMatchObject({ code: 'pin_unavailable' });
  });

  it('accepts the basket and says so', async () => {
    const t = terminal();
    await expect(
      new NonInteractivePrompt({ pin: async () => '1234', output: t.output }).confirm(basket),
    ).resolves.toBe(true);
    expect(t.shown()).toContain('(accepted: --yes)');
  });
});
