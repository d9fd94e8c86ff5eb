import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Starts the project's pg_auto_failover cluster (scripts/pg-cluster.sh: monitor, primary,
 * synchronous standby on free loopback ports) under a fresh temporary root for one test file, and
 * destroys it after. Fails loudly when the cluster cannot start (`make setup` installs
 * postgresql-15 and postgresql-15-auto-failover).
 *
 * @example
 *   const cluster = await startPostgresCluster();
 *   const sql = postgres(cluster.url);   // multi-host, target_session_attrs=read-write
 *   cluster.killNode('node1');           // kill -9 the node's keeper and postgres: a lost machine
 *   await cluster.destroy();
 */
export interface ClusterNode {
  readonly name: 'node1' | 'node2';
  readonly port: number;
  readonly pgdata: string;
}

export interface PostgresCluster {
  /** postgresql://USER@127.0.0.1:P1,127.0.0.1:P2/bluetill?target_session_attrs=read-write */
  readonly url: string;
  readonly monitorPort: number;
  readonly user: string;
  readonly nodes: readonly ClusterNode[];
  /** Milliseconds the script took to build the cluster and see a primary with a synchronous standby. */
  readonly startupMs: number;
  /** The URL of one node alone (no failover), for checks against that node. */
  nodeUrl(name: ClusterNode['name']): string;
  /** kill -9 the node's pg_auto_failover keeper and its PostgreSQL (the process group and the postmaster). */
  killNode(name: ClusterNode['name']): void;
  /** Runs a query on the monitor (pg_auto_failover database) through psql and returns its output. */
  monitor(query: string): Promise<string>;
  /**
   * The node the monitor holds as primary (reported and assigned `primary` or `wait_primary`);
   * undefined while there is none (a failover under way).
   */
  primary(): Promise<ClusterNode['name'] | undefined>;
  /**
   * Runs the script's `start` again: a killed node is started and pg_autoctl rejoins it (a killed
   * primary as the standby of the promoted one); resolves once there is a primary with a
   * synchronous standby again.
   */
  restart(): Promise<void>;
  destroy(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL('../../../scripts/pg-cluster.sh', import.meta.url));

function runScript(
  command: string,
  root: string,
  timeoutMs: number,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, command], {
      env: { ...process.env, CLUSTER_ROOT: root, CLUSTER_JSON: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

export async function startPostgresCluster(): Promise<PostgresCluster> {
  const started = Date.now();
  const parent = mkdtempSync(join(tmpdir(), 'bluetill-cluster-'));
  chmodSync(parent, 0o711); // the cluster's user (postgres, when we are root) must reach its root inside
  const root = join(parent, 'cluster');
  const destroy = async () => {
    await runScript('destroy', root, 60_000);
    rmSync(parent, { recursive: true, force: true });
  };
  const out = await runScript('start', root, 240_000);
  if (out.status !== 0) {
    const logs = ['create-monitor', 'create-node1', 'create-node2', 'monitor', 'node1', 'node2']
      .map((n) => {
        try {
          return `--- ${n}.log\n${readFileSync(join(root, `${n}.log`), 'utf8').slice(-1500)}`;
        } catch {
          return '';
        }
      })
      .join('\n');
    await destroy();
    throw new Error(
      `scripts/pg-cluster.sh start failed (exit ${out.status}): ${out.stderr.slice(-2000)}\n${logs}`,
    );
  }
  type Info = {
    url: string;
    monitorPort: number;
    user: string;
    nodes: { name: 'node1' | 'node2'; port: number; pgdata: string; pgid: number }[];
  };
  let info = JSON.parse(out.stdout.trim().split('\n').pop()!) as Info;
  const byName = (name: string) => {
    const n = info.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no cluster node ${name}`);
    return n;
  };
  const monitor = async (query: string): Promise<string> => {
    const r = await new Promise<{ status: number | null; out: string }>((resolve, reject) => {
      const child = spawn(
        '/usr/lib/postgresql/15/bin/psql',
        [
          '-X',
          '-At',
          '-h',
          '127.0.0.1',
          '-p',
          String(info.monitorPort),
          '-U',
          info.user,
          '-d',
          'pg_auto_failover',
          '-c',
          query,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (out += b.toString()));
      child.once('error', reject);
      child.once('close', (status) => resolve({ status, out }));
    });
    if (r.status !== 0) throw new Error(`monitor query failed: ${r.out}`);
    return r.out.trim();
  };
  return {
    url: info.url,
    monitorPort: info.monitorPort,
    user: info.user,
    nodes: info.nodes.map(({ name, port, pgdata }) => ({ name, port, pgdata })),
    startupMs: Date.now() - started,
    nodeUrl: (name) => `postgresql://${info.user}@127.0.0.1:${byName(name).port}/bluetill`,
    killNode(name) {
      const n = byName(name);
      let postmaster: number | undefined;
      try {
        postmaster = Number(readFileSync(join(n.pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
      } catch {
        postmaster = undefined;
      }
      try {
        process.kill(-n.pgid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      if (postmaster)
        try {
          process.kill(postmaster, 'SIGKILL');
        } catch {
          /* already gone */
        }
    },
    async primary() {
      const name = await monitor(
        `SELECT nodename FROM pgautofailover.node WHERE reportedstate IN ('primary', 'wait_primary') AND goalstate IN ('primary', 'wait_primary')`,
      );
      return name === 'node1' || name === 'node2' ? name : undefined;
    },
    async restart() {
      const again = await runScript('start', root, 240_000);
      if (again.status !== 0)
        throw new Error(
          `scripts/pg-cluster.sh start (again) failed (exit ${again.status}): ${again.stderr.slice(-2000)}`,
        );
      // The restarted nodes run in new process groups.
      info = JSON.parse(again.stdout.trim().split('\n').pop()!) as Info;
    },
    monitor,
    destroy,
  };
}
