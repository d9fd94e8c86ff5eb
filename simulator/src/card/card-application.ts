/**
 * A simulated IC card as seen from the contacts / antenna: powered on (answers an ATR),
 * then processes one command APDU at a time and returns a response APDU (data ‖ SW1 SW2).
 * The same object is driven in process, or through pcscd's vpcd driver.
 */
export interface CardApplication {
  /** Power on / reset: returns the ATR and resets volatile state (selected application, ...). */
  powerOn(): Uint8Array;
  powerOff(): void;
  /** Processes one command APDU. Never throws for bad input: answers a status word instead. */
  process(command: Uint8Array): Uint8Array;
  /**
   * How long the last `process()` takes on a real card (card-timing.ts); the reader holds the
   * answer back that long. Absent or 0: at once.
   */
  lastCommandMs?(): number;
}
