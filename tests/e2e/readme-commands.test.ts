/**
 * The root README's commands work as written, from the repository root. Every shell command in its
 * "Quick start" and "Getting started" names an npm script, a make target or a file that exists;
 * the blocks marked `<!-- doc-test: playground -->` are run as written (the first command in the
 * background until the others are done), each checked against what its comment says. The demo
 * cards' table matches DEMO_CARDS (ids, PINs), so it cannot go stale.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_CARDS } from '@bluetill/backend';

const root = resolve(import.meta.dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The text of a `## ` section, up to the next one. */
const section = (title: string): string => {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README has no section "${title}"`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
};

interface Block {
  readonly marker: string | null;
  /** Each command line: the command, and its trailing comment. */
  readonly lines: ReadonlyArray<{ command: string; comment: string }>;
}

function shellBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  for (const m of text.matchAll(/(?:<!-- doc-test: (\w+)[^>]*-->\n)?```sh\n([\s\S]*?)```/g)) {
    const lines = m[2]!
      .split('\n')
      .filter((l) => l.trim() && !l.trim().startsWith('#'))
      .map((l) => {
        const hash = l.search(/\s#\s/);
        return {
          command: (hash < 0 ? l : l.slice(0, hash)).trim(),
          comment: hash < 0 ? '' : l.slice(hash).replace(/^\s*#\s*/, ''),
        };
      });
    blocks.push({ marker: m[1] ?? null, lines });
  }
  return blocks;
}

const blocks = [...shellBlocks(section('Quick start')), ...shellBlocks(section('Getting started'))];
const pkg = (dir: string) =>
  JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as {
    name: string;
    scripts?: Record<string, string>;
  };
const workspaces = (
  JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] }
).workspaces.map(pkg);
const makeTargets = new Set(
  [...readFileSync(join(root, 'Makefile'), 'utf8').matchAll(/^([a-z][\w-]*):/gm)].map((m) => m[1]),
);

/** What is wrong with one command as written (an npm script, make target or file that does not exist), or null. */
function problem(command: string): string | null {
  for (const part of command.split(/\s*(?:\||&&|;)\s*/)) {
    const words = part.replace(/^([A-Z_]+=\S+\s+)+/, '').split(/\s+/);
    if (words[0] === 'npm' && words[1] === 'run') {
      const w = words.indexOf('-w');
      const where = w < 0 ? pkg('.') : workspaces.find((p) => p.name === words[w + 1]);
      if (!where?.scripts?.[words[2]!])
        return `no npm script "${words[2]}" in ${w < 0 ? 'the root package' : words[w + 1]}`;
    } else if (words[0] === 'make') {
      if (!makeTargets.has(words[1]!)) return `no make target "${words[1]}"`;
    } else if (/^[\w-]+\/[\w./-]+$/.test(words[0]!) && !existsSync(join(root, words[0]!)))
      return `no file ${words[0]}`;
  }
  return null;
}

const dir = mkdtempSync(join(tmpdir(), 'bluetill-readme-'));
const env = { ...process.env, BLUETILL_PLAYGROUND_DIR: dir, BLUETILL_PLAYGROUND_PORT: '0' };
const background: ChildProcess[] = [];

function run(command: string): Promise<{ code: number; out: string }> {
  return new Promise((done, fail) => {
    const child = spawn('bash', ['-c', command], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, out }));
  });
}

/** Starts a command that runs until stopped (its own process group); resolves once it printed `ready`. */
function startInBackground(command: string, ready: string): Promise<ChildProcess> {
  const child = spawn('bash', ['-c', command], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  background.push(child);
  let out = '';
  return new Promise((done, fail) => {
    const seen = (d: Buffer) => {
      out += d.toString();
      if (out.includes(ready)) done(child);
    };
    child.stdout?.on('data', seen);
    child.stderr?.on('data', seen);
    child.once('exit', (code) => fail(new Error(`"${command}" exited (${code}): ${out}`)));
  });
}

async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(-child.pid!, 'SIGTERM');
  await gone;
}

afterAll(async () => {
  for (const c of background) await stopGroup(c).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('the root README, as a newcomer reads it', () => {
  it('every command in Quick start and Getting started names a script, target or file that exists', () => {
    const commands = blocks.flatMap((b) => b.lines.map((l) => l.command));
    expect(commands).toEqual(
      expect.arrayContaining(['make start', 'npm run till', 'npm run phones -- --count 2 --ring-up']),
    );
    expect(commands.map((c) => [c, problem(c)]).filter(([, p]) => p !== null)).toEqual([]);
    // and the check tells a command that would fail
    expect(problem('npm run serve -w @bluetill/backend -- --dir x')).toMatch(
      /no npm script "serve" in @bluetill\/backend/,
    );
    expect(problem('echo 1 | npm run nothing')).toMatch(/no npm script/);
    expect(problem('make nowhere')).toMatch(/no make target/);
    expect(problem('simulator/bin/bluetill-nothing.mjs --count 1')).toMatch(/no file/);
  });

  it('the demo cards table lists every demo card with its PIN, and no other', () => {
    const rows = [...section('Getting started').matchAll(/^\| `(card-[a-z]+)` \| `(\d+)` \|/gm)].map((m) => ({
      id: m[1],
      pin: m[2],
    }));
    expect(rows).toEqual(DEMO_CARDS.map((c) => ({ id: c.id, pin: c.pin })));
  });

  it(
    'the playground commands run as written: the till in the background, then the phones, each as its comment says',
    { timeout: 240_000 },
    async () => {
      const marked = blocks.filter((b) => b.marker === 'playground');
      expect(marked).toHaveLength(1);
      const [first, ...rest] = marked[0]!.lines;
      const till = await startInBackground(first!.command, 'What to do next:');
      for (const line of rest) {
        const r = await run(line.command);
        if (/declined/.test(line.comment)) expect(r.out, line.command).toMatch(/— declined/);
        else {
          expect(r.out, line.command).not.toMatch(/— (declined|failed)/);
          expect(r.code, `${line.command}\n${r.out}`).toBe(0);
        }
      }
      await stopGroup(till);
      // npm exits at the signal; the playground under it then stops the till, the radio and the
      // backend, and removes its control file: wait for that (bounded), then check it is gone.
      for (const until = Date.now() + 15_000; existsSync(join(dir, 'control.json')) && Date.now() < until;)
        await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(join(dir, 'control.json'))).toBe(false);
    },
  );
});
