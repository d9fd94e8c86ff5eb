import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { CardApplication } from '../card-application';
import { contactlessAtr } from './contactless-atr';
import { VpcdConnector, type VpcdConnectorEvent } from './vpcd-connector';
import { encodeVpcdFrame, VpcdFrameDecoder } from './vpcd-frame';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const ATR = contactlessAtr(hex('80'));

/** Records what the connector does to the card; echoes the INS back with 9000. */
class RecordingCard implements CardApplication {
  calls: string[] = [];
  powerOn(): Uint8Array {
    this.calls.push('on');
    return ATR;
  }
  powerOff(): void {
    this.calls.push('off');
  }
  process(command: Uint8Array): Uint8Array {
    this.calls.push('apdu');
    if (command[1] === 0xee) throw new Error('bug in the card');
    if (command[1] === 0xef) return new Uint8Array(0);
    return Uint8Array.of(command[1] ?? 0, 0x90, 0x00);
  }
}

/** The pcscd side of vpcd: a TCP server on localhost:0 speaking the vpcd framing. */
class FakeVpcd {
  private readonly connections: Socket[] = [];
  private readonly waiting: Array<(s: Socket) => void> = [];
  private readonly decoders = new Map<
    Socket,
    { decoder: VpcdFrameDecoder; frames: Uint8Array[]; wake?: () => void }
  >();
  constructor(readonly server: Server) {
    server.on('connection', (socket) => {
      const entry: { decoder: VpcdFrameDecoder; frames: Uint8Array[]; wake?: () => void } = {
        decoder: new VpcdFrameDecoder(),
        frames: [],
      };
      this.decoders.set(socket, entry);
      socket.on('data', (chunk) => {
        entry.frames.push(...entry.decoder.push(chunk));
        entry.wake?.();
      });
      socket.on('error', () => {});
      const waiter = this.waiting.shift();
      if (waiter) waiter(socket);
      else this.connections.push(socket);
    });
  }
  static async listen(port = 0): Promise<FakeVpcd> {
    const server = createServer();
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    return new FakeVpcd(server);
  }
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }
  nextConnection(): Promise<Socket> {
    const ready = this.connections.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  async exchange(
    socket: Socket,
    payload: Uint8Array | string,
    expectAnswer = true,
  ): Promise<Uint8Array | undefined> {
    socket.write(typeof payload === 'string' ? hex(payload) : encodeVpcdFrame(payload));
    if (!expectAnswer) return undefined;
    const entry = this.decoders.get(socket)!;
    while (entry.frames.length === 0) await new Promise<void>((wake) => (entry.wake = wake));
    return entry.frames.shift();
  }
  /** The next frame the connector sent on this socket. */
  async next(socket: Socket): Promise<Uint8Array> {
    const entry = this.decoders.get(socket)!;
    while (entry.frames.length === 0) await new Promise<void>((wake) => (entry.wake = wake));
    return entry.frames.shift()!;
  }
  async close(): Promise<void> {
    for (const s of this.decoders.keys()) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup<C extends CardApplication = RecordingCard>(
  card: C = new RecordingCard() as unknown as C,
) {
  const vpcd = await FakeVpcd.listen();
  const events: VpcdConnectorEvent[] = [];
  const connector = new VpcdConnector({
    card,
    port: vpcd.port,
    reconnectDelayMs: 20,
    maxCommandLength: 261, // a short APDU: 4 + 1 + 255 + 1
    onEvent: (e) => events.push(e),
  });
  cleanups.push(
    () => vpcd.close(),
    () => connector.close(),
  );
  connector.start();
  const socket = await vpcd.nextConnection();
  return { vpcd, card, connector, socket, events };
}

describe('VpcdConnector', () => {
  it('answers GET ATR and APDUs, and nothing to power off / on / reset', async () => {
    const { vpcd, card, connector, socket } = await setup();
    expect(await vpcd.exchange(socket, hex('04'))).toEqual(ATR);
    await connector.waitUntilSeen({ timeoutMs: 1000 });
    await vpcd.exchange(socket, hex('01'), false); // power on: no answer
    expect(await vpcd.exchange(socket, hex('04'))).toEqual(ATR); // next frame back is the ATR
    expect(await vpcd.exchange(socket, hex('00 B2 01 0C 00'))).toEqual(hex('B2 90 00'));
    expect(await vpcd.exchange(socket, hex('04'))).toEqual(ATR); // presence poll: no reset
    await vpcd.exchange(socket, hex('02'), false); // reset
    await vpcd.exchange(socket, hex('00'), false); // power off
    expect(await vpcd.exchange(socket, hex('00 CA 9F 17 00'))).toEqual(hex('CA 90 00'));
    expect(card.calls).toEqual(['on', 'off', 'on', 'apdu', 'on', 'off', 'apdu']);
    expect(connector.state).toBe('connected');
  });

  it('a card that takes time: each answer after the card says its command took, in order with the polls behind it', async () => {
    const timed = Object.assign(new RecordingCard(), { lastCommandMs: () => 60 });
    const { vpcd, socket } = await setup(timed);
    const t0 = performance.now();
    for (const frame of ['00 B2 01 0C 00', '04', '00 A4 04 00 00']) socket.write(encodeVpcdFrame(hex(frame))); // a poll between two commands
    const first = await vpcd.next(socket);
    const afterFirst = performance.now() - t0;
    const answers = [first, await vpcd.next(socket), await vpcd.next(socket)];
    const afterAll = performance.now() - t0;
    expect(answers).toEqual([hex('B2 90 00'), ATR, hex('A4 90 00')]);
    expect(afterFirst).toBeGreaterThanOrEqual(60 - 1); // setTimeout never fires early by a whole ms
    expect(afterAll).toBeGreaterThanOrEqual(2 * 60 - 1); // the two commands one after the other
  });

  it('answers 6F00 when the card throws or returns no status word', async () => {
    const { vpcd, socket, events } = await setup();
    expect(await vpcd.exchange(socket, hex('00 EE 00 00'))).toEqual(hex('6F 00'));
    expect(await vpcd.exchange(socket, hex('00 EF 00 00'))).toEqual(hex('6F 00'));
    expect(events.filter((e) => e.type === 'protocol_error')).toEqual([
      { type: 'protocol_error', code: 'card_threw' },
      { type: 'protocol_error', code: 'bad_card_response' },
    ]);
  });

  it('ignores an unknown control code and keeps serving', async () => {
    const { vpcd, socket, events } = await setup();
    await vpcd.exchange(socket, hex('7F'), false);
    expect(await vpcd.exchange(socket, hex('04'))).toEqual(ATR);
    expect(events).toContainEqual({ type: 'protocol_error', code: 'unknown_control' });
  });

  it.each([
    ['a zero length', '00 00 00 01 04'],
    ['a frame over the limit', '01 06 00'],
  ])('drops the connection on %s and reconnects', async (_name, garbage) => {
    const { vpcd, socket, events } = await setup();
    await vpcd.exchange(socket, garbage, false);
    await once(socket, 'close');
    const again = await vpcd.nextConnection();
    expect(await vpcd.exchange(again, hex('04'))).toEqual(ATR);
    expect(events.some((e) => e.type === 'protocol_error')).toBe(true);
  });

  it('accepts frames split into single bytes', async () => {
    const { vpcd, socket } = await setup();
    const frame = encodeVpcdFrame(hex('00 A4 04 00 00'));
    for (const b of frame) socket.write(Uint8Array.of(b));
    expect(await vpcd.exchange(socket, hex('04'))).toEqual(hex('A4 90 00'));
  });

  it('reconnects when vpcd goes away and comes back on the same port', async () => {
    const { vpcd, card, socket, events } = await setup();
    await vpcd.exchange(socket, hex('01'), false);
    const port = vpcd.port;
    await vpcd.close();
    const back = await FakeVpcd.listen(port);
    cleanups.push(() => back.close());
    const again = await back.nextConnection();
    expect(await back.exchange(again, hex('04'))).toEqual(ATR);
    expect(events).toContainEqual({ type: 'disconnected', reason: 'vpcd closed the connection' });
    expect(card.calls).toEqual(['on', 'off']); // a dropped link powers the card off
  });

  it('keeps retrying while nothing listens yet', async () => {
    const probe = await FakeVpcd.listen();
    const port = probe.port;
    await probe.close();
    const connector = new VpcdConnector({ card: new RecordingCard(), port, reconnectDelayMs: 20 });
    cleanups.push(() => connector.close());
    connector.start();
    await new Promise((r) => setTimeout(r, 100));
    expect(connector.state).toBe('connecting');
    const vpcd = await FakeVpcd.listen(port);
    cleanups.push(() => vpcd.close());
    const socket = await vpcd.nextConnection();
    expect(await vpcd.exchange(socket, hex('04'))).toEqual(ATR);
  });

  it('close() disconnects for good', async () => {
    const { vpcd, connector, socket } = await setup();
    await vpcd.exchange(socket, hex('04'));
    const closed = once(socket, 'close');
    await connector.close();
    await closed;
    expect(connector.state).toBe('closed');
    const reconnected = await Promise.race([
      vpcd.nextConnection().then(() => true),
      new Promise((r) => setTimeout(() => r(false), 150)),
    ]);
    expect(reconnected).toBe(false);
  });

  it('waitUntilSeen times out when vpcd never talks', async () => {
    const { connector } = await setup();
    await expect(connector.waitUntilSeen({ timeoutMs: 50 })).rejects.toThrow(/did not poll/);
  });
});
