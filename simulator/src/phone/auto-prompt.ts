/** A shopper that types a PIN and accepts (or checks) the basket, for tests, the demo and fleets. */
import type { Item, Money } from '@bluetill/protocol';
import type { Prompt } from '@bluetill/phone-agent';

export interface AutoPromptOptions {
  readonly pin: string;
  /** Accept only this total (minor units); by default accepts whatever the till shows. */
  readonly expectTotalMinor?: number;
  readonly onStep?: (step: string) => void;
  /** A shopper who takes their time: the basket is confirmed only once this settles. */
  readonly confirmWhen?: Promise<unknown>;
}

export class AutoPrompt implements Prompt {
  merchantName = '';
  shownBasket: { items: readonly Item[]; total: Money } | null = null;
  readonly steps: string[] = [];

  constructor(private readonly o: AutoPromptOptions) {}

  progress(step: string): void {
    this.steps.push(step);
    this.o.onStep?.(step);
  }
  merchant(name: string): void {
    this.merchantName = name;
  }
  async pin(): Promise<string> {
    return this.o.pin;
  }
  async confirm(b: { merchantName: string; items: readonly Item[]; total: Money }): Promise<boolean> {
    this.shownBasket = { items: b.items, total: b.total };
    await this.o.confirmWhen;
    return this.o.expectTotalMinor === undefined || this.o.expectTotalMinor === b.total.minor;
  }
}
