// Model-based property test: random request sequences through the real handlers, answered as the model predicts.
import '../support/identity-on.ts';
import fc from 'fast-check';
import { afterAll, afterEach, beforeEach, describe, it, vi } from 'vitest';

import {
  coverage,
  journeyScenarioArbitrary,
  propertySeed,
  runScenario,
  scenarioArbitrary,
} from './scenario.ts';

const runs = Number(process.env.PROPERTY_RUNS ?? 40);

describe('checkout against an in-memory model', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  afterAll(() => {
    // Soak runs show what the generator reached, so a quiet pass can be told from a shallow one.
    if (process.env.PROPERTY_RUNS) {
      console.log(
        [...coverage]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, n]) => `${k}: ${n}`)
          .join('\n'),
      );
    }
  });

  it(
    'answers random restocks (setting and removing max_per_customer), holds by customers and anonymous buyers, orders by their buyer and by others, webhooks, clock moves, sweeps and concurrent bursts as the model does, every customer counter as modelled and the ledger balanced after every step',
    async () => {
      const seed = propertySeed('checkout-model');

      await fc.assert(
        fc.asyncProperty(scenarioArbitrary(30), (scenario) => runScenario(scenario)),
        // A run that stalls fails with its counterexample instead of hanging the file.
        { numRuns: runs, seed, path: process.env.PROPERTY_PATH, timeout: 60_000 },
      );
    },
    60_000 + runs * 15_000,
  );

  it(
    'answers customers holding, ordering and paying up to their limit as the model does: orders past their window re-counted by a late payment within the limit or refunded over it, limits lowered under what buyers have, one buyer racing their own limit',
    async () => {
      const seed = propertySeed('checkout-model journeys');

      await fc.assert(
        fc.asyncProperty(journeyScenarioArbitrary(40), (scenario) => runScenario(scenario)),
        { numRuns: runs, seed, path: process.env.PROPERTY_PATH, timeout: 60_000 },
      );
    },
    60_000 + runs * 15_000,
  );
});
