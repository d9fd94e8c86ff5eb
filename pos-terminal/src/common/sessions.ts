/**
 * The phones connected to the till: one PhoneSession per BLE link, each with its own message
 * stream; a session that ends gives back the basket it held (it waits for the next phone).
 */
import type { BlePeripheral } from './ports/ble-peripheral';
import type { BasketBook } from './basket';
import { PhoneSession } from './session';
import type { SessionSnapshot } from './session-snapshot';
import type { TillContext } from './till-context';

export class PhoneSessions {
  private readonly sessions = new Map<string, PhoneSession>();

  constructor(
    private readonly ctx: TillContext,
    private readonly baskets: BasketBook,
  ) {}

  /** Serves every phone that connects to `peripheral` from now on. */
  attach(peripheral: BlePeripheral): void {
    peripheral.onConnect((link) => {
      const session = new PhoneSession(link, this.ctx, (s) => {
        this.sessions.delete(s.id);
        this.baskets.release(s.id);
      });
      this.sessions.set(session.id, session);
    });
  }

  /** The cashier cancels a phone's session (PhoneSession.cancelByCashier); false when there is none or it cannot be cancelled now. */
  cancelByCashier(sessionId: string): boolean {
    return this.sessions.get(sessionId)?.cancelByCashier() ?? false;
  }

  snapshots(): SessionSnapshot[] {
    return [...this.sessions.values()].map((s) => s.snapshot());
  }

  closeAll(reason: string): void {
    for (const s of this.sessions.values()) s.close(reason);
  }
}
