// `npm run bundle:report`: every function bundled exactly as `cdk synth` bundles it (the CDK app, infra/bundling.ts),
// with its size and its cold import time (median of fresh Node processes), with and without --enable-source-maps.
//   npm run bundle:report -- --runs 11 --markdown
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { App } from 'aws-cdk-lib';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { quietBundlingOutput } from '../infra/bundling.ts';
import { addCheckoutStage } from '../infra/stage.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '9' }, markdown: { type: 'boolean', default: false } },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');

const cdkJson = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

/** What a function's process sees at import in the cloud: tracing and metrics on (nothing is sent at import). */
const lambdaEnv = {
  PATH: process.env.PATH,
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  AWS_LAMBDA_FUNCTION_NAME: 'bundle-report',
  TABLE_NAME: 'checkout-table',
  AWS_REGION: 'eu-west-1',
  WEBHOOK_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:webhook-AbCdEf',
  POWERTOOLS_SERVICE_NAME: 'flash-sale-checkout',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
};

// Time from just before the import to its end, measured inside the process: Node's own start-up is the same for all.
const IMPORT_TIMER = `const t = performance.now();
await import(process.argv[1]);
process.stdout.write(String(performance.now() - t));`;

function importMs(file: string, sourceMaps: boolean): number {
  const flags = sourceMaps ? ['--enable-source-maps'] : [];
  const result = spawnSync(
    process.execPath,
    [...flags, '--no-warnings', '--input-type=module', '-e', IMPORT_TIMER, pathToFileURL(file).href],
    { encoding: 'utf8', env: lambdaEnv },
  );
  if (result.status !== 0) throw new Error(`${file} failed to import:\n${result.stderr}`);
  return Number(result.stdout);
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

quietBundlingOutput();
const outdir = mkdtempSync(path.join(tmpdir(), 'bundle-report-'));
try {
  const app = new App({
    outdir,
    context: { ...cdkJson.context, 'aws:cdk:enable-asset-metadata': true },
  });
  const { api } = addCheckoutStage(app);
  const assembly = app.synth();
  const template = assembly.getStackArtifact(api.artifactId).template as {
    Resources: Record<string, { Metadata?: Record<string, unknown> }>;
  };
  const rows = [...api.functions].map(([id, fn]) => {
    const logicalId = api.getLogicalId(fn.node.defaultChild as CfnFunction);
    const assetDir = path.join(
      assembly.directory,
      String(template.Resources[logicalId]?.Metadata?.['aws:asset:path']),
    );
    const entry = readdirSync(assetDir).find((file) => /^index\.m?js$/.test(file));
    if (!entry) throw new Error(`${id}: no index.js or index.mjs in ${assetDir}`);
    const file = path.join(assetDir, entry);
    // Interleaved, so a busy moment on the machine hits both columns alike.
    const plain: number[] = [];
    const mapped: number[] = [];
    for (let run = 0; run < runs; run++) {
      plain.push(importMs(file, false));
      mapped.push(importMs(file, true));
    }
    return {
      id,
      file: entry,
      kb: statSync(file).size / 1024,
      ms: median(plain),
      msMin: Math.min(...plain),
      msMapped: median(mapped),
    };
  });

  const header = [
    'function',
    'file',
    'KB',
    `cold import ms (median of ${runs})`,
    'min',
    'with --enable-source-maps (median, difference)',
  ];
  const signed = (ms: number) => `${ms >= 0 ? '+' : '-'}${Math.abs(ms).toFixed(1)}`;
  const cells = rows.map((row) => [
    row.id,
    row.file,
    row.kb.toFixed(0),
    row.ms.toFixed(1),
    row.msMin.toFixed(1),
    `${row.msMapped.toFixed(1)} (${signed(row.msMapped - row.ms)})`,
  ]);
  if (values.markdown) {
    console.log(`| ${header.join(' | ')} |`);
    console.log(`|${header.map((_, index) => (index < 2 ? '---' : '---:')).join('|')}|`);
    for (const line of cells) console.log(`| ${line.join(' | ')} |`);
  } else {
    const widths = header.map((title, index) =>
      Math.max(title.length, ...cells.map((line) => line[index]?.length ?? 0)),
    );
    const format = (line: string[]) =>
      line
        .map((cell, index) =>
          index < 2 ? cell.padEnd(widths[index] ?? 0) : cell.padStart(widths[index] ?? 0),
        )
        .join('  ');
    console.log(format(header));
    for (const line of cells) console.log(format(line));
  }
  console.log(`\nNode ${process.version}; Lambda runs Node 24 on arm64, so absolute times there differ.`);
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
