/// <reference lib="dom" />
/**
 * The TillApi over the headless server's WebSocket (the browser case; Electron uses the preload).
 * Reconnects by itself; `onConnection` tells the UI when the till host is away. A signed-in
 * cashier's resume token (from `auth:sign-in`, memory only) signs the new connection in again;
 * `onSignedOut` tells the UI when that is refused (the cashier signs in again).
 */
import type { EventChannel, Events, RequestChannel, RequestOf, ResponseOf } from '../common/ipc/channels';
import { ApiError, type TillApi } from '../common/ipc/till-api';
import type { WireReply } from '../common/ipc/wire';

type Listener = (payload: never) => void;

export class WsTillApi implements TillApi {
  private ws: WebSocket | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly connection = new Set<(up: boolean) => void>();
  private readonly signedOut = new Set<() => void>();
  private resumeToken: string | null = null;
  private opened: Promise<void>;

  constructor(private readonly url: string) {
    this.opened = this.connect();
  }

  private connect(): Promise<void> {
    return new Promise((resolve) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = () => {
        void this.resume(ws).then((ok) => {
          resolve();
          this.connection.forEach((f) => f(true));
          if (!ok) this.signedOut.forEach((f) => f());
        });
      };
      ws.onmessage = (m) => this.receive(String(m.data));
      ws.onclose = () => {
        for (const p of this.pending.values())
          p.reject(new ApiError('unavailable', 'lost the connection to the till'));
        this.pending.clear();
        this.connection.forEach((f) => f(false));
        setTimeout(() => {
          this.opened = this.connect();
        }, 1_000);
        resolve();
      };
    });
  }

  /** Signs a new connection in again with the resume token; true when there was nothing to resume or it worked. */
  private async resume(ws: WebSocket): Promise<boolean> {
    if (!this.resumeToken) return true;
    const id = this.nextId++;
    try {
      await new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        ws.send(JSON.stringify({ id, channel: 'auth:resume', payload: { resumeToken: this.resumeToken } }));
      });
      return true;
    } catch {
      this.resumeToken = null;
      return false;
    }
  }

  private receive(text: string): void {
    const msg = JSON.parse(text) as WireReply | { event: EventChannel; payload: unknown };
    if ('event' in msg) {
      this.listeners.get(msg.event)?.forEach((l) => l(msg.payload as never));
      return;
    }
    const p = msg.id === null ? undefined : this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id!);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new ApiError(msg.error.code, msg.error.message));
  }

  async invoke<C extends RequestChannel>(channel: C, payload: RequestOf<C>): Promise<ResponseOf<C>> {
    await this.opened;
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN)
      throw new ApiError('unavailable', 'not connected to the till');
    const id = this.nextId++;
    const result = await new Promise<ResponseOf<C>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      ws.send(JSON.stringify({ id, channel, payload }));
    });
    if (channel === 'auth:sign-in')
      this.resumeToken = (result as ResponseOf<'auth:sign-in'>).resumeToken || null;
    if (channel === 'auth:sign-out') this.resumeToken = null;
    return result;
  }

  on<E extends EventChannel>(channel: E, listener: (payload: Events[E]) => void): () => void {
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(listener as Listener);
    return () => set.delete(listener as Listener);
  }

  /** Called when a reconnected page could not be signed in again. */
  onSignedOut(f: () => void): void {
    this.signedOut.add(f);
  }

  /** Called with true on every (re)connect and false on every loss. */
  onConnection(f: (up: boolean) => void): void {
    this.connection.add(f);
  }
}
