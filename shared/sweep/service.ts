// The sweep: finds every hold and pending order past its deadline and settles each exactly once, in parallel.
import { performance } from 'node:perf_hooks';
import { mapLimit } from '../concurrency.ts';
import { DEADLINE_SHARDS } from '../db/table.ts';
import type { HoldRef } from '../holds/items.ts';
import { gaveUnitsBack, type ReleaseOutcome, releaseExpiredGroup, releaseGroups } from '../holds/release.ts';
import { sweepLeaseName } from '../leases/items.ts';
import { acquireLease } from '../leases/service.ts';
import { logger } from '../logger.ts';
import { expireUnpaidOrder, type OrderRef } from '../orders/service.ts';
import { countPastDeadline, deadlineOf, pastDeadlinePage } from './items.ts';

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
  /**
   * Items past their deadline this sweep left for the next one: those it did not reach before its time budget
   * ran out (counted, at most BACKLOG_PAGES pages per shard, so a lower bound past that) plus its failures.
   */
  backlog: number;
  /** Seconds from the oldest deadline the sweep found unswept to `now` (0: it found nothing past its deadline). */
  oldest_overdue_seconds: number;
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

/** Items read per shard and round: a round settles up to DEADLINE_SHARDS x PAGE items, grouped by bucket. */
const PAGE = 500;

/** Pages counted per shard for the backlog of a sweep that ran out of time (in its margin, after the last round). */
const BACKLOG_PAGES = 4;

/**
 * Settles everything past its deadline at `now`. One sweep at a time (a lease), so a sweep that runs past its
 * schedule is not joined by the next one. Each round reads a page of every deadline shard, releases the expired
 * holds in batches of one stock bucket each (`parallel` transactions at once, so a hot product's buckets are
 * released side by side, not one hold at a time) and expires the unpaid orders. Every settlement is a conditional
 * transaction, so racing a reclaim, an order or a webhook changes nothing for the loser.
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
    backlog: 0,
    oldest_overdue_seconds: 0,
  };
  const lease = await acquireLease(sweepLeaseName(), leaseMs);
  if (!lease) {
    logger.info('sweep_skipped', { reason: 'another_sweep_running' });
    return { ...report, skipped: true };
  }
  try {
    const cursors = new Map<number, Record<string, unknown> | undefined>(
      Array.from({ length: DEADLINE_SHARDS }, (_, shard) => [shard, undefined]),
    );
    while (cursors.size > 0) {
      if (performance.now() - started > budgetMs) {
        report.incomplete = true;
        break;
      }
      const items = await readRound(cursors, now);
      noteOldest(items, now, report);
      await settleRound(items, now, report, parallel);
    }
    report.backlog = report.failures + (report.incomplete ? await countLeft(cursors, now) : 0);
  } finally {
    await lease.release();
  }
  report.duration_ms = Math.round(performance.now() - started);
  const settled = report.holds_released + report.holds_paid_from_parked + report.orders_expired;
  report.rate_per_second = Math.round((settled / Math.max(1, report.duration_ms)) * 1000);
  logger.info('sweep_finished', { ...report });
  return report;
}

/** Each shard's page is oldest first, so the first round sees the oldest deadline of all. */
function noteOldest(items: DeadlineItem[], now: Date, report: SweepReport) {
  for (const item of items) {
    const overdue = Math.floor((now.getTime() - Date.parse(deadlineOf(item))) / 1000);
    if (overdue > report.oldest_overdue_seconds) report.oldest_overdue_seconds = overdue;
  }
}

/** Items still past their deadline in the shards this sweep did not finish (0, logged, if counting fails). */
async function countLeft(cursors: Map<number, Record<string, unknown> | undefined>, now: Date) {
  try {
    const counts = await Promise.all(
      [...cursors].map(([shard, start]) => countPastDeadline(shard, now, start, BACKLOG_PAGES)),
    );
    return counts.reduce((sum, { count }) => sum + count, 0);
  } catch (error) {
    // Only a figure for the metric: the settled items stand, and the next sweep continues anyway.
    logger.warn('sweep_backlog_uncounted', { error });
    return 0;
  }
}

/** One page of every shard still open; a shard whose page was its last leaves `cursors`. */
async function readRound(cursors: Map<number, Record<string, unknown> | undefined>, now: Date) {
  const pages = await Promise.all(
    [...cursors].map(async ([shard, start]) => ({
      shard,
      page: await pastDeadlinePage(shard, now, start, PAGE),
    })),
  );
  for (const { shard, page } of pages) {
    if (page.next) cursors.set(shard, page.next);
    else cursors.delete(shard);
  }
  return pages.flatMap(({ page }) => page.items as DeadlineItem[]);
}

async function settleRound(items: DeadlineItem[], now: Date, report: SweepReport, parallel: number) {
  const count = (outcome: ReleaseOutcome) => {
    if (gaveUnitsBack(outcome)) report.holds_released++;
    else if (outcome === 'paid_from_parked') report.holds_paid_from_parked++;
    else report.holds_already_settled++;
  };
  const holds = items.filter((item): item is HoldRef & { entity: 'hold' } => item.entity === 'hold');
  const orders = items.filter((item): item is OrderRef & { entity: 'order' } => item.entity === 'order');
  // Each piece of work: how many items it settles, and how.
  const work: Array<{ items: number; run: () => Promise<void> }> = [
    ...releaseGroups(holds).map((group) => ({
      items: group.length,
      run: async () => {
        for (const outcome of await releaseExpiredGroup(group, now)) count(outcome);
      },
    })),
    ...orders.map((order) => ({
      items: 1,
      run: async () => {
        if (await expireUnpaidOrder(order, now)) report.orders_expired++;
      },
    })),
  ];
  const results = await mapLimit(work, parallel, (piece) => piece.run());
  results.forEach((result, index) => {
    if (result.status === 'fulfilled') return;
    // One stuck batch must not stop the sweep; its items stay in the index and the next sweep retries them.
    const items = work[index]?.items ?? 1;
    report.failures += items;
    logger.error('sweep_item_failed', { error: result.reason, items });
  });
}
