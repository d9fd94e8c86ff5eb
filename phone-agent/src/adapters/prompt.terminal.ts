/**
 * The Prompt port on a terminal: progress and the basket on stderr (stdout stays free for the
 * result and `--json`), the PIN typed with masked input (@inquirer/password), the basket
 * confirmed with a yes/no question (@inquirer/confirm). `assumeYes` skips the question;
 * `pin` replaces the typed PIN by another source (an automation's env variable or descriptor).
 *
 * The PIN is returned to the payment flow only: it is never written, logged or kept here.
 *
 * @example
 *   const prompt = new TerminalPrompt({ assumeYes: false });
 *   await pay({ link, card, prompt, trust });
 */
import confirm from '@inquirer/confirm';
import password from '@inquirer/password';
import { formatMoney, type Item, type Money } from '@bluetill/protocol';
import type { Prompt } from '../ports/prompt';

/** PINs are 4 to 12 digits (ISO 9564). */
export const PIN_PATTERN = /^\d{4,12}$/;

export class PromptError extends Error {
  override readonly name = 'PromptError';
  constructor(
    readonly code: 'pin_invalid' | 'pin_unavailable' | 'aborted',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface TerminalPromptOptions {
  /** Skip the confirmation of items and sum (`--yes`). */
  readonly assumeYes?: boolean;
  /** Where the PIN comes from instead of the keyboard. */
  readonly pin?: () => Promise<string>;
  /** Where messages go; default process.stderr. */
  readonly output?: NodeJS.WritableStream;
  readonly input?: NodeJS.ReadableStream;
}

/** The basket as lines of text: each item, then the sum. */
export function basketLines(b: { items: readonly Item[]; total: Money }): string[] {
  const money = (minor: number) => formatMoney({ minor, currency: b.total.currency });
  const lines = b.items.map((i) => `  ${i.quantity} x ${i.name}  ${money(i.quantity * i.unitPriceMinor)}`);
  return [...lines, `  Total  ${formatMoney(b.total)}`];
}

/** A step as a line: an ongoing step gets an ellipsis, a finished one (`Card read: …`) does not. */
export const progressLine = (step: string): string =>
  step.includes(': ') || /[.!?]$/.test(step) ? step : `${step}...`;

export class TerminalPrompt implements Prompt {
  private readonly out: NodeJS.WritableStream;

  constructor(private readonly o: TerminalPromptOptions = {}) {
    this.out = o.output ?? process.stderr;
  }

  private context() {
    return { output: this.out, ...(this.o.input ? { input: this.o.input } : {}) };
  }

  progress(step: string): void {
    this.out.write(`${progressLine(step)}\n`);
  }

  merchant(name: string): void {
    this.out.write(`Till verified: paying ${name}\n`);
  }

  async pin(): Promise<string> {
    if (this.o.pin) return this.o.pin();
    try {
      return await password(
        { message: 'PIN', mask: '*', validate: (v) => PIN_PATTERN.test(v) || 'a PIN is 4 to 12 digits' },
        this.context(),
      );
    } catch (cause) {
      throw new PromptError('aborted', 'PIN entry aborted', { cause });
    }
  }

  /** The knowledge secret (claim 17), typed masked; checked by the card, never kept here. */
  async secret(): Promise<string> {
    try {
      return await password(
        { message: 'Secret', mask: '*', validate: (v) => v.length > 0 || 'type your secret' },
        this.context(),
      );
    } catch (cause) {
      throw new PromptError('aborted', 'secret entry aborted', { cause });
    }
  }

  async confirm(b: { merchantName: string; items: readonly Item[]; total: Money }): Promise<boolean> {
    this.out.write(`${b.merchantName}:\n${basketLines(b).join('\n')}\n`);
    if (this.o.assumeYes) return true;
    try {
      return await confirm(
        { message: `Pay ${formatMoney(b.total)} to ${b.merchantName}?`, default: false },
        this.context(),
      );
    } catch (cause) {
      throw new PromptError('aborted', 'confirmation aborted', { cause });
    }
  }
}
