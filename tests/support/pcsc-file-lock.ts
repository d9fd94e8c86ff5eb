import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

/**
 * A cross-process mutex as a file created with O_EXCL holding the owner's pid. A lock whose
 * owner is dead (a test fork that crashed) is taken over. Used by the pcscd test support, whose
 * callers are vitest's parallel forks.
 */
export async function acquireFileLock(
  path: string,
  options: { timeoutMs: number; what: string },
): Promise<() => void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const release = tryAcquireFileLock(path);
    if (release) return release;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${options.timeoutMs} ms waiting for ${options.what} (lock ${path} held by pid ${lockOwner(path)})`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Takes the lock if free (or its owner is dead); returns its release, or undefined if held. */
export function tryAcquireFileLock(path: string): (() => void) | undefined {
  try {
    const fd = openSync(path, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (lockOwner(path) === process.pid) unlinkSync(path);
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const owner = lockOwner(path);
  if (owner !== undefined && !isAlive(owner)) {
    try {
      // Stale. Re-read just before unlinking so a lock just re-taken by a live process survives
      // (a narrow race remains; acceptable for test support).
      if (lockOwner(path) === owner) unlinkSync(path);
    } catch {
      /* already gone */
    }
  }
  return undefined;
}

function lockOwner(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
