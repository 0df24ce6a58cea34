// Reclaim on shortage: when buyers find no stock but expired-but-unswept holds exist, one reclaimer per product
// releases them so the units go to the buyers waiting now, not at the next sweep.
import { performance } from 'node:perf_hooks';
import { mapLimit } from '../concurrency.ts';
import { config } from '../config.ts';
import { reclaimLeaseName } from '../leases/items.ts';
import { acquireLease, waitForLease } from '../leases/service.ts';
import { logger } from '../logger.ts';
import { Metric } from '../metric-names.ts';
import { countMetric } from '../metrics.ts';
import { stockView } from '../stock/view.ts';
import { expiredHoldsOfProduct } from './items.ts';
import { gaveUnitsBack, releaseExpiredGroup, releaseGroups } from './release.ts';

/** Expired holds one reclaim pass looks at per index shard. */
const RECLAIM_BATCH = 25;
/** Parallel releases within one reclaim. */
const RECLAIM_PARALLEL = 8;
/** Longer than any reclaim pass takes; a reclaimer that died leaves it to run out. */
const LEASE_MS = 10_000;
/** How long buyers of another process wait for the reclaimer before answering with what they see. */
const WAIT_FOR_OTHER_MS = 3_000;
/** After finding nothing expired, this process looks again after this long at most (after sell-out, a crowd). */
const RECHECK_MS = 1_000;

export interface ReclaimResult {
  /** Units this process gave back. */
  freed: number;
  /** Another process held the reclaim lease: read the stock afresh, it may have freed units. */
  elsewhere: boolean;
  /** Some releases failed without an answer: they may have given units back, so read the stock afresh. */
  unsure: boolean;
}

/** Per product: when this process last found nothing expired, and the earliest expiry still ahead then. */
const lastEmpty = new Map<string, { at: number; nextExpiry: string }>();
const running = new Map<string, Promise<ReclaimResult>>();

/**
 * Reclaims the product's expired holds for buyers who found too little stock. Concurrent buyers in this process
 * share one pass; across processes a lease lets one reclaim while the others wait for it, so no two release the
 * same holds at once and nobody is answered busy for it. After finding nothing expired, the process looks again only
 * once a second, or sooner when the next hold's expiry has passed.
 */
export function reclaimForBuyers(productId: string, now: Date): Promise<ReclaimResult> {
  const empty = lastEmpty.get(productId);
  if (empty && now.toISOString() < empty.nextExpiry && performance.now() - empty.at < RECHECK_MS) {
    return Promise.resolve({ freed: 0, elsewhere: false, unsure: false });
  }
  const pending = running.get(productId);
  if (pending) return pending;
  const pass = reclaimOnce(productId, now).finally(() => running.delete(productId));
  running.set(productId, pass);
  return pass;
}

async function reclaimOnce(productId: string, now: Date): Promise<ReclaimResult> {
  const view = await stockView(productId);
  const shards = view?.product.bucket_slots ?? 0;
  const found = await Promise.all(
    Array.from({ length: shards }, (_, shard) => expiredHoldsOfProduct(productId, shard, now, RECLAIM_BATCH)),
  );
  const expired = found.flatMap((shard) => shard.expired);
  if (expired.length === 0) {
    // A hold made after this look expires a full TTL after it at the earliest.
    const latest = new Date(now.getTime() + config.HOLD_TTL_SECONDS * 1000).toISOString();
    const upcoming = found
      .flatMap((shard) => (shard.nextExpiry ? [shard.nextExpiry] : []))
      .concat(latest)
      .sort();
    lastEmpty.set(productId, { at: performance.now(), nextExpiry: upcoming[0] ?? latest });
    return { freed: 0, elsewhere: false, unsure: false };
  }
  const leaseName = reclaimLeaseName(productId);
  const lease = await acquireLease(leaseName, LEASE_MS);
  if (!lease) {
    await waitForLease(leaseName, WAIT_FOR_OTHER_MS);
    return { freed: 0, elsewhere: true, unsure: false };
  }
  try {
    // One group per bucket, released side by side: the pass never conflicts with itself.
    const groups = releaseGroups(expired);
    const outcomes = await mapLimit(groups, RECLAIM_PARALLEL, (group) => releaseExpiredGroup(group, now));
    let freed = 0;
    let released = 0;
    let failed = 0;
    outcomes.forEach((outcome, index) => {
      const group = groups[index] ?? [];
      if (outcome.status === 'rejected') failed += group.length;
      else {
        freed += outcome.value.reduce(
          (sum, result, i) => sum + (gaveUnitsBack(result) ? (group[i]?.qty ?? 0) : 0),
          0,
        );
        released += outcome.value.filter(gaveUnitsBack).length;
      }
    });
    countMetric(Metric.HoldsReclaimed, released);
    logger.info('hold_reclaimed', { product_id: productId, holds: expired.length, qty: freed, failed });
    return { freed, elsewhere: false, unsure: failed > 0 };
  } finally {
    await lease.release();
  }
}
