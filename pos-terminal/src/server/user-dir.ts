/**
 * Where the user stands. `npm run serve -w @bluetill/pos-terminal -- --terminal .data/demo/…` runs
 * the script inside pos-terminal/, so a relative path on its command line would miss; npm keeps
 * the folder the user typed the command in as INIT_CWD. Only when npm runs this package's own
 * script: a till started by another program (the playground, a test) resolves from its own cwd.
 */
import { resolve } from 'node:path';

export const userDir = (env: NodeJS.ProcessEnv = process.env): string =>
  env.npm_package_name === '@bluetill/pos-terminal' && env.INIT_CWD ? env.INIT_CWD : process.cwd();

/** A path from the command line, resolved from where the user stands. */
export const fromUserDir = (path: string, env: NodeJS.ProcessEnv = process.env): string =>
  resolve(userDir(env), path);
