// Leases: the only place a lease's key, its item, its conditions and the names of the leases are spelled.
import { tableName } from '../db/client.ts';
import type { Key } from '../db/keys.ts';
import type { DeleteWrite, PutWrite } from '../db/single-write.ts';
import { table } from '../db/table.ts';

/** The lease one product's reclaim takes: one reclaimer per product at a time. */
export const reclaimLeaseName = (productId: string) => `reclaim#${productId}`;
/** The lease a sweep takes: sweeps never overlap. */
export const sweepLeaseName = () => 'sweep';

export const leaseKey = (name: string): Key => ({ pk: `LEASE#${name}`, sk: 'LEASE' });

export interface LeaseItem {
  entity: 'lease';
  holder: string;
  /** Epoch ms: past it the lease is free to take. */
  lease_until: number;
}

/** Takes the lease `name` for `holder` until `until` (epoch ms) if nobody holds it, or theirs ran out by `now`. */
export const takeLease = (name: string, holder: string, now: number, until: number): PutWrite => ({
  Put: {
    TableName: tableName,
    Item: {
      ...leaseKey(name),
      entity: 'lease',
      holder,
      lease_until: until,
      // TTL collects it an hour after it ran out.
      [table.ttlAttribute]: Math.floor(until / 1000) + 3600,
    } satisfies Key & LeaseItem & Record<string, unknown>,
    ConditionExpression: 'attribute_not_exists(pk) OR lease_until < :now',
    ExpressionAttributeValues: { ':now': now },
  },
});

/** Gives the lease `name` up, only if `holder` still holds it. */
export const giveLeaseUp = (name: string, holder: string): DeleteWrite => ({
  Delete: {
    TableName: tableName,
    Key: leaseKey(name),
    ConditionExpression: 'holder = :me',
    ExpressionAttributeValues: { ':me': holder },
  },
});

/** True when nobody holds the lease at `now` (epoch ms), given the item read (or its absence). */
export const leaseIsFree = (item: Partial<LeaseItem> | undefined, now: number): boolean =>
  !item || Number(item.lease_until) < now;
