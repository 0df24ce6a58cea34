// One Vitest project per test tier (test/<tier>/), so `npm run test:<tier>` gives a fast inner loop and `npm test`
// runs every project once. Only the tiers that need a table list the DynamoDB global setup (Vitest runs a project's
// global setup only when that project has test files to run); they share one DynamoDB Local (see the setup file).
// Unit and infra need neither Java nor DynamoDB Local.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import { dynamoTiers, plainTiers } from './test/support/tiers.ts';

const tiers: readonly string[] = [...dynamoTiers, ...plainTiers];

// A test file outside every tier would silently never run: refuse the config instead.
const strays = readdirSync('test', { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.test.ts'))
  .filter((file) => !tiers.includes(file.split(/[\\/]/)[0] ?? ''));
if (strays.length > 0) {
  throw new Error(`Test files outside every tier (add a project in vitest.config.ts): ${strays.join(', ')}`);
}

// The CI runs Node 20 (package.json engines) while the Lambda runtime is Node 24: the AWS SDK's "node >=22 soon"
// warning is noise here, printed once per test process. Set before any worker (or the global setup) loads the SDK;
// workers inherit the environment, and `env` below repeats it for each project.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// Nothing of a run stays in the OS temp dir. Its processes (Vitest, the workers, the CLIs and `npm start`s the e2e
// tests spawn) get a temp dir of their own inside it, removed when Vitest exits: tsx keeps its cache and IPC pipes
// in <tmpdir>/tsx-<uid>, CDK its synth output, tests their mkdtemp folders. Still outside the repository, so a bundle
// loaded from there finds no package.json or node_modules above it, as in Lambda. Java keeps a perf-data folder in
// /tmp whatever TMPDIR says (hsperfdata_<user>); DynamoDB Local needs none.
const runTemp = mkdtempSync(join(tmpdir(), 'flash-sale-tests-'));
process.on('exit', () => rmSync(runTemp, { recursive: true, force: true }));
const env = {
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  TMPDIR: runTemp,
  TMP: runTemp,
  TEMP: runTemp,
  JDK_JAVA_OPTIONS: `${process.env.JDK_JAVA_OPTIONS ?? ''} -XX:-UsePerfData`.trim(),
};
Object.assign(process.env, env);

const common = {
  pool: 'forks',
  testTimeout: 60_000,
  hookTimeout: 120_000,
  env,
} satisfies TestProjectInlineConfiguration['test'];

const project = (
  name: string,
  setup: { globalSetup?: string[]; setupFiles: string[] },
): TestProjectInlineConfiguration => ({
  test: { ...common, name, include: [`test/${name}/**/*.test.ts`], ...setup },
});

export default defineConfig({
  test: {
    env,
    projects: [
      ...dynamoTiers.map((name) =>
        project(name, {
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/setup-env.ts'],
        }),
      ),
      project('unit', { setupFiles: ['test/support/setup-unit.ts'] }),
      project('infra', { setupFiles: [] }),
    ],
  },
});
