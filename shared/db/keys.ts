// The table's key shape. Each key is spelled by its owner alone: an aggregate's items.ts, shared/leases/items.ts, and
// shared/idempotency.ts for the Powertools records.
export interface Key {
  pk: string;
  sk: string;
}
