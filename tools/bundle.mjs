#!/usr/bin/env node
// @ts-check
/**
 * Bundles the daemon (dist/daemon/main.js and the udp datapath's worker) into dist/bundle/ with
 * esbuild, so a start reads a few files instead of resolving, reading and lexing ~300 modules
 * (etcd3, grpc-js, protobufjs, pino, prom-client, cockatiel and ours): on 2 vCPUs that module
 * loading was most of the CPU a daemon spends before it writes subnet.env (bench/startup.ts).
 *
 * Code split (ESM `splitting`): what main.js loads lazily (a backend the network config did not
 * choose, `overlayd status|diagnose`) stays a separate chunk, loaded only when asked for.
 *
 * etcd3 parses its rpc.proto (36 kB of text) with protobufjs at module load. Here that parse is
 * done once, at build time: the call is replaced by proto-loader's own fromJSON() of the parsed
 * tree, which builds the same service definitions (method paths, serializers) without the text
 * parser; tools/etcd-proto.test.ts checks the two encode the same bytes.
 *
 * Runs after tsc (`npm run build`): it bundles the JavaScript the tests also run, not the sources.
 *
 *   node tools/bundle.mjs [ROOT]      ROOT: the repository (default this file's)
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { replaceEtcdProtoLoad } from './etcd-proto.mjs';

const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
const require = createRequire(join(root, 'package.json'));
// Bundling starts from tsc's output, so the build-time half of the etcd proto work comes from dist/ too.
/** @type {typeof import('../subnet-lease/etcd-proto-manifest.js')} */
const { etcdProtoManifest } = await import(
  pathToFileURL(join(root, 'dist', 'subnet-lease', 'etcd-proto-manifest.js')).href
);

/** @type {import('esbuild').Plugin} */
const etcdProtoAtBuildTime = {
  name: 'etcd-proto-at-build-time',
  setup(b) {
    const file = require.resolve('etcd3/lib/connection-pool.js');
    const proto = join(dirname(file), '..', 'proto', 'rpc.proto');
    b.onLoad({ filter: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, (args) => {
      if (args.path !== file) return undefined;
      const manifest = etcdProtoManifest(proto);
      const definition = join(root, 'dist', 'subnet-lease', 'etcd-grpc-definition.js');
      return {
        contents: replaceEtcdProtoLoad(readFileSync(file, 'utf8'), manifest, definition),
        loader: 'js',
      };
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: {
    main: 'dist/daemon/main.js',
    // worker-set.ts starts it as new URL('./datapath-worker.js', import.meta.url), and worker-set
    // itself lands in a chunk (it is loaded with the udp backend): so beside the chunks.
    'chunks/datapath-worker': 'dist/encap/udp/datapath-worker.js',
  },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  // The CommonJS packages inside call require() for node's own modules; an ES module has none.
  banner: {
    js: 'import { createRequire as __overlaydRequire } from "node:module"; const require = __overlaydRequire(import.meta.url);',
  },
  // The native addon stays a file of its own (sys/native.ts finds it from the package root).
  external: ['*.node'],
  sourcemap: 'linked',
  // Less text for V8 to scan at start (~6% of start-up CPU); names are kept, so stack traces still read.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'linked',
  logLevel: 'warning',
  plugins: [etcdProtoAtBuildTime],
});

// A file the bundle finds next to itself (a worker's script) must be there: checked here, not at
// the first start of a worker on some node.
for (const dir of [outdir, join(outdir, 'chunks')])
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.js'))) {
    const text = readFileSync(join(dir, name), 'utf8');
    for (const m of text.matchAll(/new URL\("(\.[^"]+)",\s*import\.meta\.url\)/g))
      if (!existsSync(join(dir, m[1])))
        throw new Error(
          `tools/bundle.mjs: ${join(dir, name)} refers to ${m[1]}, which the bundle does not have`,
        );
  }
