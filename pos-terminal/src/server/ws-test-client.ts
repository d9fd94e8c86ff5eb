/** A WebSocket client of the till server for tests (node `ws`): requests by id, pushed events kept. */
import WebSocket from 'ws';
import type { EventChannel, Events, RequestChannel, RequestOf, ResponseOf } from '../common/ipc/channels';
import type { WireReply } from '../common/ipc/wire';

export class WsTestClient {
  readonly replies: WireReply[] = [];
  readonly events: Array<{ event: EventChannel; payload: unknown }> = [];
  private nextId = 1;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as WireReply | { event: EventChannel; payload: unknown };
      if ('event' in msg) this.events.push(msg);
      else this.replies.push(msg);
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  /** A script's connection: the API token in the upgrade's authorization header. */
  static withToken(url: string, token: string, headers: Record<string, string> = {}): Promise<WsTestClient> {
    return WsTestClient.open(url, { authorization: `Bearer ${token}`, ...headers });
  }

  static open(
    url: string,
    headers: Record<string, string> = {},
    o: { ca?: string | Buffer } = {},
  ): Promise<WsTestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api`, {
        headers,
        ...(o.ca ? { ca: o.ca } : {}),
      });
      ws.once('open', () => resolve(new WsTestClient(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  /** Waits until `test` holds (checked after each message), or fails after `ms`. */
  async until<T>(test: () => T | undefined | false, ms = 10_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = test();
      if (v) return v;
      if (Date.now() > deadline) throw new Error('timed out waiting for the till server');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  async reply(id: number | null, after = 0): Promise<WireReply> {
    return this.until(() => this.replies.slice(after).find((r) => r.id === id));
  }

  async call<C extends RequestChannel>(channel: C, payload: RequestOf<C>): Promise<ResponseOf<C>> {
    const r = await this.request(channel, payload);
    if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
    return r.result as ResponseOf<C>;
  }

  async request(channel: string, payload: unknown): Promise<WireReply> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, channel, payload }));
    return this.reply(id);
  }

  event<E extends EventChannel>(event: E, test: (p: Events[E]) => boolean = () => true): Promise<Events[E]> {
    return this.until(
      () =>
        this.events.find((e) => e.event === event && test(e.payload as Events[E]))?.payload as
          Events[E] | undefined,
    );
  }

  close(): void {
    this.ws.close();
  }
}
