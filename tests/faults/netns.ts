/**
 * Test hosts in Linux network namespaces, joined to the root namespace by veth pairs (iproute2),
 * for fault tests that cut a network link. Needs root: without it `NetLab.create()` throws a
 * clear error (the suites fail, never skip).
 *
 * Every run has names of its own (the namespaces `bluetill-p<pid>-<hex>-<host>`, the veth ends
 * `bt<hex><n>h`/`bt<hex><n>n`) and a /16 of 10.x.0.0 that no interface of the machine uses. Each
 * link is a /30: the root end `10.x.n.1`, the host's end `10.x.n.2`. `close()` deletes every
 * namespace and veth pair of the run (deleting a namespace deletes the veth ends in it, and with
 * them their peers); it is idempotent and also runs when the process exits. `create()` first
 * deletes what runs whose process is gone left behind.
 *
 * A cut is one of:
 * - `drop`: both ends keep their address and state (UP), but every packet either end sends is
 *   discarded silently (a `tbf` qdisc with a one-byte bucket on each end's egress): TCP
 *   connections stay open and retransmit into nothing, new connections get no answer — the
 *   half-open case a firewall DROP or a dead switch gives.
 * - `down`: the host's end is set down: its routes go, and the host's sends fail at once.
 * `heal()` removes either.
 *
 * @example
 *   const lab = await NetLab.create();
 *   const a = lab.host('a');
 *   const toPg = lab.link(a);                       // a.ns reaches toPg.rootAddress
 *   spawn('ip', ['netns', 'exec', a.ns, process.execPath, 'server.js', '--host', toPg.hostAddress]);
 *   lab.cut(toPg, 'drop'); …; lab.heal(toPg);
 *   lab.close();
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export class NetLabError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NetLabError';
  }
}

export interface NetHost {
  readonly name: string;
  /** The namespace: run a process in it with `ip netns exec <ns> …`. */
  readonly ns: string;
}

export interface NetLink {
  readonly host: NetHost;
  /** The veth end in the root namespace, and its address. */
  readonly rootIf: string;
  readonly rootAddress: string;
  /** The veth end in the host's namespace, and its address. */
  readonly hostIf: string;
  readonly hostAddress: string;
  /** The /30 of the link, e.g. 10.77.3.0/30. */
  readonly subnet: string;
}

export type CutMode = 'drop' | 'down';

const NS_PREFIX = 'bluetill-p';

function ip(args: readonly string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr ?? '';
    throw new NetLabError(`ip ${args.join(' ')} failed: ${stderr.trim() || String(cause)}`, { cause });
  }
}

