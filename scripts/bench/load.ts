// Load generation and rates: loops for a time, a fixed number of calls, and A B B A pairs for ratios.
import { performance } from 'node:perf_hooks';

export type Op = () => Promise<void>;

/** `workers` loops calling `work` until `seconds` pass; returns the wall time until the last call returned. */
export async function loopFor(seconds: number, workers: number, work: Op): Promise<number> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < deadline) await work();
    }),
  );
  return performance.now() - started;
}

/** `count` calls of `work`, `workers` at a time; returns the wall time. */
export async function repeat(count: number, workers: number, work: Op): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, count) }, async () => {
      while (next < count) {
        next++;
        await work();
      }
    }),
  );
  return performance.now() - started;
}

export const perSecond = (count: number, ms: number) => (ms > 0 ? (count / ms) * 1000 : 0);

/**
 * ops/s of `a` and `b`, each over `ops` operations in two halves, measured A B B A (B A A B when `flip`), so drift
 * on a noisy machine lands on both sides. Each side first gets a short unmeasured warm-up.
 */
export async function pairedRates(
  ops: number,
  workers: number,
  a: Op,
  b: Op,
  flip: boolean,
): Promise<[number, number]> {
  await repeat(workers * 4, workers, a);
  await repeat(workers * 4, workers, b);
  const half = Math.ceil(ops / 2);
  const ms = [0, 0];
  for (const side of flip ? [1, 0, 0, 1] : [0, 1, 1, 0]) {
    ms[side] = (ms[side] ?? 0) + (await repeat(half, workers, side === 0 ? a : b));
  }
  return [perSecond(2 * half, ms[0] ?? 0), perSecond(2 * half, ms[1] ?? 0)];
}

/** The name of the failure, for counting what went wrong without a stack per request. */
export const errorName = (error: unknown) => (error instanceof Error ? error.name : String(error));

/** Counts failures by name while the measured loop keeps going. */
export type Failures = Map<string, number>;
export const note = (failures: Failures, name: string) => failures.set(name, (failures.get(name) ?? 0) + 1);
