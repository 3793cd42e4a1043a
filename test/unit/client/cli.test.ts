// CLI pieces that need no server: usage errors (exit 2), the txn file
// format, tables and key formatting, bench percentiles.

import { describe, expect, it } from 'vitest';
import { main, parseMutations } from '../../../src/cli/main';
import { formatKey, table } from '../../../src/cli/format';
import { progressBar, quantile } from '../../../src/cli/bench';

async function cli(argv: string[], env: Record<string, string> = { REGIONKV_TOKEN: 't' }) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env, stderrIsTty: false });
  return { code, stdout, stderr };
}

describe('cli usage', () => {
  it('exits 2 with usage for unknown commands, flags, wrong arity and a missing token', async () => {
    for (const argv of [['nope'], ['get'], ['get', 'a', 'b'], ['get', 'a', '--bogus'], ['scan', '--limit', 'x'], ['add-peer', '1', 'two']]) {
      const res = await cli(argv);
      expect(res.code, argv.join(' ')).toBe(2);
      expect(res.stderr).toContain('usage: regionkv');
    }
    expect((await cli(['get', 'a'], {})).stderr).toContain('no token');
    expect((await cli([])).code).toBe(2);
    expect(await cli(['--help'])).toMatchObject({ code: 0 });
  });

  it('exits 1 with the code on an API error', async () => {
    // Nothing listens on port 1: a network error is reported as UNAVAILABLE.
    const res = await cli(['get', 'k', '--url', 'http://127.0.0.1:1']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^regionkv: UNAVAILABLE: /);
  });

  it('reads txn files as an array or a commit body', () => {
    expect(parseMutations('[{"op":"put","key":"a","value":"1"},{"op":"delete","key":"b"}]')).toEqual([
      { op: 'put', key: 'a', value: '1' },
      { op: 'delete', key: 'b' },
    ]);
    expect(parseMutations('{"mutations":[{"op":"delete","key":"b"}]}')).toEqual([{ op: 'delete', key: 'b' }]);
    expect(() => parseMutations('{"op":"put"}')).toThrow(/array of mutations/);
    expect(() => parseMutations('[{"op":"put","key":"a"}]')).toThrow(/mutation 0/);
  });
});

describe('cli formatting', () => {
  it('formats keys as quoted text or hex', () => {
    expect(formatKey(new TextEncoder().encode('user/1'))).toBe('"user/1"');
    expect(formatKey(Uint8Array.of(0xff, 0x01))).toBe('0xff01');
    expect(formatKey(Uint8Array.of(0x41, 0x0a))).toBe('0x410a');
  });

  it('pads table columns', () => {
    expect(table(['a', 'bb'], [['xyz', '1']])).toBe('a    bb\n---  --\nxyz  1\n');
  });

  it('computes nearest-rank percentiles and a progress bar', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantile(sorted, 0.5)).toBe(50);
    expect(quantile(sorted, 0.99)).toBe(99);
    expect(quantile([], 0.5)).toBe(0);
    expect(progressBar(5, 10, 10)).toBe('[#####.....] 5/10');
  });
});
