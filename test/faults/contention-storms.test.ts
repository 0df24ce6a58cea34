// The property test's random sequences through this file's contention endpoint: real TransactionConflict
// storms (items stay "in a transaction" 50 ms after each answer, so the concurrent steps and back-to-back writes to
// one bucket collide), alone and with injected faults on top. Answers stay 2xx/4xx/503 + Retry-After, and the
// scenario runner checks the ledger per bucket, in total and per customer counter after every step.
import '../support/identity-on.ts';
// This file's contention endpoint, before the app's client reads DYNAMODB_ENDPOINT; the storms set its parameters.
import '../support/contention-on.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { CLOUD, type ContentionStats } from '../../infra/local/contention.ts';
import { ALL_FAULTS, seededRandom, setFaultPlan } from '../../infra/local/faults.ts';
import { dynamo } from '../../shared/db/client.ts';
import {
  buyer,
  type Command,
  caller,
  coverage,
  limitValue,
  runScenario,
  type Scenario,
  scenarioArbitrary,
} from '../property/scenario.ts';
import { contention } from '../support/contention-on.ts';

/** Runs per variant (PROPERTY_RUNS=300, the soak, gives 75 and 38): conflicts and faults cost backoff. */
const runsFor = (share: number) => Math.max(1, Math.ceil(Number(process.env.PROPERTY_RUNS ?? 40) / share));
/** Long enough that steps sent together (and a write right after another to the same bucket) meet in flight. */
const STORM = { ...CLOUD, occupancyMs: 50 };

/**
 * One request of a burst: mostly holds (often larger than a bucket) by a few customers racing their limit, with
 * orders, payments, re-splits (setting or removing the limit) and sweeps.
 */
const burstRequest: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('hold' as const),
      qty: fc.integer({ min: 1, max: 4 }),
      key: fc.constantFrom({ type: 'none' as const }, { type: 'fresh' as const }),
      as: buyer,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('order' as const),
      target: fc.record({ type: fc.constant('hold' as const), pick: fc.nat(3) }),
      as: caller,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('webhook' as const),
      target: fc.record({ type: fc.constant('hold' as const), pick: fc.nat(3) }),
      outcome: fc.constantFrom('success' as const, 'failure' as const),
      key: fc.constant({ type: 'fresh' as const }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      {
        kind: fc.constant('restock' as const),
        stock: fc.integer({ min: 4, max: 15 }),
        buckets: fc.integer({ min: 1, max: 4 }),
        limit: fc.oneof(limitValue, fc.constant(null)),
      },
      { requiredKeys: ['kind', 'stock', 'buckets'] },
    ),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'sweep' as const }) },
);

/** Bursts of 3..6 requests sent at once, with the clock moved past hold expiries and payment deadlines between. */
const stormScenario: fc.Arbitrary<Scenario> = fc.record({
  initialStock: fc.integer({ min: 4, max: 15 }),
  initialBuckets: fc.integer({ min: 1, max: 4 }),
  initialLimit: fc.option(limitValue, { nil: undefined, freq: 2 }),
  commands: fc.array(
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .array(fc.record({ command: burstRequest, copies: fc.integer({ min: 1, max: 2 }) }), {
            minLength: 2,
            maxLength: 5,
          })
          .filter((steps) => steps.reduce((sum, step) => sum + step.copies, 0) <= 6)
          .map((steps) => ({ kind: 'concurrent' as const, steps })),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('advance' as const),
          seconds: fc.constantFrom(30, 121, 901),
        }),
      },
    ),
    { minLength: 3, maxLength: 10 },
  ),
});

/** PROPERTY_SEED replays a failure (with PROPERTY_PATH for the shrunk run); the seed is always printed. */
function seedFor(name: string, runs: number): number {
  const seed = process.env.PROPERTY_SEED
    ? Number(process.env.PROPERTY_SEED)
    : Math.floor(Math.random() * 2 ** 31);
  console.log(`${name}: seed ${seed}, ${runs} runs`);
  return seed;
}

/**
 * The scenario runner empties the table with BatchWriteItem right after a run (shared/ never batch-writes), which
 * the contention mode refuses while the run's last transaction still occupies an item: the harness, not the checkout,
 * waits the occupancy out and deletes again.
 */
let cleanupConflicts = 0;
function retryCleanupConflicts(): () => void {
  const name = 'retryCleanupConflicts';
  dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'BatchWriteItemCommand') return next(args);
      for (let attempt = 1; ; attempt++) {
        try {
          return await next(args);
        } catch (error) {
          if (!(error instanceof Error && error.name === 'TransactionConflictException') || attempt >= 10)
            throw error;
          cleanupConflicts++;
          await sleep(STORM.occupancyMs);
        }
      }
    },
    { step: 'initialize', name },
  );
  return () => void dynamo.middlewareStack.remove(name);
}

/** Holds answered 201 so far in this process (the scenario's coverage tally). */
const holdsGranted = () =>
  [...coverage].filter(([seen]) => /^hold( keyed)? 201/.test(seen)).reduce((sum, [, n]) => sum + n, 0);

/** What the checkout met: the harness's own refused clean-ups are counted apart. */
const conflictsOf = (stats: ContentionStats) => ({
  transactionConflicts: stats.transactionConflicts,
  writeConflicts: stats.writeConflicts - cleanupConflicts,
  throttles: stats.throttles,
  cleanupRetries: cleanupConflicts,
});

describe('checkout under TransactionConflict storms from the contention mode', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
  });
  afterEach(() => {
    setFaultPlan(undefined);
    vi.useRealTimers();
  });

  // Rate 0 still runs the scenario in its tolerant mode: under contention a request may rightly give up with 503 and a
  // sweep may leave an item for the next one, so answers are held to the allowed set and the ledger, not to the model.
  for (const { name, rate, runs } of [
    { name: 'contention alone', rate: 0, runs: runsFor(4) },
    { name: 'contention and 10% injected faults', rate: 0.1, runs: runsFor(8) },
  ]) {
    it(
      `never answers 500 and keeps every bucket, the product total and every customer counter balanced (${name})`,
      async () => {
        const seed = seedFor(`contention-storms (${name})`, runs);
        cleanupConflicts = 0;
        const grantedBefore = holdsGranted();
        contention.setParams(STORM);
        contention.reset();
        const stopRetrying = retryCleanupConflicts();
        let executed = 0;
        try {
          await fc.assert(
            fc.asyncProperty(
              // Half the runs are the property test's own sequences, half bursts aimed at the buckets.
              fc.oneof(scenarioArbitrary(20), stormScenario),
              fc.integer({ min: 1, max: 2 ** 31 - 1 }),
              (scenario, faultSeed) => {
                executed++;
                return runScenario(scenario, {
                  faults: { rate, kinds: ALL_FAULTS, random: seededRandom(faultSeed) },
                });
              },
            ),
            { numRuns: runs, seed, path: process.env.PROPERTY_PATH, timeout: 60_000 },
          );
        } finally {
          stopRetrying();
        }
        const stats = conflictsOf(contention.stats());
        console.log(`contention-storms (${name}): ${executed} runs, seed ${seed}`, stats);
        // The storms really happened (a replay with PROPERTY_PATH runs one scenario, which may be too quiet).
        if (!process.env.PROPERTY_PATH) expect(stats.transactionConflicts).toBeGreaterThan(0);
        // And holds were still granted through them: refusing every hold would also keep the books balanced.
        if (!process.env.PROPERTY_PATH) expect(holdsGranted() - grantedBefore).toBeGreaterThan(0);
      },
      60_000 + runs * 30_000,
    );
  }
});
