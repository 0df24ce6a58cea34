// `npm start` is a tree: npm → tsx → node (start.ts) → java (+ its watchdog). SIGTERM to npm must take all of it
// down and free the port (npm relays the signal to its child only; before, tsx, node and Java kept running).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/dynamodb.ts';

interface Proc {
  pid: number;
  ppid: number;
  zombie: boolean;
  args: string;
}

function processes(): Proc[] {
  return execFileSync('ps', ['-eo', 'pid=,ppid=,stat=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line))
    .filter((match) => match !== null)
    .map(([, pid, ppid, stat, args]) => ({
      pid: Number(pid),
      ppid: Number(ppid),
      zombie: (stat ?? '').startsWith('Z'),
      args: args ?? '',
    }));
}

/** `root` and every live descendant of it. */
function tree(root: number): Proc[] {
  const all = processes().filter((p) => !p.zombie);
  const found = all.filter((p) => p.pid === root);
  for (let i = 0; i < found.length; i += 1) {
    const parent = found[i];
    if (parent) found.push(...all.filter((p) => p.ppid === parent.pid));
  }
  return found;
}

function stillRunning(pids: number[]): Proc[] {
  return processes().filter((p) => pids.includes(p.pid) && !p.zombie);
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const started: ChildProcess[] = [];
const leftovers: number[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const child of started.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const pid of leftovers.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('npm start and signals', () => {
  it('SIGTERM to the npm process stops npm, tsx, node and Java, and frees the port', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'npm-start-signals-'));
    dirs.push(stateDir);
    const port = await freePort();
    // Its own DynamoDB Local (the tree under test includes Java), with its data in a temp dir.
    const { DYNAMODB_ENDPOINT: _shared, TABLE_NAME: _table, ...env } = process.env;
    const npm = spawn('npm', ['start'], {
      env: { ...env, PORT: String(port), EXPIRY_SWEEP_SECONDS: '0', LOCAL_STATE_DIR: stateDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(npm);
    let output = '';
    npm.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    npm.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));

    const deadline = Date.now() + 25_000;
    while (!output.includes('Ctrl-C stops everything')) {
      if (Date.now() > deadline || npm.exitCode !== null)
        throw new Error(`npm start did not come up: ${output}`);
      await sleep(100);
    }
    const pid = npm.pid ?? 0;
    const before = tree(pid);
    leftovers.push(...before.map((p) => p.pid));
    expect(before.some((p) => p.args.includes('DynamoDBLocal.jar'))).toBe(true);
    expect(before.some((p) => p.args.includes('infra/local/start.ts'))).toBe(true);
    expect(await portOpen(port)).toBe(true);
    expect(existsSync(join(stateDir, 'instance.json'))).toBe(true);
    expect(output).toContain(`npm run audit -- --product 1 --endpoint http://127.0.0.1:`);

    npm.kill('SIGTERM');

    const stopBy = Date.now() + 10_000;
    let left = stillRunning(before.map((p) => p.pid));
    while (left.length > 0 && Date.now() < stopBy) {
      await sleep(100);
      left = stillRunning(before.map((p) => p.pid));
    }
    expect(left.map((p) => `${p.pid} ${p.args.slice(0, 80)}`)).toEqual([]);
    await exited;
    expect(await portOpen(port)).toBe(false);
    expect(existsSync(join(stateDir, 'instance.json'))).toBe(false);
  }, 40_000);
});
