import { CardReaderError, type CardReader } from '../ports/card-reader';

/** What the in-process reader needs of a simulated card (structural: phone-agent does not import the simulator). */
export type InProcessCard = {
  powerOn(): Uint8Array;
  process(command: Uint8Array): Uint8Array;
  powerOff?(): void;
  /** A card that takes time: how long its last command took; the reader answers after it. */
  lastCommandMs?(): number;
};

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A CardReader that calls a simulated card directly. `removeCard()` / `insertCard()` model the
 * card leaving and entering the field; `transcript()` returns the exchanges as `=> …` / `<= …`
 * lines that the replay reader plays back. A card that takes time is waited for with `sleep`
 * (default a timer; a test passes a virtual clock's).
 */
export class InProcessCardReader implements CardReader {
  private present: boolean;
  private powered = false;
  private closed = false;
  private readonly lines: string[] = [];
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly card: InProcessCard,
    options: { present?: boolean; sleep?: (ms: number) => Promise<void> } = {},
  ) {
    this.present = options.present ?? true;
    this.sleep = options.sleep ?? realSleep;
  }

  async waitForCard(options: { timeoutMs: number }): Promise<{ atr: Uint8Array }> {
    if (this.closed) throw new CardReaderError('no_reader', 'reader closed');
    if (!this.present) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(options.timeoutMs, 10)));
      if (!this.present) throw new CardReaderError('no_card', 'no card in the field');
    }
    const atr = this.card.powerOn();
    this.powered = true;
    this.lines.push(`ATR ${hex(atr)}`);
    return { atr };
  }

  async transmit(command: Uint8Array): Promise<Uint8Array> {
    if (this.closed) throw new CardReaderError('no_reader', 'reader closed');
    if (!this.present || !this.powered)
      throw new CardReaderError('card_removed', 'no powered card in the field');
    const response = this.card.process(Uint8Array.from(command));
    this.lines.push(`=> ${hex(command)}`, `<= ${hex(response)}`);
    const ms = this.card.lastCommandMs?.() ?? 0;
    if (ms > 0) await this.sleep(ms);
    return response;
  }

  /** The card leaves the field: it loses power, the next transmit fails with card_removed. */
  removeCard(): void {
    this.present = false;
    this.powered = false;
    this.card.powerOff?.();
  }

  insertCard(): void {
    this.present = true;
  }

  /** The exchanges so far, one line each (ATR, `=>` command, `<=` response). */
  transcript(): string {
    return `${this.lines.join('\n')}\n`;
  }

  async close(): Promise<void> {
    if (this.powered) this.card.powerOff?.();
    this.powered = false;
    this.closed = true;
  }
}
