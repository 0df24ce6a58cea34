// Child processes in tests: what they printed so far, for the tests that start `npm start` or a script.
import type { ChildProcess } from 'node:child_process';

/** Collects a child's stdout and stderr as text; `output()` returns everything printed so far. */
export function collectOutput(child: ChildProcess): () => { stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  return () => ({ stdout, stderr });
}
