/**
 * bluetill-phone's exit codes, one meaning each, so scripts and testers can branch on them.
 *
 * | code | meaning |
 * | --- | --- |
 * | 0 | approved (pay); done (scan, card) |
 * | 1 | another error (a bug, or the card tools' reader failed) |
 * | 2 | wrong usage (bad option, unreadable trust file, no PIN source without a terminal) |
 * | 3 | declined, with the reason (pay) |
 * | 4 | failed or cancelled, nothing was charged (pay) |
 * | 5 | outcome unknown: the Payment left the phone and no answer came back, even after reconnecting (pay) |
 */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  declined: 3,
  notCharged: 4,
  unknown: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
