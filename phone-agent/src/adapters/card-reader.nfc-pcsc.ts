import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { CardReaderError, type CardReader } from '../ports/card-reader';

/** The parts of nfc-pcsc 0.8 (untyped JavaScript) this adapter uses. */
interface PcscliteReader extends EventEmitter {
  readonly name: string;
  /** Set by pcsclite once the reader's status thread reported the first status. */
  readonly state?: number;
  close(): void;
}
interface NfcReader extends EventEmitter {
  readonly name: string;
  readonly reader: PcscliteReader;
  autoProcessing: boolean;
  connection: { type: number; protocol: number } | null;
  transmit(data: Buffer, responseMaxLength: number): Promise<Buffer>;
  disconnect(): Promise<boolean>;
}
interface Nfc extends EventEmitter {
  readonly readers: Record<string, PcscliteReader>;
  close(): void;
}
const { NFC } = createRequire(import.meta.url)('nfc-pcsc') as { NFC: new () => Nfc };

export interface NfcPcscCardReaderOptions {
  /** Use the first reader whose PC/SC name contains this (e.g. "Virtual PCD 00 01"); default: the first reader. */
  readerName?: string;
  /** How long waitForCard waits for pcscd and a matching reader before CardReaderError('no_reader'); default 5 s. */
  readerTimeoutMs?: number;
  /** After a failed exchange, how long to wait for pcscd to report the card gone (→ 'card_removed'); default 1.5 s. */
  removalGraceMs?: number;
  /** Receive buffer per exchange; default 258 (short APDU: 256 data bytes + SW). 61xx chains are joined. */
  maxResponseLength?: number;
  /** pcscd's client socket; default $PCSCLITE_CSOCK_NAME or /run/pcscd/pcscd.comm. */
  pcscdSocketPath?: string;
}

type Waiter = () => void;

/**
 * CardReader over PC/SC with nfc-pcsc: any reader pcscd knows, including vpcd's virtual one.
 * nfc-pcsc's NFC-tag processing (FF CA GET UID, …) is off: the card gets exactly the APDUs sent.
 * 61xx (GET RESPONSE) and 6Cxx (resend with Le = xx) are handled here, so `transmit` returns the
 * whole response ‖ final SW.
 *
 * pcsclite's constructor spins until pcscd answers, so the adapter checks pcscd's socket first and
 * reports 'no_reader' instead of hanging. `close()` releases every PC/SC handle (the process can exit).
 *
 * @example
 *   const reader = new NfcPcscCardReader({ readerName: 'Virtual PCD' });
 *   const { atr } = await reader.waitForCard({ timeoutMs: 10_000 });
 *   const fci = await reader.transmit(selectPpse);
 *   await reader.close();
 */
export class NfcPcscCardReader implements CardReader {
  private readonly readerName: string | undefined;
  private readonly readerTimeoutMs: number;
  private readonly removalGraceMs: number;
  private readonly maxResponseLength: number;
  private readonly socketPath: string;
  private nfc: Nfc | undefined;
  private reader: NfcReader | undefined;
  private card: { atr: Uint8Array } | undefined;
  /** A card was present and went away (or its reader did) since the last card arrived. */
  private cardLost = false;
  private closed = false;
  private waiters = new Set<Waiter>();
  private exchanges: Promise<unknown> = Promise.resolve();
  private disposing = new Set<Promise<void>>();

  constructor(options: NfcPcscCardReaderOptions = {}) {
    this.readerName = options.readerName;
    this.readerTimeoutMs = options.readerTimeoutMs ?? 5_000;
    this.removalGraceMs = options.removalGraceMs ?? 1_500;
    this.maxResponseLength = options.maxResponseLength ?? 258;
    this.socketPath = options.pcscdSocketPath ?? process.env.PCSCLITE_CSOCK_NAME ?? '/run/pcscd/pcscd.comm';
  }

  async waitForCard(options: { timeoutMs: number }): Promise<{ atr: Uint8Array }> {
    const deadline = Date.now() + options.timeoutMs;
    const readerDeadline = Math.min(deadline, Date.now() + this.readerTimeoutMs);
    this.assertOpen();
    if (!this.nfc) await this.start(readerDeadline);
    if (!(await this.until(() => this.reader !== undefined, readerDeadline))) {
      throw new CardReaderError(
        'no_reader',
        this.readerName ? `no PC/SC reader matching "${this.readerName}"` : 'no PC/SC reader',
      );
    }
    if (!(await this.until(() => this.card !== undefined, deadline))) {
      throw new CardReaderError('no_card', `no card within ${options.timeoutMs} ms`);
    }
    return { atr: Uint8Array.from(this.card!.atr) };
  }

  transmit(command: Uint8Array): Promise<Uint8Array> {
    const exchange = this.exchanges.then(() => this.exchange(command));
    this.exchanges = exchange.catch(() => {});
    return exchange;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.notify();
    await this.exchanges;
    const nfc = this.nfc;
    this.nfc = undefined;
    const reader = this.reader;
    this.reader = undefined;
    this.card = undefined;
    if (reader?.connection) await reader.disconnect().catch(() => {});
    await Promise.all([...this.disposing, nfc && this.dispose(nfc)]);
  }

  /** Releases a PC/SC context and its readers' status threads. */
  private dispose(nfc: Nfc): Promise<void> {
    const done = closePcscliteReaders(Object.values(nfc.readers)).then(() => nfc.close());
    this.disposing.add(done);
    return done.finally(() => this.disposing.delete(done));
  }

