// Stop when the processes that launched us are gone. `npm start` runs npm → sh → tsx → node (this) → java, and
// npm relays SIGTERM to sh only: sh dies, tsx and this process are orphaned and would keep the port. So this
// process watches its launch chain (tsx, and when npm started us, sh and npm too) and stops when any link goes.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isAlive } from './instance.ts';

interface ProcessInfo {
  ppid: number;
  args: string;
}

function processInfo(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid ...; comm may contain spaces and parentheses.
    const [, ppid = ''] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { ppid: Number(ppid), args };
  } catch {}
  try {
    // macOS and other systems without /proc.
    const out = execFileSync('ps', ['-o', 'ppid=,command=', '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const match = /^(\d+)\s+(.*)$/.exec(out);
    return match ? { ppid: Number(match[1]), args: match[2] ?? '' } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The processes to outlive no longer than: the parent, then up the chain while a process's command line names
 * `script` (tsx, then npm's `sh -c`), then the package manager itself when it started us (npm_lifecycle_script).
 */
export function launchChain(script: string): number[] {
  const chain: number[] = [];
  let pid = process.ppid;
  const viaPackageManager = process.env.npm_lifecycle_script?.includes(script) ?? false;
  for (let depth = 0; depth < 6 && pid > 1; depth += 1) {
    chain.push(pid);
    const info = processInfo(pid);
    if (!info) break;
    if (!info.args.includes(script)) {
      // The first process that does not run the script: keep it only if it is the package manager running us.
      if (!viaPackageManager && depth > 0) chain.pop();
      break;
    }
    pid = info.ppid;
  }
  return chain;
}

/** Is `pid` gone (or a zombie, on systems with /proc)? */
function gone(pid: number): boolean {
  if (!isAlive(pid)) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Calls `onGone` once when a process of `chain` ends or this process is re-parented; returns a stop function. */
export function watchLaunchChain(
  chain: number[],
  onGone: (pid: number) => void,
  intervalMs = 500,
): () => void {
  const [parent] = chain;
  const timer = setInterval(() => {
    // process.ppid is read once at start; ask the system for the parent now (re-parented = the parent died).
    const reparented = parent !== undefined && processInfo(process.pid)?.ppid !== parent;
    const lost = reparented ? parent : chain.find(gone);
    if (lost === undefined) return;
    clearInterval(timer);
    onGone(lost);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
