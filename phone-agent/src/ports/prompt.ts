import type { Item, Money } from '@bluetill/protocol';

/**
 * The shopper's side of the screen. The CLI implements it with a terminal UI; testers and the
 * demo use an automatic one.
 *
 * @example
 *   prompt.progress('Reading card');
 *   const pin = await prompt.pin();           // masked input; never logged
 *   if (!(await prompt.confirm({ merchantName, items, total }))) cancel();
 */
export interface Prompt {
  progress(step: string): void;
  /** The till proved who it is: shown before any card data leaves the phone. */
  merchant(name: string): void;
  pin(): Promise<string>;
  confirm(basket: { merchantName: string; items: readonly Item[]; total: Money }): Promise<boolean>;
}
