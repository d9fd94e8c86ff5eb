/**
 * The token that scripts present to `pos-terminal serve` (`authorization: Bearer <token>` on the
 * WebSocket upgrade): 32 random bytes, base64url, in a file only the till's user can read (0600).
 * Created on first start; a file that others can read or write is refused.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';

export class ApiTokenError extends Error {
  constructor(
    readonly code: 'too_open' | 'invalid',
    message: string,
  ) {
    super(message);
    this.name = 'ApiTokenError';
  }
}

export function loadOrCreateApiToken(path: string): string {
  if (!existsSync(path)) {
    const token = randomBytes(32).toString('base64url');
    writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
    return token;
  }
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077)
    throw new ApiTokenError(
      'too_open',
      `API token file ${path} is readable or writable by others (mode ${mode.toString(8)}): chmod 600 it`,
    );
  const token = readFileSync(path, 'utf8').trim();
  if (!/^[A-Za-z0-9_-]{43}$/.test(token))
    throw new ApiTokenError('invalid', `API token file ${path} does not hold a token (32 bytes, base64url)`);
  return token;
}
