// One Vitest project per test tier (test/<tier>/), so `npm run test:<tier>` gives a fast inner loop and `npm test`
// runs every project once. The global setup (one DynamoDB Local) belongs to the root config: Vitest runs the root's
// global setup once per run and every project inherits what it provides; a project's own globalSetup would start
// another DynamoDB Local per project.
import { readdirSync } from 'node:fs';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

/** Tiers whose tests talk to DynamoDB Local: each test file gets its own table (test/support/setup-env.ts). */
const dynamoTiers = ['unit', 'integration', 'e2e', 'contention', 'faults', 'property', 'fuzz'] as const;
/** CDK assertions only: no table, no DynamoDB. */
const cdkTiers = ['infra'] as const;
const tiers: readonly string[] = [...dynamoTiers, ...cdkTiers];

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
const env = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

const common = {
  pool: 'forks',
  testTimeout: 60_000,
  hookTimeout: 120_000,
  env,
} satisfies TestProjectInlineConfiguration['test'];

const project = (name: string, setupFiles: string[]): TestProjectInlineConfiguration => ({
  test: { ...common, name, include: [`test/${name}/**/*.test.ts`], setupFiles },
});

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    env,
    projects: [
      ...dynamoTiers.map((name) => project(name, ['test/support/setup-env.ts'])),
      ...cdkTiers.map((name) => project(name, [])),
    ],
  },
});
