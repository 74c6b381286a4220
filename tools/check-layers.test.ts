/** The layer check itself: it accepts this repository, and refuses each kind of crossing import. */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkRepository, checkSources, importsOf, loadConfig } from './check-layers.mjs';

const root = new URL('..', import.meta.url).pathname;
const config = loadConfig(`${root}tools/layers.json`);

/** Checks a small tree: path -> source text. */
function check(tree: Record<string, string>): string[] {
  return checkSources(config, new Map(Object.entries(tree))).map(
    (v) => `${v.file} ${v.specifier} | ${v.problem}`,
  );
}

describe('layer check', () => {
  it('accepts the repository as it is', () => {
    const { files, violations } = checkRepository(root);
    expect(violations).toEqual([]);
    expect(files).toBeGreaterThan(100);
  });

  it('is part of npm run lint', () => {
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts['lint']).toContain('node tools/check-layers.mjs');
  });

  it('exits 1 and names the import when a tree breaks the rules (what fails npm run lint)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'overlayd-layers-'));
    try {
      mkdirSync(join(dir, 'tools'));
      mkdirSync(join(dir, 'core'));
      mkdirSync(join(dir, 'daemon'));
      copyFileSync(`${root}tools/layers.json`, join(dir, 'tools', 'layers.json'));
      writeFileSync(join(dir, 'core', 'errors.ts'), "import { Flags } from '../daemon/flags.js';\n");
      writeFileSync(join(dir, 'daemon', 'flags.ts'), 'export interface Flags {}\n');
      let status = 0;
      let stderr = '';
      try {
        execFileSync(process.execPath, [`${root}tools/check-layers.mjs`, dir], { stdio: 'pipe' });
      } catch (err) {
        ({ status, stderr } = err as { status: number; stderr: string });
      }
      expect(status).toBe(1);
      expect(String(stderr)).toContain(
        "core/errors.ts: '../daemon/flags.js' core may not import daemon (it may import: nothing of ours)",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an import up the layers, naming both layers and the reason', () => {
    const out = checkSources(
      config,
      new Map([
        ['encap/backend.ts', "import type { ExternalInterface } from '../daemon/iface.js';"],
        ['daemon/iface.ts', ''],
      ]),
    );
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({
      file: 'encap/backend.ts',
      specifier: '../daemon/iface.js',
      problem: 'encap may not import daemon (it may import: core, sys)',
    });
    expect(out[0]!.why).toMatch(/never the daemon/);
  });

  it('sees type-only, re-exported and dynamic imports alike', () => {
    expect(
      importsOf("import type { A } from './a.js'; export * from './b.js'; await import('./c.js');"),
    ).toEqual(['./a.js', './b.js', './c.js']);
    expect(check({ 'sys/a.ts': "export { X } from '../encap/pool.js';", 'encap/pool.ts': '' })).toEqual([
      'sys/a.ts ../encap/pool.js | sys may not import encap (it may import: core)',
    ]);
  });

  it('keeps core free of every other layer and of packages, node:* included', () => {
    expect(
      check({
        'core/a.ts':
          "import { readFileSync } from 'node:fs';\nimport pino from 'pino';\nimport '../sys/native.js';",
        'sys/native.ts': '',
      }),
    ).toEqual([
      'core/a.ts node:fs | core may import no package but none',
      'core/a.ts pino | core may import no package but none',
      'core/a.ts ../sys/native.js | imports sys/native.ts, which only sys/, bench/js-forwarder.ts, test/support/native-hostile.ts may import',
      'core/a.ts ../sys/native.js | core may not import sys (it may import: nothing of ours)',
    ]);
  });

  it('keeps etcd3 inside subnet-lease and the native addon inside sys', () => {
    expect(
      check({
        'daemon/d.ts': "import { Etcd3 } from 'etcd3';",
        'subnet-lease/registry.ts': "import type { Etcd3 } from 'etcd3';",
        'subnet-lease/peer-watch.ts': "import type { EtcdRegistry } from './registry.js';",
        'encap/udp/w.ts': "import { nativeSys } from '../../sys/native.js';",
        'sys/batch-io.ts': "import { nativeSys } from './native.js';",
        'sys/native.ts': '',
      }),
    ).toEqual([
      'daemon/d.ts etcd3 | imports etcd3, which only subnet-lease/, test/ may import',
      'subnet-lease/peer-watch.ts ./registry.js | imports subnet-lease/registry.ts, which only subnet-lease/etcd-client.ts, subnet-lease/peer-watch.test.ts, subnet-lease/registry-watch.test.ts, test/ may import',
      'encap/udp/w.ts ../../sys/native.js | imports sys/native.ts, which only sys/, bench/js-forwarder.ts, test/support/native-hostile.ts may import',
    ]);
  });

  it('keeps backends apart and test doubles out of the product', () => {
    expect(
      check({
        'encap/vxlan/v.ts': "import '../host-gw/h.js';\nimport '../kernel/k.js';",
        'encap/host-gw/h.ts': '',
        'encap/kernel/k.ts': '',
        'encap/udp/engine.ts': "import '../../test/support/memory-io.js';",
        'encap/udp/engine.test.ts': "import '../../test/support/memory-io.js';",
        'test/support/memory-io.ts': '',
      }),
    ).toEqual([
      'encap/vxlan/v.ts ../host-gw/h.js | encap/vxlan/ may not import encap/host-gw/',
      'encap/udp/engine.ts ../../test/support/memory-io.js | backends may not import test-support (it may import: core, sys, encap, wireguard-protocol)',
    ]);
  });

  it('refuses a file in no layer', () => {
    expect(check({ 'misc/x.ts': '' })).toEqual([
      'misc/x.ts  | belongs to no layer; add its folder to tools/layers.json',
    ]);
  });
});
