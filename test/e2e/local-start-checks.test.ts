// `npm start`'s checks before it starts anything: the port, then Java (found, 17+, working). Each failure is one or
// two lines and exit 1, fast, with no stack trace and (for the port) without running Java at all.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collectOutput } from '../support/processes.ts';

const TSX = join(process.cwd(), 'node_modules/tsx/dist/cli.mjs');
const START = 'infra/local/start.ts';

const children: ChildProcess[] = [];
const dirs: string[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const server of servers.splice(0)) server.close();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A directory holding a `java` that records each call in `calls` and then runs `body`. */
async function fakeJava(body: string): Promise<{ dir: string; calls: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'fake-java-'));
  dirs.push(dir);
  const calls = join(dir, 'calls');
  await writeFile(join(dir, 'java'), `#!/bin/sh\necho "$@" >> '${calls}'\n${body}\n`);
  await chmod(join(dir, 'java'), 0o755);
  return { dir, calls };
}

async function run(
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const { DYNAMODB_ENDPOINT: _external, ...base } = process.env;
  const stateDir = await mkdtemp(join(tmpdir(), 'start-checks-'));
  dirs.push(stateDir);
  const began = Date.now();
  const child = spawn(process.execPath, [TSX, START], {
    env: { ...base, LOCAL_STATE_DIR: stateDir, EXPIRY_SWEEP_SECONDS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output = collectOutput(child);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  const { stdout, stderr } = output();
  return { code, stdout, stderr, ms: Date.now() - began };
}

const lines = (text: string) => text.split('\n').filter((line) => line.trim() !== '');

describe('npm start: checks before starting', () => {
  it('a port in use is one line and exit 1, before Java is even asked for its version', async () => {
    const server = createServer();
    servers.push(server);
    const port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
    );
    const java = await fakeJava('exec java-not-here "$@"');

    const result = await run({ PORT: String(port), PATH: `${java.dir}${delimiter}${process.env.PATH}` });

    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toEqual([
      `Port ${port} is already in use: stop what listens there or run with another, e.g. PORT=${port + 1} npm start`,
    ]);
    await expect(readFile(java.calls, 'utf8')).rejects.toThrow(/ENOENT/);
    expect(result.stdout).not.toContain('DynamoDB Local starting');
    expect(result.ms).toBeLessThan(15_000);
  });

  it('Java older than 17: its version in one line, exit 1, no wait for DynamoDB Local', async () => {
    const java = await fakeJava(
      `echo 'openjdk version "11.0.22" 2024-01-16' >&2\necho 'OpenJDK Runtime Environment (build 11.0.22+7)' >&2\nexit 0`,
    );

    const result = await run({ PORT: '0', PATH: `${java.dir}${delimiter}${process.env.PATH}` });

    expect(result.code).toBe(1);
    const errors = lines(result.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('DynamoDB Local needs Java 17+, but');
    expect(errors[0]).toContain('is Java 11 (openjdk version "11.0.22" 2024-01-16)');
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect((await readFile(java.calls, 'utf8')).trim()).toBe('-version');
    expect(result.ms).toBeLessThan(15_000);
  });

  it('a broken Java: its own error text, exit 1', async () => {
    const java = await fakeJava(
      `echo 'Error: dl failure on line 542' >&2\necho 'Error: failed /opt/jdk/lib/server/libjvm.so' >&2\nexit 1`,
    );

    const result = await run({ PORT: '0', PATH: `${java.dir}${delimiter}${process.env.PATH}` });

    expect(result.code).toBe(1);
    const errors = lines(result.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('`java -version` failed');
    expect(errors[0]).toContain(
      'Error: dl failure on line 542 / Error: failed /opt/jdk/lib/server/libjvm.so',
    );
    expect(result.ms).toBeLessThan(15_000);
  });

  it('prints progress lines: Java and its version, DynamoDB Local starting and ready, table, seed', async () => {
    const { DYNAMODB_ENDPOINT: _external, ...base } = process.env;
    const stateDir = await mkdtemp(join(tmpdir(), 'start-progress-'));
    dirs.push(stateDir);
    const child = spawn(process.execPath, [TSX, START], {
      env: { ...base, LOCAL_STATE_DIR: stateDir, EXPIRY_SWEEP_SECONDS: '0', PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        if (stdout.includes('Ctrl-C stops everything')) resolve();
      });
      child.once('exit', () => reject(new Error(`exited: ${stdout}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    child.kill('SIGTERM');

    expect(stdout).toMatch(/^- Java \d+ found.*: .*version "/m);
    expect(stdout).toMatch(/^- DynamoDB Local starting on port \d+, data in .*dynamodb$/m);
    expect(stdout).toMatch(/^- DynamoDB Local ready at http:\/\/127\.0\.0\.1:\d+ after \d+\.\d s$/m);
    expect(stdout).toMatch(/^- table \S+ created$/m);
    expect(stdout).toMatch(/^- product 1 seeded$/m);
    expect(stdout).toMatch(/npm run audit -- --product 1 --endpoint http:\/\/127\.0\.0\.1:\d+ --table \S+/);
    // Node 20 here: without AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED the SDK warns on stderr.
    expect(stderr).not.toContain('NodeVersionSupportWarning');
    expect(await exited).toBe(0);
  }, 40_000);
});
