// The functions' bundles for the local runtime's execution environments: one esbuild run for a set of functions,
// kept in .local/environments/ and reused while none of the files it read has changed (npm start and every test
// file would otherwise pay seconds of bundling each time).
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive } from './instance.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ROOT = join(REPO_ROOT, '.local', 'environments');
const BUILDS = join(ROOT, 'builds');
const SETS = join(ROOT, 'sets');

/** What a bundle needs to know about its function. */
export interface BundledFunction {
  readonly id: string;
  /** Entry file relative to the repository root; it exports `handler`. */
  readonly entry: string;
  /** `none`: the environment loads no DynamoDB client (its cloud bundle has none either). */
  readonly access?: 'none' | 'read' | 'write';
}

/** Each function's bundle file; `release` says this process no longer starts environments from them. */
export interface FunctionBundles {
  files: ReadonlyMap<string, string>;
  release: () => void;
}

/** The build of a set of functions, and every file it read with its size and mtime when it was built. */
interface Manifest {
  build: string;
  inputs: Record<string, [size: number, mtimeMs: number]>;
}

/**
 * The bundles of `functions`: the cached build when every input is unchanged, else a new esbuild run. Each bundle also
 * carries the environment's side (environment-worker.ts): the handler's module, its DynamoDB client and everything
 * they import are evaluated once per environment.
 */
export async function bundleFunctions(functions: readonly BundledFunction[]): Promise<FunctionBundles> {
  const setFile = join(SETS, `${setKey(functions)}.json`);
  const cached = readManifest(setFile);
  const build = cached && isCurrent(cached) ? cached.build : await buildFunctions(functions, setFile);
  return use(build, functions);
}

/** The set's name: which functions, bundled by which Node and esbuild, with which entry source. */
function setKey(functions: readonly BundledFunction[]): string {
  const esbuild = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/esbuild/package.json'), 'utf8')) as {
    version: string;
  };
  return createHash('sha256')
    .update(
      JSON.stringify([
        process.versions.node,
        esbuild.version,
        entrySource.toString(),
        functions.map(({ id, entry, access }) => [id, entry, access]),
      ]),
    )
    .digest('hex')
    .slice(0, 16);
}

function readManifest(file: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

function isCurrent({ build, inputs }: Manifest): boolean {
  if (!existsSync(join(BUILDS, build, 'complete'))) return false;
  return Object.entries(inputs).every(([path, [size, mtimeMs]]) => {
    try {
      const stat = statSync(join(REPO_ROOT, path));
      return stat.size === size && stat.mtimeMs === mtimeMs;
    } catch {
      return false;
    }
  });
}

/** The virtual entry of a function's bundle. */
function entrySource(fn: BundledFunction): string {
  const file = (path: string) => JSON.stringify(join(REPO_ROOT, path));
  return [
    // First: every Date of the environment comes from its clock.
    `import ${file('infra/local/environment-clock.ts')};`,
    `import { handler } from ${file(fn.entry)};`,
    fn.access === 'none' ? '' : `import { dynamo } from ${file('shared/db/client.ts')};`,
    `import { serveInvocations } from ${file('infra/local/environment-worker.ts')};`,
    `serveInvocations(handler, ${fn.access === 'none' ? 'undefined' : 'dynamo'});`,
  ].join('\n');
}

/** One esbuild run into a new build folder; the set's manifest then points at it (written whole, then renamed). */
async function buildFunctions(functions: readonly BundledFunction[], setFile: string): Promise<string> {
  pruneBuilds();
  const build = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const dir = join(BUILDS, build);
  mkdirSync(dir, { recursive: true });
  const byId = new Map(functions.map((fn) => [fn.id, fn]));
  const { build: esbuild } = await import('esbuild');
  let inputs: string[];
  try {
    const result = await esbuild({
      absWorkingDir: REPO_ROOT,
      entryPoints: functions.map((fn) => ({ in: `environment:${fn.id}`, out: fn.id })),
      plugins: [
        {
          name: 'environment-entries',
          setup(plugin) {
            plugin.onResolve({ filter: /^environment:/ }, (args) => ({
              path: args.path.slice('environment:'.length),
              namespace: 'environment',
            }));
            plugin.onLoad({ filter: /.*/, namespace: 'environment' }, (args) => {
              const fn = byId.get(args.path);
              return fn ? { contents: entrySource(fn), resolveDir: REPO_ROOT, loader: 'ts' } : undefined;
            });
          },
        },
      ],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: `node${process.versions.node.split('.')[0]}`,
      // As infra/bundling.ts: each package's ES build, and require() for the CommonJS ones bundled into ESM.
      mainFields: ['module', 'main'],
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      keepNames: true,
      outdir: dir,
      outExtension: { '.js': '.mjs' },
      metafile: true,
      logLevel: 'silent',
    });
    inputs = Object.keys(result.metafile.inputs).filter((path) => !path.includes(':'));
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const errors = (error as { errors?: { text: string; location?: { file: string } | null }[] }).errors;
    const detail = errors?.map((e) => `${e.location?.file ?? ''}: ${e.text}`).join('; ');
    throw new Error(`The local runtime could not bundle the functions: ${detail ?? String(error)}`);
  }
  const manifest: Manifest = { build, inputs: {} };
  for (const path of inputs) {
    const stat = statSync(join(REPO_ROOT, path));
    manifest.inputs[path] = [stat.size, stat.mtimeMs];
  }
  writeFileSync(join(dir, 'complete'), '');
  mkdirSync(SETS, { recursive: true });
  const temporary = `${setFile}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(manifest));
  renameSync(temporary, setFile);
  return build;
}

/** Marks the build in use by this process until `release`, so no other process prunes it meanwhile. */
function use(build: string, functions: readonly BundledFunction[]): FunctionBundles {
  const users = join(BUILDS, build, 'users');
  mkdirSync(users, { recursive: true });
  const mark = join(users, `${process.pid}-${randomBytes(4).toString('hex')}`);
  writeFileSync(mark, '');
  return {
    files: new Map(functions.map((fn) => [fn.id, join(BUILDS, build, `${fn.id}.mjs`)])),
    release: () => rmSync(mark, { force: true }),
  };
}

/** Builds no set points at any more (or left half-written), older than 10 minutes, that no live process uses. */
function pruneBuilds(): void {
  const current = new Set(
    readdir(SETS)
      .map((name) => readManifest(join(SETS, name))?.build)
      .filter((build): build is string => build !== undefined),
  );
  // A build another process may still be writing, or about to point a set at: left alone for a while.
  const recent = Date.now() - 10 * 60_000;
  for (const build of readdir(BUILDS)) {
    if (current.has(build) || Number.parseInt(build.split('-')[0] ?? '', 36) > recent) continue;
    const inUse = readdir(join(BUILDS, build, 'users')).some((mark) => isAlive(Number(mark.split('-')[0])));
    if (!inUse) rmSync(join(BUILDS, build), { recursive: true, force: true });
  }
}

function readdir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
