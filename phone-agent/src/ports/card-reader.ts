/**
 * An ISO 7816 card reader: one APDU exchange at a time.
 * Adapters: nfc-pcsc (any reader pcscd knows, including the vpcd virtual one), in-process
 * (calls a simulated card directly), replay (plays back a recorded transcript).
 *
 * @example
 *   const { atr } = await reader.waitForCard({ timeoutMs: 10_000 });
 *   const rsp = await reader.transmit(Uint8Array.from([0x00, 0xa4, 0x04, 0x00, ...]));
 *   // rsp ends with SW1 SW2 (90 00 on success)
 */
export interface CardReader {
  /** Resolves when a card is present and powered, with its ATR; rejects with CardReaderError('no_card') on timeout. */
  waitForCard(options: { timeoutMs: number }): Promise<{ atr: Uint8Array }>;
  /** Sends a command APDU, returns the response APDU (data ‖ SW1 SW2). Rejects with CardReaderError('card_removed') if the card is gone. */
  transmit(command: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

export type CardReaderErrorCode =
  'no_reader' | 'no_card' | 'card_removed' | 'transmit_failed' | 'unexpected_command';

export class CardReaderError extends Error {
  constructor(
    readonly code: CardReaderErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CardReaderError';
  }
}
