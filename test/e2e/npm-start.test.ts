import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { apiClient, dataOf } from '../support/http.ts';
import { collectOutput } from '../support/processes.ts';

// `npm start` is `tsx infra/local/start.ts`; running tsx's CLI with this node avoids depending on npm's signal handling.
const TSX = join(process.cwd(), 'node_modules/tsx/dist/cli.mjs');
const START = 'infra/local/start.ts';

interface Started {
  child: ChildProcess;
  output: () => { stdout: string; stderr: string };
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function start(env: NodeJS.ProcessEnv): Started {
  const child = spawn(process.execPath, [TSX, START], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const output = collectOutput(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output, exited };
}

/** Resolves with the first match of `pattern` in stdout; rejects if the process exits first. */
function waitFor(started: Started, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(started.output().stdout);
      if (match) {
        started.child.stdout?.off('data', check);
        resolve(match);
      }
    };
    started.child.stdout?.on('data', check);
    void started.exited.then(() =>
      reject(new Error(`exited before ${pattern}: ${JSON.stringify(started.output())}`)),
    );
    check();
  });
}

describe('npm start', () => {
  it('serves the seeded product, prints the curl flow and exits 0 on SIGINT', async () => {
    const started = start({
      ...process.env,
      PORT: '0',
      TABLE_NAME: `${process.env.TABLE_NAME}-start`,
      EXPIRY_SWEEP_SECONDS: '0',
      // From the shell to the functions; the banner says which provider routes can verify.
      STRIPE_WEBHOOK_SECRET: 'whsec_a,whsec_b',
      ADYEN_HMAC_KEY: '',
    });
    const [, url = ''] = await waitFor(started, /listening on (http:\/\/\S+)/);
    await waitFor(started, /Ctrl-C stops everything/);

    const product = await apiClient(url).get('/api/products/1');
    started.child.kill('SIGINT');

    expect(dataOf(product)).toMatchObject({ id: '1', name: 'Flash Sale Sneakers', stock: 100 });
    expect(started.output().stdout).toContain(`-d '{"product_id":1,"qty":2}'`);
    expect(started.output().stdout).toContain(
      'Stripe 2 secrets set, Adyen secret unset (ADYEN_HMAC_KEY: the route refuses every call)',
    );
    expect(await started.exited).toBe(0);
    expect(started.output().stdout).toContain('SIGINT: stopping');
  });

  it('exits 1 with the one-line Java hint, no stack trace, when Java is missing', async () => {
    const { DYNAMODB_ENDPOINT: _external, ...env } = process.env;
    const emptyPath = await mkdtemp(join(tmpdir(), 'no-java-'));
    try {
      const started = start({ ...env, PATH: emptyPath, PORT: '0' });

      expect(await started.exited).toBe(1);
      const { stderr } = started.output();
      expect(stderr).toContain('DynamoDB Local needs Java 17+ on PATH');
      expect(stderr).not.toMatch(/^\s+at /m);
    } finally {
      await rm(emptyPath, { recursive: true });
    }
  });
});
