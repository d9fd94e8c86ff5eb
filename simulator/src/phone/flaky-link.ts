/**
 * A CentralLink that drops after the k-th complete protocol message, counted in both directions
 * (a message ends with the frame header's LAST bit): 1 = after Hello is sent, 2 = after HelloAck
 * arrives, 3 = after CardAuth, 4 = after AuthResult, 5 = after Payment, 6 = after Receipt.
 */
import { LAST, FIRST } from '@bluetill/protocol';
import type { CentralLink } from '@bluetill/phone-agent';

export function dropAfterMessages(link: CentralLink, k: number, onDrop?: (n: number) => void): CentralLink {
  let count = 0;
  let dropped = false;
  /** The k-th message's last fragment is on its way: from here nothing more reaches the phone. */
  let closing = false;
  const ends = (v: Uint8Array) =>
    v.length > 0 && (v[0]! & LAST) !== 0 && ((v[0]! & FIRST) !== 0 || v.length > 1);
  const step = async () => {
    if (++count === k && !dropped) {
      dropped = true;
      onDrop?.(count);
      await link.disconnect().catch(() => undefined);
    }
  };
  return {
    get mtu() {
      return link.mtu;
    },
    async write(v, options) {
      // Once dropped, nothing more leaves the phone, even before the stack's disconnect completes.
      if (dropped) throw new Error('link dropped');
      if (ends(v) && count + 1 === k) closing = true;
      await link.write(v, options);
      if (ends(v)) await step();
    },
    readInfo: () => link.readInfo(),
    onValue(h) {
      link.onValue((v) => {
        if (dropped || closing) return; // nor does anything more arrive
        h(v);
        if (ends(v)) void step();
      });
    },
    onDisconnect: (h) => link.onDisconnect(h),
    disconnect: () => link.disconnect(),
  };
}

/**
 * A CentralLink that drops after the n-th ATT value, counted in both directions (phone writes and
 * till notifications): n lands anywhere, also in the middle of a message. `onDrop` says which
 * value it was ('sent' or 'received').
 */
export function dropAfterValues(
  link: CentralLink,
  n: number,
  onDrop?: (direction: 'sent' | 'received') => void,
): CentralLink {
  let count = 0;
  let dropped = false;
  const drop = async (direction: 'sent' | 'received') => {
    if (dropped) return;
    dropped = true;
    onDrop?.(direction);
    await link.disconnect().catch(() => undefined);
  };
  return {
    get mtu() {
      return link.mtu;
    },
    async write(v, options) {
      if (dropped) throw new Error('link dropped');
      await link.write(v, options);
      if (++count === n) await drop('sent');
    },
    readInfo: () => link.readInfo(),
    onValue(h) {
      link.onValue((v) => {
        if (dropped) return;
        h(v);
        if (++count === n) void drop('received');
      });
    },
    onDisconnect: (h) => link.onDisconnect(h),
    disconnect: () => link.disconnect(),
  };
}
