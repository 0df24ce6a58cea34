// The running `npm start`'s address, for `npm run audit` and `npm run token` (and people): `.local/instance.json`,
// removed on a clean exit.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Local state (DynamoDB Local's data, the instance file): LOCAL_STATE_DIR, default `.local/` in the repository. */
export function localStateDir(): string {
  return resolve(REPO_ROOT, process.env.LOCAL_STATE_DIR || '.local');
}

export function instanceFile(): string {
  return join(localStateDir(), 'instance.json');
}

export interface Instance {
  /** The DynamoDB endpoint this instance uses. */
  endpoint: string;
  table: string;
  /** The HTTP API. */
  api: string;
  /** The node process running infra/local/start.ts. */
  pid: number;
  started_at: string;
  /** Present when buyer routes need a token (JWT_ISSUER, or `npm start -- --identity`). */
  identity?: InstanceIdentity;
}

export interface InstanceIdentity {
  /** The issuer tokens must come from. */
  issuer: string;
  /** The audiences a token may carry; local tokens get the first. */
  audiences: string[];
  /** The local issuer's signing key (`npm run token` mints with it); absent for an external issuer. */
  key_file?: string;
}

export function writeInstance(instance: Instance): void {
  const file = instanceFile();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(instance, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** Removes the file if it is still this process's (a newer instance may have replaced it). */
export function removeInstance(pid = process.pid): void {
  if (readInstance()?.pid === pid) rmSync(instanceFile(), { force: true });
}

export function readInstance(): Instance | undefined {
  try {
    const parsed = JSON.parse(readFileSync(instanceFile(), 'utf8')) as Partial<Instance>;
    if (
      typeof parsed.endpoint !== 'string' ||
      typeof parsed.table !== 'string' ||
      typeof parsed.pid !== 'number'
    )
      return undefined;
    return parsed as Instance;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The instance of a `npm start` that is still running, if any. */
export function runningInstance(): Instance | undefined {
  const instance = readInstance();
  return instance && isAlive(instance.pid) ? instance : undefined;
}
