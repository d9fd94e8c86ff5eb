/**
 * A TCP proxy on loopback that can go silent, for tests of a database or server whose network
 * dies without a word (no reset, no FIN): while `silent`, every byte either side sends is
 * swallowed and new connections are accepted but never joined to the upstream, so clients wait
 * as they would behind a dead link or a firewall's DROP. `speak()` forwards again on the
 * connections that are still open (what was swallowed stays lost, as on a real dead link after
 * TCP gave up on it: those connections see garbage or hang, so tests treat them as lost).
 *
 * @example
 *   const proxy = await SilentProxy.start(5432);
 *   const url = `postgresql://bluetill@127.0.0.1:${proxy.port}/db`;
 *   proxy.silence(); …; proxy.speak();
 *   await proxy.close();
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class SilentProxy {
  private silent = false;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  port = 0;

  private constructor(private readonly upstreamPort: number) {
    this.server = createServer((client) => this.accept(client));
  }

  /** Listens on a free loopback port and forwards to 127.0.0.1:upstreamPort. */
  static async start(upstreamPort: number): Promise<SilentProxy> {
    const proxy = new SilentProxy(upstreamPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    const address = proxy.server.address();
    proxy.port = typeof address === 'object' && address ? address.port : 0;
    return proxy;
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => undefined);
  }

  private accept(client: Socket): void {
    this.track(client);
    // A connection made while silent is never joined: the client waits on its handshake.
    if (this.silent) return;
    const upstream = connect(this.upstreamPort, '127.0.0.1');
    this.track(upstream);
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.on('data', (b: Buffer) => {
      if (!this.silent) upstream.write(b);
    });
    upstream.on('data', (b: Buffer) => {
      if (!this.silent) client.write(b);
    });
  }

  /** From now on nothing passes, in either direction, and no new connection reaches the upstream. */
  silence(): void {
    this.silent = true;
  }

  /** Forwards again; new connections reach the upstream. */
  speak(): void {
    this.silent = false;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
