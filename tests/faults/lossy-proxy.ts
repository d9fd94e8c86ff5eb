/**
 * A TCP proxy between a till and the backend that can lose the backend's answers: the till's
 * bytes always reach the backend (the request is served and committed), the connection is cut
 * before the answer gets back. It works below TLS: it sees no messages, only when bytes flow.
 *
 * - `loseNextAnswer(committed)`: the next connection that sends bytes after this call is cut as
 *   soon as `committed()` says the backend has written the result (polled), and whatever the
 *   backend sent meanwhile is discarded: committed on the server, never heard at the till.
 * - `blackhole(on)`: while on, every connection is cut as soon as the backend sends anything
 *   (no answer of any kind gets back, including retries and lookups).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class LossyProxy {
  private server: Server | null = null;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private armed: (() => boolean) | null = null;
  private hole = false;
  /** Connections cut after the backend committed (answers lost). */
  lostAnswers = 0;
  /** Connections cut by the blackhole. */
  cut = 0;

  constructor(private readonly upstream: () => { host: string; port: number }) {}

  async start(): Promise<string> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const a = this.server.address();
    if (!a || typeof a === 'string') throw new Error('proxy has no port');
    return `127.0.0.1:${a.port}`;
  }

  loseNextAnswer(committed: () => boolean): void {
    this.armed = committed;
  }

  blackhole(on: boolean): void {
    this.hole = on;
  }

  private accept(client: Socket): void {
    const { host, port } = this.upstream();
    const upstream = connect(port, host);
    const pair = { client, upstream };
    this.pairs.add(pair);
    let losing: (() => boolean) | null = null;
    const cutPair = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('data', (d: Buffer) => {
      if (this.armed && !losing) {
        losing = this.armed;
        this.armed = null;
        const started = Date.now();
        const poll = setInterval(() => {
          if (losing!() || Date.now() - started > 5_000) {
            clearInterval(poll);
            this.lostAnswers++;
            cutPair();
          }
        }, 5);
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (this.hole) {
        this.cut++;
        cutPair();
        return;
      }
      if (losing) return; // the answer is lost on the way back
      client.write(d);
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => cutPair());
    upstream.on('close', () => cutPair());
  }

  async close(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
