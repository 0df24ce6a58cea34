// The runs: each measures every section once (contended per caller, uncontended, sweep), interleaved so drift on a
// noisy machine spreads over all of them; the summary reports medians. Loaded after main.ts set the environment.
import { randomUUID } from 'node:crypto';
import type { ContentionEndpoint, ContentionParams } from '../../infra/local/contention.ts';
import { dynamo } from '../../shared/db/client.ts';
import type { Caller } from './app.ts';
import { calmSection, printCalm } from './calm.ts';
import { CALM_WORKERS, type Options } from './cli.ts';
import { type Contended, contendedSection } from './contended.ts';
import { type Figures, figuresOf, printCeilings, printSummary } from './report.ts';
import { printSweep, sweepSection } from './sweep.ts';

export interface Suite {
  contention: ContentionEndpoint;
  params: ContentionParams;
  options: Options;
  /** Contended callers in the order measured, each with its buyers; `barred`: issue 16's bars apply to it. */
  contended: readonly { caller: Caller; workers: number; barred: boolean }[];
  /** The caller of the uncontended comparisons. */
  calm: Caller;
  /** Creation time of every run's expired holds (see sweepSection). */
  past: Date;
}

async function oneRun(suite: Suite, run: number): Promise<Figures> {
  const { options, params, contention } = suite;
  const tag = `r${run}-${randomUUID().slice(0, 8)}`;
  const flip = run % 2 === 0;
  console.log(`\nrun ${run}/${options.runs}`);
  // Callers take turns going first, so neither always meets the machine warmer.
  const order = flip ? [...suite.contended].reverse() : suite.contended;
  const contended: Contended[] = [];
  for (const { caller, workers } of order) {
    console.log(
      `  contended, ${caller.label} (occupancy ${params.occupancyMs} ms, ${params.writeUnitsPerSecond} WU/s, ${params.readUnitsPerSecond} RU/s per partition; ${caller.concurrent(workers)}, ${options.seconds} s windows)`,
    );
    contended.push(
      await contendedSection(caller, contention, params, `${tag}-${contended.length}`, {
        seconds: options.seconds,
        workers,
        flip,
      }),
    );
  }
  console.log(
    `  uncontended, ${suite.calm.label} (contention endpoint forwarding, mode off; ${suite.calm.concurrent(CALM_WORKERS)}, A B B A halves)`,
  );
  const calm = await calmSection(suite.calm, tag, { workers: CALM_WORKERS, flip });
  printCalm(calm);
  const swept = await sweepSection(`${tag}-sweep`, options.expired, suite.past);
  printSweep(swept);
  return figuresOf(contended, calm, swept);
}

export async function runSuite(suite: Suite): Promise<void> {
  const runs: Figures[] = [];
  for (let run = 1; run <= suite.options.runs; run++) runs.push(await oneRun(suite, run));
  printSummary(
    runs,
    suite.contended.map(({ caller, barred }) => ({ label: caller.label, barred })),
    suite.calm.label,
  );
  printCeilings(suite.params);
  console.log(
    `\n(${runs.length} run(s); medians, since the machine is shared and noisy: read them, not one run)`,
  );
  dynamo.destroy();
}
