/**
 * Why the card company refuses a till (PERMISSION_DENIED on the tills' listener): a reason code in
 * the `bluetill-refusal` trailer, so the till can say it in words without reading the details text.
 */
export const REFUSAL_TRAILER_KEY = 'bluetill-refusal';

export const TERMINAL_REFUSAL_REASONS = [
  'certificate_revoked',
  'certificate_unknown',
  'certificate_other_terminal',
  'certificate_no_terminal',
  'no_certificate',
] as const;
export type TerminalRefusalReason = (typeof TERMINAL_REFUSAL_REASONS)[number];

export const isTerminalRefusalReason = (v: unknown): v is TerminalRefusalReason =>
  typeof v === 'string' && (TERMINAL_REFUSAL_REASONS as readonly string[]).includes(v);

/** The reason in a few words, for a status line ("the card company refused this till (certificate revoked)"). */
export const TERMINAL_REFUSAL_TEXT: Readonly<Record<TerminalRefusalReason, string>> = {
  certificate_revoked: 'certificate revoked',
  certificate_unknown: 'certificate unknown to the card company',
  certificate_other_terminal: 'certificate issued to another terminal',
  certificate_no_terminal: 'certificate names no terminal',
  no_certificate: 'no client certificate',
};

/**
 * A backend node that is draining (stopping: SIGTERM) refuses new calls with UNAVAILABLE and this
 * trailer set to `1`: the call reached no use case, so a till sends it to another node, whatever
 * the method.
 */
export const DRAINING_TRAILER_KEY = 'bluetill-draining';
