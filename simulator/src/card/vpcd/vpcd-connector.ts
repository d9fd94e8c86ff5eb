import { Socket } from 'node:net';
import type { CardApplication } from '../card-application';
import {
  encodeVpcdFrame,
  VPCD_CONTROL,
  VPCD_MAX_PAYLOAD,
  VpcdFrameDecoder,
  VpcdFrameError,
} from './vpcd-frame';

/** Port of the first vpcd slot in Debian's /etc/reader.conf.d/vpcd (CHANNELID 0x8C7B); slot n listens on +n. */
export const VPCD_DEFAULT_PORT = 0x8c7b; // 35963

/** Status word answered when the card application breaks its contract (throws, empty or oversized answer). */
const SW_NO_PRECISE_DIAGNOSIS = Uint8Array.of(0x6f, 0x00);

export type VpcdConnectorState = 'idle' | 'connecting' | 'connected' | 'closed';

/** What the connector did; carries no APDU or ATR bytes (card data stays out of logs). */
export type VpcdConnectorEvent =
  | { type: 'connected' }
  | { type: 'disconnected'; reason: string }
  | { type: 'control'; control: 'power_off' | 'power_on' | 'reset' | 'get_atr' }
  | { type: 'apdu'; commandLength: number; responseLength: number }
  | { type: 'protocol_error'; code: string };

export interface VpcdConnectorOptions {
  card: CardApplication;
  /** vpcd host; default 127.0.0.1. */
  host?: string;
  /** vpcd port; default 35963 (slot 0). */
  port?: number;
  /** Delay before reconnecting after a refused connection or a drop; default 200 ms. */
  reconnectDelayMs?: number;
  /** Largest frame accepted from vpcd (APDU bytes); default 65535. */
  maxCommandLength?: number;
  onEvent?: (event: VpcdConnectorEvent) => void;
}

/**
 * Plugs a CardApplication into pcscd through the vpcd driver: a TCP client to vpcd's port that
 * answers its control codes and APDUs. Keeps reconnecting (pcscd restarted, vpcd not up yet)
 * until `close()`, which disconnects: the PC/SC reader then sees the card removed.
 *
 * @example
 *   const connector = new VpcdConnector({ card, port: 35963 });
 *   connector.start();
 *   await connector.waitUntilSeen({ timeoutMs: 5_000 }); // pcscd polled the card
 *   // ... PC/SC clients now see a card in "Virtual PCD 00 00"
 *   await connector.close();
 */
export class VpcdConnector {
  private readonly card: CardApplication;
  private readonly host: string;
  private readonly port: number;
  private readonly reconnectDelayMs: number;
  private readonly maxCommandLength: number;
  private readonly onEvent: (event: VpcdConnectorEvent) => void;
  private socket: Socket | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Answers in the order their commands came, each after its card time. */
  private sending: Promise<void> = Promise.resolve();
  private atr: Uint8Array | undefined;
  private powered = false;
  private currentState: VpcdConnectorState = 'idle';
  /** True once vpcd sent something on the current connection (pcscd accepted it). */
  private seen = false;
  private seenWaiters: Array<() => void> = [];

  constructor(options: VpcdConnectorOptions) {
    this.card = options.card;
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? VPCD_DEFAULT_PORT;
    this.reconnectDelayMs = options.reconnectDelayMs ?? 200;
    this.maxCommandLength = options.maxCommandLength ?? VPCD_MAX_PAYLOAD;
    this.onEvent = options.onEvent ?? (() => {});
  }

  get state(): VpcdConnectorState {
    return this.currentState;
  }

  /** Starts connecting (and reconnecting); idempotent. */
  start(): void {
    if (this.currentState !== 'idle') return;
    this.connect();
  }

