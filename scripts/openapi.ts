// `npm run openapi`: writes the OpenAPI 3.1 document (infra/openapi.ts) to openapi.json at the repository root.
// The committed file describes the default configuration (e.g. qty up to MAX_QTY_PER_HOLD=10); a test keeps it current.
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

// shared/schemas.ts reads the configuration when it loads: settle the environment first (no table is touched).
process.env.TABLE_NAME ??= 'openapi';
delete process.env.MAX_QTY_PER_HOLD;

const { buildOpenApiDocument } = await import('../infra/openapi.ts');
const target = new URL('../openapi.json', import.meta.url);
const file = fileURLToPath(target);
await writeFile(file, `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`);
// In the project's JSON style, so `biome check .` stays clean (the up-to-date test compares parsed JSON).
execFileSync(
  fileURLToPath(new URL('../node_modules/.bin/biome', import.meta.url)),
  ['format', '--write', file],
  {
    stdio: 'ignore',
  },
);
console.log(`wrote ${file}`);
