/**
 * The Prompt port for automation (`--yes` with `BLUETILL_PIN` or `--pin-fd`): no questions, the
 * PIN from an environment variable or a file descriptor (a pipe the caller writes once), the
 * basket accepted. Progress goes to a writer (stderr) or nowhere.
 *
 * A PIN is never taken from a command-line argument: other users see those in `ps`.
 *
 * @example
 *   const prompt = new NonInteractivePrompt({ pin: pinFromFd(3) });   // bluetill-phone pay --yes --pin-fd 3 3<pin.txt
 */
import { readFileSync } from 'node:fs';
import type { Item, Money } from '@bluetill/protocol';
import type { Prompt } from '../ports/prompt';
import { basketLines, PIN_PATTERN, progressLine, PromptError } from './prompt.terminal';

const checked = (pin: string, from: string): string => {
  if (!PIN_PATTERN.test(pin))
    throw new PromptError('pin_invalid', `the PIN from ${from} is not 4 to 12 digits`);
  return pin;
};

/** Reads the PIN from an open file descriptor once (up to end of file; one trailing newline dropped). */
export function pinFromFd(fd: number): () => Promise<string> {
  return async () => {
    let text: string;
    try {
      text = readFileSync(fd, 'utf8');
    } catch (cause) {
      throw new PromptError('pin_unavailable', `could not read the PIN from file descriptor ${fd}`, {
        cause,
      });
    }
    return checked(text.replace(/\r?\n$/, ''), `file descriptor ${fd}`);
  };
}

/** The PIN from an environment variable (checked when asked for, not when read). */
export function pinFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): () => Promise<string> {
  return async () => {
    const v = env[name];
    if (v === undefined || v === '') throw new PromptError('pin_unavailable', `${name} is not set`);
    return checked(v, name);
  };
}

/**
 * The knowledge secret (claim 17) from a file descriptor or an environment variable, like the
 * PIN; one trailing newline dropped. The card checks it; it is never kept or logged here.
 */
export function secretFrom(
  source: { fd: number } | { env: string },
  env: NodeJS.ProcessEnv = process.env,
): () => Promise<string> {
  return async () => {
    let text: string | undefined;
    if ('fd' in source) {
      try {
        text = readFileSync(source.fd, 'utf8').replace(/\r?\n$/, '');
      } catch (cause) {
        throw new PromptError(
          'pin_unavailable',
          `could not read the secret from file descriptor ${source.fd}`,
          { cause },
        );
      }
    } else text = env[source.env];
    if (text === undefined || text === '')
      throw new PromptError(
        'pin_unavailable',
        `no secret: ${'fd' in source ? `file descriptor ${source.fd} was empty` : `${source.env} is not set`}`,
      );
    return text;
  };
}

export class NonInteractivePrompt implements Prompt {
  constructor(private readonly o: { pin: () => Promise<string>; output?: NodeJS.WritableStream | null }) {}

  private say(line: string): void {
    this.o.output?.write(`${line}\n`);
  }

  progress(step: string): void {
    this.say(progressLine(step));
  }

  merchant(name: string): void {
    this.say(`Till verified: paying ${name}`);
  }

  pin(): Promise<string> {
    return this.o.pin();
  }

  async confirm(b: { merchantName: string; items: readonly Item[]; total: Money }): Promise<boolean> {
    this.say(`${b.merchantName}:\n${basketLines(b).join('\n')}\n  (accepted: --yes)`);
    return true;
  }
}
