// How every function is bundled (local esbuild, never Docker): the one place bundle size and format are decided.
import { type BundlingOptions, LogLevel, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';

/** `VERBOSE=1 npm run synth` (or bundle:report) shows the bundler's own lines; without it, only its warnings. */
const verbose = /^(1|true|yes)$/i.test(process.env.VERBOSE ?? '');

export const BUNDLING: BundlingOptions = {
  // Local esbuild only: synth must never need Docker.
  forceDockerBundling: false,
  // ESM (index.mjs): esbuild tree-shakes ES modules, so each function carries only the SDK commands, Powertools
  // utilities and zod schemas it reaches (CommonJS output kept every module whole: ~1 MB each, health included).
  format: OutputFormat.ESM,
  // Prefer each package's ES build (the SDK's dist-es, Powertools' lib/esm): only those can be tree-shaken.
  mainFields: ['module', 'main'],
  // CommonJS dependencies bundled into ESM (aws-xray-sdk-core and its helpers) still call require() for Node built-ins.
  banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  target: 'node24',
  minify: true,
  // Class names survive minification, so logs say `ConditionFailed` or `TimeoutError`, not `Pn` (about +45 KB).
  keepNames: true,
  // The map ships next to the bundle for reading a stack trace offline; the runtime does not load it (see
  // docs/bundles.md: --enable-source-maps costs every cold start).
  sourceMap: true,
  sourcesContent: false,
  // The SDK ships inside the bundle at the lockfile's version instead of whatever the runtime carries.
  bundleAwsSDK: true,
  // esbuild's file sizes and "Done in" lines, five per function, only when asked for; warnings and errors always.
  logLevel: verbose ? LogLevel.INFO : LogLevel.WARNING,
};

/**
 * Drops CDK's "Bundling asset <path>..." line, which it writes to stderr for every function whatever the log level
 * (aws/aws-cdk#23092), unless VERBOSE is set. Called by the entry points that synthesize (the CDK app, the bundle
 * report), never by the stacks, so tests and other callers see CDK's output unchanged.
 */
export function quietBundlingOutput(): void {
  if (verbose) return;
  const write = process.stderr.write.bind(process.stderr) as (...args: unknown[]) => boolean;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) =>
    typeof chunk === 'string' && /^Bundling asset .*\.\.\.\n$/.test(chunk)
      ? true
      : write(chunk, ...rest)) as typeof process.stderr.write;
}
