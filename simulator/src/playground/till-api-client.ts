/**
 * A script's connection to the till's API (`pos-terminal serve`, WebSocket /api) with the API
 * token: the playground's phones command rings up baskets through it, as a cashier would.
 */
import WebSocket from 'ws';

type Reply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { code: string; message: string } };

export class TillApiClient {
  private next = 1;
  private readonly pending = new Map<number, (r: Reply) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as Reply | { event: string };
      if ('event' in msg) return;
      this.pending.get(msg.id)?.(msg);
      this.pending.delete(msg.id);
    });
    ws.on('close', () => {
      for (const p of this.pending.values())
        p({ id: 0, ok: false, error: { code: 'closed', message: 'the till closed the connection' } });
      this.pending.clear();
    });
  }

  static connect(tillUrl: string, token: string): Promise<TillApiClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${tillUrl.replace(/^http/, 'ws')}/api`, {
        headers: { authorization: `Bearer ${token}` },
      });
      ws.once('open', () => resolve(new TillApiClient(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`the till refused the API connection (HTTP ${res.statusCode})`)),
      );
    });
  }

  call<T>(channel: string, payload: unknown): Promise<T> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (r) =>
        r.ok ? resolve(r.result as T) : reject(new Error(`${channel}: ${r.error.code}: ${r.error.message}`)),
      );
      this.ws.send(JSON.stringify({ id, channel, payload }));
    });
  }

  /** Rings up a sale of these products (by SKU) and charges it: a basket waiting for the next phone. Returns its id. */
  async ringUp(lines: ReadonlyArray<{ sku: string; quantity: number }>): Promise<string> {
    await this.call('draft:clear', {});
    for (const l of lines) await this.call('draft:add', { sku: l.sku, quantity: l.quantity });
    return (await this.call<{ id: string }>('basket:charge', {})).id;
  }

  /** Today's receipts at the till (newest first). */
  receipts(): Promise<Array<{ terminalTxnId: string; result: string }>> {
    return this.call('receipt:history', {});
  }

  close(): void {
    this.ws.close();
  }
}
