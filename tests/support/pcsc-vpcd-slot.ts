import { join } from 'node:path';
import { VPCD_BASE_PORT, STATE_DIR, type PcscdLease } from './pcscd';
import { tryAcquireFileLock } from './pcsc-file-lock';

/**
 * One vpcd slot held exclusively by this process: vpcd serves one card per slot (Debian's build
 * has 2 slots: reader "Virtual PCD 00 00" on TCP 35963, "Virtual PCD 00 01" on 35964), so parallel
 * test files each take a free slot (file lock $TMPDIR/bluetill-pcscd/slot-<n>.lock) and wait
 * when all are taken.
 */
export interface VpcdSlot {
  readonly slot: number;
  readonly port: number;
  /** The PC/SC reader name of this slot. */
  readonly readerName: string;
  release(): void;
}

export async function acquireVpcdSlot(
  lease: PcscdLease,
  options: { timeoutMs?: number } = {},
): Promise<VpcdSlot> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    for (const [slot, readerName] of lease.vpcdReaders.entries()) {
      const release = tryAcquireFileLock(join(STATE_DIR, `slot-${slot}.lock`));
      if (release) return { slot, port: VPCD_BASE_PORT + slot, readerName, release };
    }
    if (Date.now() > deadline) {
      throw new Error(
        `all ${lease.vpcdReaders.length} vpcd slots stayed busy (other test files hold them: ${STATE_DIR}/slot-*.lock)`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
