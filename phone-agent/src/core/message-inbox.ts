/**
 * Turns a CentralLink's notifications into whole messages, waited for one at a time with a
 * timeout. A protocol error or a lost link rejects the waiter with a typed PhoneError.
 */
import { MessageStream, ProtocolError, type BleBody } from '@bluetill/protocol';
import type { CentralLink } from '../ports/ble-central';
import { PhoneError } from './phone-error';

export class MessageInbox {
  readonly stream: MessageStream;
  private readonly queue: BleBody[] = [];
  private waiter: { resolve: (b: BleBody) => void; reject: (e: PhoneError) => void } | null = null;
  private failure: PhoneError | null = null;
  /** The link reported its loss: from then on nothing can leave the phone. */
  linkLost = false;

  constructor(
    private readonly link: CentralLink,
    private readonly now: () => number,
  ) {
    this.stream = new MessageStream({
      // Values go as Write Without Response: every message is answered by one from the till, so an
      // ATT acknowledgement would only add a packet to the till's controller buffers, which all its
      // phones share. Only a Payment's last value is a Write Request: once it is acknowledged, the
      // till holds the Payment, and a link lost after that is "outcome unknown, ask", never "not sent".
      // Any failure to hand a value to the link means the link is gone, whatever the adapter calls it.
      send: (v, last, kind) =>
        link
          .write(v, { unacknowledged: !(last && kind === 'payment') })
          .catch((e: unknown) =>
            Promise.reject(
              new PhoneError('link_lost', 'connection to the till lost while sending', { cause: e }),
            ),
          ),
      mtu: () => link.mtu,
    });
    link.onValue((v) => {
      try {
        const body = this.stream.receive(v, this.now());
        if (body) this.push(body);
      } catch (e) {
        this.fail(
          new PhoneError(
            'protocol',
            e instanceof ProtocolError ? `till sent a bad message (${e.code})` : 'till sent a bad message',
            { cause: e },
          ),
        );
      }
    });
    link.onDisconnect((reason) => {
      this.linkLost = true;
      this.fail(new PhoneError('link_lost', `connection to the till lost (${reason})`));
    });
  }

  private push(body: BleBody): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(body);
    } else this.queue.push(body);
  }

  private fail(e: PhoneError): void {
    if (this.failure) return;
    this.failure = e;
    this.waiter?.reject(e);
    this.waiter = null;
  }

  next(timeoutMs: number): Promise<BleBody> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<BleBody>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new PhoneError('timeout', `the till did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = {
        resolve: (b) => (clearTimeout(timer), resolve(b)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
    });
  }
}