function tc(args: readonly string[], ns?: string): void {
  const argv = ns ? ['netns', 'exec', ns, 'tc', ...args] : undefined;
  try {
    if (argv) execFileSync('ip', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    else execFileSync('tc', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (cause) {
    const stderr = (cause as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new NetLabError(`tc ${args.join(' ')}${ns ? ` (in ${ns})` : ''} failed: ${stderr.trim()}`, {
      cause,
    });
  }
}

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Deletes the namespaces of runs whose process is gone (a run killed before its close()). */
function sweepDeadRuns(): void {
  const out = ip(['netns', 'list']);
  for (const line of out.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${NS_PREFIX}(\\d+)-`).exec(name);
    if (m && !pidAlive(Number(m[1]))) {
      try {
        ip(['netns', 'delete', name]);
      } catch {
        // Another run's sweep got it first.
      }
    }
  }
}

export class NetLab {
  private readonly hosts: NetHost[] = [];
  private readonly links: NetLink[] = [];
  private closed = false;
  private readonly onExit = () => this.close();

  private constructor(
    readonly runId: string,
    /** Second octet of the run's 10.x.0.0/16. */
    private readonly octet: number,
  ) {
    process.once('exit', this.onExit);
  }

  /** Checks root and iproute2, clears dead runs' leftovers, picks the run's names and its /16. */
  static async create(): Promise<NetLab> {
    if (process.getuid?.() !== 0)
      throw new NetLabError(
        'this test builds network namespaces and veth pairs (ip netns, ip link) and needs root: run it as root (CI does)',
      );
    try {
      execFileSync('ip', ['-V'], { stdio: 'ignore' });
      execFileSync('tc', ['-V'], { stdio: 'ignore' });
    } catch (cause) {
      throw new NetLabError('iproute2 (ip, tc) is missing: run make setup (Debian package iproute2)', {
        cause,
      });
    }
    sweepDeadRuns();
    const used = new Set(
      [...ip(['-4', '-o', 'addr', 'show']).matchAll(/inet 10\.(\d+)\./g)].map((m) => Number(m[1])),
    );
    let octet = 0;
    for (let i = 0; i < 100 && (octet === 0 || used.has(octet)); i++) octet = 64 + (randomBytes(1)[0]! % 190);
    if (used.has(octet)) throw new NetLabError('no free 10.x.0.0/16 for the test network');
    return new NetLab(randomBytes(2).toString('hex'), octet);
  }

  /** A new host: a namespace with its loopback up. */
  host(name: string): NetHost {
    if (!/^[a-z0-9]{1,12}$/.test(name))
      throw new NetLabError(`host name ${JSON.stringify(name)}: a-z, 0-9, ≤ 12`);
    const ns = `${NS_PREFIX}${process.pid}-${this.runId}-${name}`;
    ip(['netns', 'add', ns]);
    const host = { name, ns };
    this.hosts.push(host);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    return host;
  }

  /** A veth pair from the root namespace to `host`, a /30 of its own, both ends up. */
  link(host: NetHost): NetLink {
    const n = this.links.length + 1;
    if (n > 250) throw new NetLabError('at most 250 links per run');
    const rootIf = `bt${this.runId}${n}h`;
    const hostIf = `bt${this.runId}${n}n`;
    const rootAddress = `10.${this.octet}.${n}.1`;
    const hostAddress = `10.${this.octet}.${n}.2`;
    ip(['link', 'add', rootIf, 'type', 'veth', 'peer', 'name', hostIf, 'netns', host.ns]);
    const link = { host, rootIf, hostIf, rootAddress, hostAddress, subnet: `10.${this.octet}.${n}.0/30` };
    this.links.push(link);
    ip(['addr', 'add', `${rootAddress}/30`, 'dev', rootIf]);
    ip(['link', 'set', rootIf, 'up']);
    ip(['-n', host.ns, 'addr', 'add', `${hostAddress}/30`, 'dev', hostIf]);
    ip(['-n', host.ns, 'link', 'set', hostIf, 'up']);
    return link;
  }

  /** The run's whole 10.x.0.0/16 (for an allow list such as pg_hba). */
  get network(): string {
    return `10.${this.octet}.0.0/16`;
  }

  /** Cuts the link (see the file's comment for the modes). */
  cut(link: NetLink, mode: CutMode): void {
    if (mode === 'down') {
      ip(['-n', link.host.ns, 'link', 'set', link.hostIf, 'down']);
      return;
    }
    // A token bucket of one byte: every packet is larger than the bucket and is dropped.
    const blackhole = ['root', 'tbf', 'rate', '1kbit', 'burst', '1', 'latency', '1ms'];
    tc(['qdisc', 'add', 'dev', link.rootIf, ...blackhole]);
    tc(['qdisc', 'add', 'dev', link.hostIf, ...blackhole], link.host.ns);
  }

  /** Undoes `cut` (either mode); a link that is not cut is left as it is. */
  heal(link: NetLink): void {
    const qdiscs = execFileSync('tc', ['qdisc', 'show', 'dev', link.rootIf], { encoding: 'utf8' });
    if (/qdisc tbf/.test(qdiscs)) tc(['qdisc', 'del', 'dev', link.rootIf, 'root']);
    const inNs = execFileSync(
      'ip',
      ['netns', 'exec', link.host.ns, 'tc', 'qdisc', 'show', 'dev', link.hostIf],
      {
        encoding: 'utf8',
      },
    );
    if (/qdisc tbf/.test(inNs)) tc(['qdisc', 'del', 'dev', link.hostIf, 'root'], link.host.ns);
    ip(['-n', link.host.ns, 'link', 'set', link.hostIf, 'up']);
  }

  /** The argv prefix that runs a command in `host`'s namespace. */
  exec(host: NetHost, command: readonly string[]): { cmd: string; args: string[] } {
    return { cmd: 'ip', args: ['netns', 'exec', host.ns, ...command] };
  }

  /** Deletes every namespace and veth pair of the run; idempotent, and run at process exit. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    process.removeListener('exit', this.onExit);
    const errors: string[] = [];
    for (const link of this.links) {
      try {
        execFileSync('ip', ['link', 'delete', link.rootIf], { stdio: 'ignore' });
      } catch {
        // Gone with its namespace's end already.
      }
    }
    for (const host of this.hosts) {
      try {
        execFileSync('ip', ['netns', 'delete', host.ns], { stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (e) {
        errors.push(`${host.ns}: ${String((e as { stderr?: Buffer }).stderr ?? e)}`);
      }
    }
    if (errors.length) throw new NetLabError(`could not delete namespaces: ${errors.join('; ')}`);
  }

  /** Namespaces and root-side veth ends of this run that exist now (for the cleanup test). */
  leftovers(): string[] {
    const names = ip(['netns', 'list']);
    const links = ip(['-o', 'link', 'show']);
    return [
      ...this.hosts.filter((h) => names.includes(h.ns)).map((h) => h.ns),
      ...this.links
        .filter((l) => links.includes(`${l.rootIf}@`) || links.includes(`${l.rootIf}:`))
        .map((l) => l.rootIf),
    ];
  }
}