  private async exchange(command: Uint8Array): Promise<Uint8Array> {
    let response = await this.raw(command);
    const sw1 = response[response.length - 2];
    if (sw1 === 0x6c) response = await this.raw(withLe(command, response[response.length - 1]!));
    const data: Uint8Array[] = [];
    let total = 0;
    while (response[response.length - 2] === 0x61) {
      data.push(response.subarray(0, -2));
      total += response.length - 2;
      if (total > 0x10000) throw new CardReaderError('transmit_failed', 'the card keeps answering 61xx');
      response = await this.raw(getResponse(command[0]!, response[response.length - 1]!));
    }
    if (data.length === 0) return response;
    data.push(response);
    return new Uint8Array(Buffer.concat(data));
  }

  /** One C-APDU → R-APDU with no status-word handling. */
  private async raw(apdu: Uint8Array): Promise<Uint8Array> {
    this.assertOpen();
    const reader = this.reader;
    if (!this.card || !reader) {
      throw this.cardLost
        ? new CardReaderError('card_removed', 'the card was removed')
        : new CardReaderError('no_card', 'no card in the reader');
    }
    let response: Buffer;
    try {
      response = await reader.transmit(Buffer.from(apdu), this.maxResponseLength);
    } catch (error) {
      // A card pulled mid-exchange fails the transmit before pcscd's poll reports it: wait for that.
      if (await this.until(() => this.card === undefined, Date.now() + this.removalGraceMs)) {
        throw new CardReaderError('card_removed', 'the card was removed during the exchange', {
          cause: error,
        });
      }
      throw new CardReaderError('transmit_failed', 'PC/SC transmit failed', { cause: error });
    }
    if (response.length < 2)
      throw new CardReaderError('transmit_failed', `response of ${response.length} bytes has no status word`);
    return new Uint8Array(response);
  }

  private async start(deadline: number): Promise<void> {
    while (!(await socketAnswers(this.socketPath))) {
      if (Date.now() >= deadline) {
        throw new CardReaderError('no_reader', `pcscd is not running (no answer on ${this.socketPath})`);
      }
      await sleep(100);
    }
    const nfc = new NFC();
    this.nfc = nfc;
    nfc.on('reader', (reader: NfcReader) => this.onReader(reader));
    // pcscd went away: its readers and cards are gone and pcsclite stops watching for good, so
    // drop this context; the next waitForCard starts a new one (pcscd restarted).
    nfc.on('error', () => {
      if (this.nfc !== nfc) return;
      this.nfc = undefined;
      this.loseReader();
      void this.dispose(nfc);
    });
  }

  private onReader(reader: NfcReader): void {
    reader.on('error', () => {});
    if (
      this.reader ||
      this.closed ||
      (this.readerName !== undefined && !reader.name.includes(this.readerName))
    ) {
      // Not ours: stop nfc-pcsc from connecting to cards in it (it would, even with autoProcessing off).
      reader.reader.removeAllListeners('status');
      return;
    }
    reader.autoProcessing = false;
    this.reader = reader;
    reader.on('card', (card: { atr?: Buffer }) => {
      this.card = { atr: Uint8Array.from(card.atr ?? []) };
      this.cardLost = false;
      this.notify();
    });
    reader.on('card.off', () => {
      this.card = undefined;
      this.cardLost = true;
      this.notify();
    });
    reader.on('end', () => {
      if (this.reader === reader) this.loseReader();
    });
    this.notify();
  }

  private loseReader(): void {
    if (this.card) this.cardLost = true;
    this.card = undefined;
    this.reader = undefined;
    this.notify();
  }

  private assertOpen(): void {
    if (this.closed) throw new CardReaderError('no_reader', 'the card reader is closed');
  }

  /** Resolves true as soon as `condition` holds, false at `deadline` or on close. */
  private until(condition: () => boolean, deadline: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check: Waiter = () => {
        if (condition()) finish(true);
        else if (this.closed) finish(false);
      };
      const finish = (result: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(result);
      };
      const timer = setTimeout(() => finish(condition()), Math.max(0, deadline - Date.now()));
      this.waiters.add(check);
      check();
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** The same command with Le = `le` (short APDUs; 6Cxx says which Le the card wants). */
function withLe(command: Uint8Array, le: number): Uint8Array {
  if (command.length === 4) return Uint8Array.of(...command, le); // case 1 → case 2
  if (command.length === 5) return Uint8Array.of(...command.subarray(0, 4), le); // case 2
  const lc = command[4]!;
  if (lc !== 0 && command.length === 5 + lc) return Uint8Array.of(...command, le); // case 3 → case 4
  if (lc !== 0 && command.length === 6 + lc) return Uint8Array.of(...command.subarray(0, -1), le); // case 4
  return command; // extended length: resend unchanged
}

/** GET RESPONSE on the command's logical channel (ISO/IEC 7816-4 §5.4.1 class byte). */
function getResponse(cla: number, le: number): Uint8Array {
  const channelCla = cla < 0x40 ? cla & 0x03 : cla < 0x80 ? cla & 0x4f : 0x00;
  return Uint8Array.of(channelCla, 0xc0, 0x00, 0x00, le);
}

/**
 * @pokusew/pcsclite's CardReader.close() issued before the reader's status thread reported its
 * first status leaks a libuv handle (the process never exits); pcsclite sets `state` after it.
 */
async function closePcscliteReaders(readers: PcscliteReader[]): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (readers.some((r) => typeof r.state !== 'number') && Date.now() < deadline) await sleep(10);
  for (const reader of readers) reader.close();
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
