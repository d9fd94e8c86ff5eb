import { describe, expect, it } from 'vitest';
import { fromUserDir, userDir } from './user-dir';

describe('userDir', () => {
  it('is where the user typed `npm run serve -w @bluetill/pos-terminal` (INIT_CWD), not the package folder npm runs it in', () => {
    const env = { npm_package_name: '@bluetill/pos-terminal', INIT_CWD: '/home/me/bluetill' };
    expect(userDir(env)).toBe('/home/me/bluetill');
    expect(fromUserDir('.data/demo/terminal-T-0001.json', env)).toBe(
      '/home/me/bluetill/.data/demo/terminal-T-0001.json',
    );
    expect(fromUserDir('/abs/file', env)).toBe('/abs/file');
  });

  it("is the process's own cwd when npm runs another package's script (the playground spawning the till) or no npm at all", () => {
    expect(userDir({ npm_package_name: 'bluetill', INIT_CWD: '/elsewhere' })).toBe(process.cwd());
    expect(userDir({})).toBe(process.cwd());
  });
});
