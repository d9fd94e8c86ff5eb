import type { CardApplication } from '../../simulator/src/card/card-application';
import { VpcdConnector } from '../../simulator/src/card/vpcd/vpcd-connector';
import { ensurePcscd } from './pcscd';
import { acquireVpcdSlot } from './pcsc-vpcd-slot';

/**
 * A real pcscd, one vpcd slot of it for this test file, and a way to put simulated cards in it.
 *
 * @example
 *   const reader = await openVirtualReader();      // fails (never skips) if pcscd can't run
 *   const card = await reader.insert(myCardApplication);
 *   // any PC/SC client now sees the card in reader.readerName
 *   await card.close();                            // card removed
 *   await reader.close();                          // slot freed; pcscd stopped if last and ours
 */
export interface VirtualReader {
  readonly readerName: string;
  readonly port: number;
  /** ensurePcscd() timing: start (if needed) until the vpcd readers were listed. */
  readonly pcscdReadyMs: number;
  readonly startedPcscd: boolean;
  /** Connects the card to the slot; resolves once pcscd polls it (the card is present). */
  insert(card: CardApplication, options?: { timeoutMs?: number }): Promise<VpcdConnector>;
  /** Closes every connector insert() made (for afterEach: a failed test must not leave its card in). */
  removeAll(): Promise<void>;
  close(): Promise<void>;
}

export async function openVirtualReader(): Promise<VirtualReader> {
  const lease = await ensurePcscd();
  let slot;
  try {
    slot = await acquireVpcdSlot(lease);
  } catch (error) {
    await lease.release();
    throw error;
  }
  const connectors = new Set<VpcdConnector>();
  return {
    readerName: slot.readerName,
    port: slot.port,
    pcscdReadyMs: lease.readyMs,
    startedPcscd: lease.startedHere,
    async insert(card, options) {
      const connector = new VpcdConnector({ card, port: slot.port });
      connectors.add(connector);
      connector.start();
      await connector.waitUntilSeen({ timeoutMs: options?.timeoutMs ?? 5_000 });
      return connector;
    },
    async removeAll() {
      for (const connector of connectors) await connector.close();
      connectors.clear();
    },
    async close() {
      for (const connector of connectors) await connector.close();
      connectors.clear();
      slot.release();
      await lease.release();
    },
  };
}
