/**
 * What the cashier reads when the till's API answers with an error: the host's message where it is
 * written for people (a conflict, a refusal, the network down), a sentence where it is not (a
 * screen older than the till, a failure inside the till). Never a code, never a stack.
 */
import type { ApiErrorCode } from '../common/ipc/channels';

const asSentence = (m: string): string =>
  m === '' ? 'The till refused that' : m[0]!.toUpperCase() + m.slice(1);

export const API_ERROR_WORDS: Readonly<Record<ApiErrorCode, (message: string) => string>> = {
  bad_request: (m) => `The till could not take that: ${m}`,
  too_large: () => 'That is more than the till takes at once',
  unknown_channel: () => 'This screen is older than the till: reload the page',
  not_found: asSentence,
  conflict: asSentence,
  unavailable: asSentence,
  internal: () => 'The till could not do that and changed nothing: try again, or call support',
  unauthenticated: asSentence,
  approval_required: asSentence,
  rate_limited: asSentence,
};

/** The words for an error thrown by a TillApi call (an ApiError, or in Electron an Error with its `code`). */
export function errorText(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : '';
  if (typeof code === 'string' && Object.hasOwn(API_ERROR_WORDS, code))
    return API_ERROR_WORDS[code as ApiErrorCode](message);
  return 'Something went wrong on this screen and nothing was sent: try again, or reload the page';
}
