#!/usr/bin/env node
// @ts-check
/**
 * The layer check of `npm run lint`: reads every TypeScript file's imports with the TypeScript
 * compiler's own pre-processor (static, type-only, re-exports and dynamic import() alike) and
 * refuses those that tools/layers.json does not allow, printing the rule's reason. Plain
 * JavaScript so it runs before anything is built.
 *
 *   node tools/check-layers.mjs [ROOT]   exit 0, or 1 with one line per refused import
 *                                        (ROOT: the repository, default this file's)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * @typedef {{ name: string, paths: string[], mayImport: string[], packages?: string[],
 *   apart?: boolean, why: string }} Layer
 * @typedef {{ module: string, onlyFrom: string[], why: string }} Restriction
 * @typedef {{ layers: Layer[], tests: { suffix: string, alsoImport: string[], why: string },
 *   restricted: Restriction[] }} LayerConfig
 * @typedef {{ file: string, specifier: string, problem: string, why: string }} Violation
 */

const SOURCE = /\.(ts|mts|mjs)$/;
const SKIP_DIRS = new Set(['node_modules', 'dist', 'build', '.git']);

/** @param {string} path @returns {LayerConfig} */
export function loadConfig(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** A path entry matches a folder (ends with "/") by prefix, a file exactly. */
function matches(/** @type {string} */ entry, /** @type {string} */ file) {
  return entry.endsWith('/') ? file.startsWith(entry) : file === entry;
}

/**
 * The layer a repository-relative file belongs to, and which of its paths (the longest match,
 * so test/support/ wins over test/).
 * @param {LayerConfig} config @param {string} file
 * @returns {{ layer: Layer, path: string } | undefined}
 */
export function layerOf(config, file) {
  /** @type {{ layer: Layer, path: string } | undefined} */
  let best;
  for (const layer of config.layers)
    for (const path of layer.paths)
      if (matches(path, file) && (!best || path.length > best.path.length)) best = { layer, path };
  return best;
}

/** The module specifiers a source text imports, as the TypeScript compiler sees them. */
export function importsOf(/** @type {string} */ text) {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** "node:fs" -> "node:*"; "@scope/pkg/sub" -> "@scope/pkg"; "pkg/sub" -> "pkg". */
function packageOf(/** @type {string} */ specifier) {
  if (specifier.startsWith('node:')) return 'node:*';
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/**
 * Checks one file's imports. `exists` says whether a repository-relative path is a source file
 * (so "./x.js" resolves to "x.ts" as NodeNext does).
 * @param {LayerConfig} config @param {string} file @param {readonly string[]} specifiers
 * @param {(path: string) => boolean} exists
 * @returns {Violation[]}
 */
export function checkFile(config, file, specifiers, exists) {
  /** @type {Violation[]} */
  const out = [];
  const from = layerOf(config, file);
  if (!from) {
    const problem = 'belongs to no layer; add its folder to tools/layers.json';
    return [{ file, specifier: '', problem, why: 'every source file has a place in the layers' }];
  }
  const isTest = file.endsWith(config.tests.suffix);
  const allowed = new Set([...from.layer.mayImport, ...(isTest ? config.tests.alsoImport : [])]);
  for (const specifier of specifiers) {
    const refuse = (/** @type {string} */ problem, /** @type {string} */ why) =>
      out.push({ file, specifier, problem, why });
    const relativeImport = specifier.startsWith('./') || specifier.startsWith('../');
    const target = relativeImport ? resolveTarget(file, specifier, exists) : packageOf(specifier);
    for (const r of config.restricted) {
      const hit = relativeImport ? target === r.module : packageOf(r.module) === target;
      if (hit && !r.onlyFrom.some((entry) => matches(entry, file)))
        refuse(`imports ${r.module}, which only ${r.onlyFrom.join(', ')} may import`, r.why);
    }
    if (!relativeImport) {
      const pkgs = from.layer.packages;
      if (pkgs && !isTest && !pkgs.includes(target))
        refuse(`${from.layer.name} may import no package but ${pkgs.join(', ') || 'none'}`, from.layer.why);
      continue;
    }
    if (target.startsWith('../')) {
      refuse('reaches outside the repository', 'imports stay inside the project');
      continue;
    }
    const to = layerOf(config, target);
    if (!to) {
      refuse(`${target} belongs to no layer`, 'every source file has a place in the layers');
      continue;
    }
    if (to.path === from.path) continue;
    if (to.layer === from.layer) {
      if (from.layer.apart) refuse(`${from.path} may not import ${to.path}`, from.layer.why);
      continue;
    }
    if (!allowed.has(to.layer.name)) {
      const may = from.layer.mayImport.join(', ') || 'nothing of ours';
      refuse(`${from.layer.name} may not import ${to.layer.name} (it may import: ${may})`, from.layer.why);
    }
  }
  return out;
}

/** "./x.js" from "a/b.ts" -> "a/x.ts" when that source exists (NodeNext's .js-for-.ts rule). */
function resolveTarget(
  /** @type {string} */ file,
  /** @type {string} */ specifier,
  /** @type {(p: string) => boolean} */ exists,
) {
  const joined = posix.normalize(posix.join(posix.dirname(file), specifier));
  const asTs = joined.replace(/\.js$/, '.ts').replace(/\.mjs$/, '.mts');
  return exists(asTs) ? asTs : joined;
}

/**
 * Checks a whole tree given as repository-relative path -> source text.
 * @param {LayerConfig} config @param {ReadonlyMap<string, string>} sources @returns {Violation[]}
 */
export function checkSources(config, sources) {
  const exists = (/** @type {string} */ p) => sources.has(p);
  return [...sources].flatMap(([file, text]) => checkFile(config, file, importsOf(text), exists));
}

/** Every source file under `root`, as repository-relative POSIX paths. */
export function listSources(/** @type {string} */ root) {
  /** @type {string[]} */
  const files = [];
  const walk = (/** @type {string} */ dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name) && !entry.name.startsWith('.')) walk(join(dir, entry.name));
      } else if (SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts')) {
        files.push(relative(root, join(dir, entry.name)).split(sep).join('/'));
      }
    }
  };
  walk(root);
  return files.sort();
}

/** Checks the repository at `root` against its tools/layers.json. */
export function checkRepository(/** @type {string} */ root) {
  const config = loadConfig(join(root, 'tools', 'layers.json'));
  const sources = new Map(listSources(root).map((f) => [f, readFileSync(join(root, f), 'utf8')]));
  return { files: sources.size, violations: checkSources(config, sources) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = process.argv[2] ?? dirname(dirname(fileURLToPath(import.meta.url)));
  const { files, violations } = checkRepository(root);
  for (const v of violations)
    process.stderr.write(
      `${v.file}: ${v.specifier ? `'${v.specifier}' ` : ''}${v.problem}\n    why: ${v.why}\n`,
    );
  if (violations.length > 0) {
    process.stderr.write(`layers: ${violations.length} import(s) break tools/layers.json\n`);
    process.exit(1);
  }
  process.stdout.write(`layers: ${files} files keep to tools/layers.json\n`);
}
