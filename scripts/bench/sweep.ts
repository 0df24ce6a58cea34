// Section 3: the sweep releasing a run's expired holds (in this process: one sweeper invocation is one process).
import { performance } from 'node:perf_hooks';
import { config } from '../../shared/config.ts';
import { createHold } from '../../shared/holds/service.ts';
import { sweep } from '../../shared/sweep/service.ts';
import { createProduct } from './app.ts';
import { BIG_STOCK, CALM_WORKERS } from './cli.ts';
import { printLedger } from './contended.ts';
import { num } from './format.ts';
import { checkProduct, type LedgerCheck } from './ledger.ts';
import { perSecond, repeat } from './load.ts';

export interface Swept {
  expected: number;
  released: number;
  ms: number;
  ratePerSecond: number;
  failures: number;
  ledger: LedgerCheck;
}

/**
 * Holds created an hour in the past expire before `later`, while every other hold of this bench (created now)
 * expires after it: the sweep sees exactly this run's expired holds.
 */
export async function sweepSection(productId: string, expired: number, past: Date): Promise<Swept> {
  await createProduct(productId, BIG_STOCK);
  let createFailures = 0;
  await repeat(expired, CALM_WORKERS, async () => {
    await createHold(productId, 1, past).catch(() => createFailures++);
  });
  if (createFailures > 0) console.log(`    (${createFailures} of ${expired} expired holds failed to create)`);
  const later = new Date(past.getTime() + config.HOLD_TTL_SECONDS * 1000 + 1_000);
  const started = performance.now();
  const report = await sweep(later);
  const ms = performance.now() - started;
  return {
    expected: expired - createFailures,
    released: report.holds_released,
    ms,
    ratePerSecond: perSecond(report.holds_released, ms),
    failures: report.failures + (report.skipped ? 1 : 0) + (report.incomplete ? 1 : 0),
    ledger: await checkProduct(productId, 0),
  };
}

export function printSweep(swept: Swept): void {
  console.log(
    `  sweep: ${num(swept.expected)} expired holds, released ${num(swept.released)} in ${num(swept.ms)} ms = ${num(swept.ratePerSecond)}/s, failures ${swept.failures}`,
  );
  printLedger('    ledger after sweep', swept.ledger, 0);
}