  /**
   * Resolves once vpcd has talked to the card over the current connection, i.e. pcscd accepted
   * it and polls it (a TCP connect alone only means the kernel queued it).
   */
  waitUntilSeen(options: { timeoutMs: number }): Promise<void> {
    if (this.seen) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.seenWaiters = this.seenWaiters.filter((w) => w !== waiter);
        reject(
          new Error(`vpcd on ${this.host}:${this.port} did not poll the card within ${options.timeoutMs} ms`),
        );
      }, options.timeoutMs);
      this.seenWaiters.push(waiter);
    });
  }

  /** Disconnects for good (the reader sees the card removed) and powers the card off. */
  async close(): Promise<void> {
    if (this.currentState === 'closed') return;
    this.currentState = 'closed';
    clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    this.socket = undefined;
    if (socket && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.destroy();
      });
    }
    this.powerOff();
  }

  private connect(): void {
    this.currentState = 'connecting';
    this.seen = false;
    const decoder = new VpcdFrameDecoder(this.maxCommandLength);
    const socket = new Socket();
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('connect', () => {
      if (this.socket !== socket) return;
      this.currentState = 'connected';
      this.onEvent({ type: 'connected' });
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.socket !== socket) return;
      let payloads: Uint8Array[];
      try {
        payloads = decoder.push(chunk);
      } catch (error) {
        if (!(error instanceof VpcdFrameError)) throw error;
        this.onEvent({ type: 'protocol_error', code: error.code });
        socket.destroy();
        return;
      }
      for (const payload of payloads) {
        const answer = this.answer(payload);
        if (!answer) continue;
        // A card that takes time (card-timing.ts) answers after it; answers keep their order.
        const ms = payload.length > 1 ? (this.card.lastCommandMs?.() ?? 0) : 0;
        this.sending = this.sending
          .then(() => (ms > 0 ? new Promise<void>((done) => setTimeout(done, ms)) : undefined))
          .then(() => {
            if (this.socket === socket) socket.write(encodeVpcdFrame(answer));
          });
      }
    });
    // 'close' always follows 'error'; the error itself (ECONNREFUSED, ECONNRESET) is routine here.
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      if (this.currentState === 'connected') {
        this.onEvent({ type: 'disconnected', reason: 'vpcd closed the connection' });
        this.powerOff();
      }
      if (this.currentState === 'closed') return;
      this.currentState = 'connecting';
      this.reconnectTimer = setTimeout(() => this.connect(), this.reconnectDelayMs);
    });
    socket.connect({ host: this.host, port: this.port });
  }

  /** One message from vpcd → the card's answer, or undefined when the protocol wants none. */
  private answer(payload: Uint8Array): Uint8Array | undefined {
    this.markSeen();
    if (payload.length === 1) {
      switch (payload[0]) {
        case VPCD_CONTROL.powerOff:
          this.onEvent({ type: 'control', control: 'power_off' });
          this.powerOff();
          return undefined;
        case VPCD_CONTROL.powerOn:
          this.onEvent({ type: 'control', control: 'power_on' });
          this.powerOn();
          return undefined;
        case VPCD_CONTROL.reset:
          this.onEvent({ type: 'control', control: 'reset' });
          this.powerOn();
          return undefined;
        case VPCD_CONTROL.getAtr:
          // vpcd asks for the ATR every polling round to see whether the card is still there:
          // answer the cached one so the card's state is not reset under a running session.
          this.onEvent({ type: 'control', control: 'get_atr' });
          return this.currentAtr();
        default:
          this.onEvent({ type: 'protocol_error', code: 'unknown_control' });
          return undefined;
      }
    }
    const response = this.process(payload);
    this.onEvent({ type: 'apdu', commandLength: payload.length, responseLength: response.length });
    return response;
  }

  private currentAtr(): Uint8Array {
    if (!this.atr) {
      // Asked before any power-on: the card's ATR without keeping it powered.
      this.atr = this.card.powerOn();
      this.card.powerOff();
    }
    return this.atr.length >= 1 && this.atr.length <= 33 ? this.atr : Uint8Array.of(0x3b, 0x00);
  }

  private process(command: Uint8Array): Uint8Array {
    let response: Uint8Array;
    try {
      response = this.card.process(command);
    } catch {
      this.onEvent({ type: 'protocol_error', code: 'card_threw' });
      return SW_NO_PRECISE_DIAGNOSIS;
    }
    if (response.length < 2 || response.length > VPCD_MAX_PAYLOAD) {
      this.onEvent({ type: 'protocol_error', code: 'bad_card_response' });
      return SW_NO_PRECISE_DIAGNOSIS;
    }
    return response;
  }

  private powerOn(): void {
    this.atr = this.card.powerOn();
    this.powered = true;
  }

  private powerOff(): void {
    if (!this.powered) return;
    this.powered = false;
    this.card.powerOff();
  }

  private markSeen(): void {
    if (this.seen) return;
    this.seen = true;
    const waiters = this.seenWaiters;
    this.seenWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
