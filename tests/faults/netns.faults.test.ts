/**
 * The namespace helper the partition suite stands on (netns.ts), checked with real TCP: a process
 * in a namespace reaches a server in the root namespace over its veth pair; a `drop` cut lets a
 * connection attempt hang (no answer, no error) and a `down` cut fails it at once; `heal` brings
 * the path back; `close()` leaves no namespace and no veth end. Without root, `create()` fails
 * with a message that says so (never a skip).
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { NetLab, NetLabError } from './netns';

/** Connects from inside `ns` to host:port: what happened, and in how many ms (timed inside the namespace). */
function connectFrom(
  ns: string,
  host: string,
  port: number,
  timeoutMs: number,
): Promise<{ result: string; ms: number }> {
  const script = `const t0=Date.now();const out=(r)=>{console.log(r+' '+(Date.now()-t0));process.exit(0)};
const s=require('net').connect(${port},'${host}');setTimeout(()=>out('timeout'),${timeoutMs});
s.on('connect',()=>out('connected'));s.on('error',(e)=>out('error:'+e.code))`;
  return new Promise((resolve, reject) =>
    execFile('ip', ['netns', 'exec', ns, process.execPath, '-e', script], (err, stdout) => {
      if (err) return reject(err);
      const [result = '', ms = 'NaN'] = stdout.trim().split(' ');
      resolve({ result, ms: Number(ms) });
    }),
  );
}

const labs: NetLab[] = [];
let server: Server | undefined;
afterAll(async () => {
  for (const lab of labs) lab.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
});

describe('network namespaces for the partition test (netns.ts)', () => {
  it('a host reaches the root namespace over its link; drop hangs, down fails at once, heal restores; close leaves nothing', async () => {
    const lab = await NetLab.create();
    labs.push(lab);
    const host = lab.host('t');
    const link = lab.link(host);
    server = createServer((s) => s.end());
    await new Promise<void>((r) => server!.listen(0, link.rootAddress, r));
    const port = (server.address() as { port: number }).port;

    const connect = (timeoutMs = 3_000) => connectFrom(host.ns, link.rootAddress, port, timeoutMs);
    expect((await connect()).result).toBe('connected');
    lab.cut(link, 'drop');
    expect((await connect(1_500)).result).toBe('timeout');
    lab.heal(link);
    expect((await connect()).result).toBe('connected');
    lab.cut(link, 'down');
    const down = await connect();
    expect(down.result).toMatch(/^error:E(NETUNREACH|HOSTUNREACH)$/);
    expect(down.ms).toBeLessThan(1_000);
    lab.heal(link);
    expect((await connect()).result).toBe('connected');

    lab.close();
    expect(lab.leftovers()).toEqual([]);
  }, 30_000);

  it('without root it fails and says why', async () => {
    const uid = vi.spyOn(process, 'getuid').mockReturnValue(1000);
    try {
      await expect(NetLab.create()).rejects.toThrow(NetLabError);
      await expect(NetLab.create()).rejects.toThrow(/needs root/);
    } finally {
      uid.mockRestore();
    }
  });
});
