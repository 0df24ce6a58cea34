// The sweep: finds every hold and pending order past its deadline and settles each exactly once, in parallel.
import { performance } from 'node:perf_hooks';
import { mapLimit } from '../concurrency.ts';
import { acquireLease } from '../db/lease.ts';
import { DEADLINE_SHARDS } from '../db/table.ts';
import type { HoldRef } from '../holds/items.ts';
import { type ReleaseOutcome, releaseExpiredHold } from '../holds/release.ts';
import { logger } from '../logger.ts';
import { expireUnpaidOrder, type OrderRef } from '../orders/service.ts';
import { pastDeadlinePage } from './items.ts';

export interface SweepReport {
  /** Another sweep held the lease: this one did nothing (sweeps never overlap). */
  skipped: boolean;
  holds_released: number;
  holds_paid_from_parked: number;
  holds_already_settled: number;
  orders_expired: number;
  failures: number;
  /** True when the time budget ran out with items left: the next sweep continues. */
  incomplete: boolean;
  duration_ms: number;
  /** Items settled (holds and orders) per second. */
  rate_per_second: number;
}

export interface SweepOptions {
  /** Releases in flight at once (across all shards). */
  parallel?: number;
  /** Stop starting new pages after this long (the Lambda's remaining time, less a margin). */
  budgetMs?: number;
  /** How long the sweep lease lasts: the Lambda's remaining time, so a sweep that dies frees it when it would have. */
  leaseMs?: number;
}

type DeadlineItem = (HoldRef & { entity: 'hold' }) | (OrderRef & { entity: 'order' });

const LEASE = 'sweep';

/**
 * Settles everything past its deadline at `now`. One sweep at a time (a lease), so a sweep that runs past its
 * schedule is not joined by the next one; within a sweep, `parallel` settlements run at once. Each settlement is a
 * conditional transaction, so racing a reclaim, an order or a webhook changes nothing for the loser.
 */
export async function sweep(now: Date, options: SweepOptions = {}): Promise<SweepReport> {
  const { parallel = 32, budgetMs = 50_000, leaseMs = budgetMs + 5_000 } = options;
  const started = performance.now();
  const report: SweepReport = {
    skipped: false,
    holds_released: 0,
    holds_paid_from_parked: 0,
    holds_already_settled: 0,
    orders_expired: 0,
    failures: 0,
    incomplete: false,
    duration_ms: 0,
    rate_per_second: 0,
  };
  const lease = await acquireLease(LEASE, leaseMs);
  if (!lease) {
    logger.info('sweep_skipped', { reason: 'another_sweep_running' });
    return { ...report, skipped: true };
  }
  try {
    await Promise.all(
      Array.from({ length: DEADLINE_SHARDS }, (_, shard) =>
        sweepShard(
          shard,
          now,
          report,
          Math.max(1, Math.floor(parallel / DEADLINE_SHARDS)),
          started + budgetMs,
        ),
      ),
    );
  } finally {
    await lease.release();
  }
  report.duration_ms = Math.round(performance.now() - started);
  const settled = report.holds_released + report.holds_paid_from_parked + report.orders_expired;
  report.rate_per_second = Math.round((settled / Math.max(1, report.duration_ms)) * 1000);
  logger.info('sweep_finished', { ...report });
  return report;
}

async function sweepShard(shard: number, now: Date, report: SweepReport, parallel: number, stopAt: number) {
  const count = (outcome: ReleaseOutcome) => {
    if (outcome === 'released' || outcome === 'cancelled_from_parked') report.holds_released++;
    else if (outcome === 'paid_from_parked') report.holds_paid_from_parked++;
    else report.holds_already_settled++;
  };
  let next: Record<string, unknown> | undefined;
  do {
    if (performance.now() > stopAt) {
      report.incomplete = true;
      return;
    }
    const page = await pastDeadlinePage(shard, now, next);
    await mapLimit(page.items as DeadlineItem[], parallel, async (item) => {
      try {
        if (item.entity === 'hold') count(await releaseExpiredHold(item, now));
        else if (await expireUnpaidOrder(item, now)) report.orders_expired++;
      } catch (error) {
        // One stuck item must not stop the sweep; it stays in the index and the next sweep retries it.
        report.failures++;
        logger.error('sweep_item_failed', {
          entity: item.entity,
          item_id: item.entity === 'hold' ? item.hold_id : item.order_id,
          error,
        });
      }
    });
    next = page.next;
  } while (next);
}
