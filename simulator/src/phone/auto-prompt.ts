/** A shopper that types a PIN and accepts (or checks) the basket, for tests, the demo and fleets. */
import type { Item, Money } from '@bluetill/protocol';
import type { Prompt } from '@bluetill/phone-agent';

/**
 * How long a human takes at the two places the phone waits for them. Default 0 (tests); a fleet
 * that measures what a shopper waits on can give realistic ones (`HUMAN_SHOPPER`).
 */
export interface ShopperDelays {
  /** From the PIN prompt to the last digit typed. */
  readonly pinTypingMs?: number;
  /** From the basket on the screen to the shopper's confirmation. */
  readonly basketReadingMs?: number;
}

/** A shopper who types a 4-digit PIN in about 2 s and glances at the basket for about 1.5 s. */
export const HUMAN_SHOPPER: Required<ShopperDelays> = { pinTypingMs: 2_000, basketReadingMs: 1_500 };

export interface AutoPromptOptions extends ShopperDelays {
  readonly pin: string;
  /** Accept only this total (minor units); by default accepts whatever the till shows. */
  readonly expectTotalMinor?: number;
  readonly onStep?: (step: string) => void;
  /** A shopper who takes their time: the basket is confirmed only once this settles. */
  readonly confirmWhen?: Promise<unknown>;
}

const sleep = (ms: number) => (ms > 0 ? new Promise<void>((r) => setTimeout(r, ms)) : Promise.resolve());

export class AutoPrompt implements Prompt {
  merchantName = '';
  shownBasket: { items: readonly Item[]; total: Money } | null = null;
  readonly steps: string[] = [];
  /** performance.now() when the PIN prompt came up and when its last digit was typed. */
  pinAskedAt?: number;
  pinEnteredAt?: number;
  /** performance.now() when the basket reached the screen (AuthResult) and when the shopper confirmed. */
  basketShownAt?: number;
  confirmedAt?: number;

  constructor(private readonly o: AutoPromptOptions) {}

  progress(step: string): void {
    this.steps.push(step);
    this.o.onStep?.(step);
  }
  merchant(name: string): void {
    this.merchantName = name;
  }
  async pin(): Promise<string> {
    this.pinAskedAt = performance.now();
    await sleep(this.o.pinTypingMs ?? 0);
    this.pinEnteredAt = performance.now();
    return this.o.pin;
  }
  async confirm(b: { merchantName: string; items: readonly Item[]; total: Money }): Promise<boolean> {
    this.basketShownAt = performance.now();
    this.shownBasket = { items: b.items, total: b.total };
    await Promise.all([this.o.confirmWhen, sleep(this.o.basketReadingMs ?? 0)]);
    this.confirmedAt = performance.now();
    return this.o.expectTotalMinor === undefined || this.o.expectTotalMinor === b.total.minor;
  }

  /** The shopper's own time so far (typing the PIN, reading the basket), ms. */
  shopperMs(): number {
    const pin =
      this.pinAskedAt !== undefined && this.pinEnteredAt !== undefined
        ? this.pinEnteredAt - this.pinAskedAt
        : 0;
    const basket =
      this.basketShownAt !== undefined && this.confirmedAt !== undefined
        ? this.confirmedAt - this.basketShownAt
        : 0;
    return pin + basket;
  }
}
