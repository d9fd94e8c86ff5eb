/** Time, injected so that expiry rules can be tested. @example const t = clock.now(); */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };
