// The contention mode's state: items busy in a transaction, per-partition token buckets, and usage counters.
import { performance } from 'node:perf_hooks';
import type { ContentionParams } from './params.ts';

// Captured at load: tests fake Date (and may fake `performance`); occupancy and refill must follow the real clock.
export const now = performance.now.bind(performance);

/** Items in a transaction: from admission until the answer plus the occupancy. */
export class Occupancy {
  private readonly items = new Map<string, { inFlight: number; until: number; token: string | undefined }>();

  isBusy(item: string): boolean {
    return this.holder(item) !== undefined;
  }

  /** The transaction an item is busy with (its ClientRequestToken, and whether its answer is still awaited). */
  holder(item: string): { token: string | undefined; inFlight: boolean } | undefined {
    const entry = this.items.get(item);
    if (entry === undefined || (entry.inFlight <= 0 && now() >= entry.until)) return undefined;
    return { token: entry.token, inFlight: entry.inFlight > 0 };
  }

  enter(items: readonly string[], token: string | undefined): void {
    for (const item of items) {
      const entry = this.items.get(item) ?? { inFlight: 0, until: 0, token };
      entry.inFlight++;
      entry.token = token;
      this.items.set(item, entry);
    }
  }

  leave(items: readonly string[], until: number): void {
    for (const item of items) {
      const entry = this.items.get(item);
      if (!entry) continue;
      entry.inFlight--;
      entry.until = Math.max(entry.until, until);
    }
  }

  prune(): void {
    const at = now();
    for (const [item, entry] of this.items)
      if (entry.inFlight <= 0 && entry.until <= at) this.items.delete(item);
  }
}

export type Kind = 'write' | 'read';

/** Per-partition token buckets holding one second of the rate, refilling continuously; a full bucket is forgotten. */
export class Buckets {
  private readonly buckets = new Map<string, { write: number; read: number; at: number }>();

  constructor(private readonly params: ContentionParams) {}

  private rate(kind: Kind): number {
    return kind === 'write' ? this.params.writeUnitsPerSecond : this.params.readUnitsPerSecond;
  }

  private refilled(partition: string) {
    const at = now();
    const bucket = this.buckets.get(partition) ?? { write: this.rate('write'), read: this.rate('read'), at };
    const seconds = (at - bucket.at) / 1000;
    bucket.write = Math.min(this.rate('write'), bucket.write + seconds * this.rate('write'));
    bucket.read = Math.min(this.rate('read'), bucket.read + seconds * this.rate('read'));
    bucket.at = at;
    this.buckets.set(partition, bucket);
    return bucket;
  }

  tokens(partition: string, kind: Kind): number {
    return this.refilled(partition)[kind];
  }

  debit(partition: string, kind: Kind, units: number): void {
    this.refilled(partition)[kind] -= units;
  }

  prune(): void {
    for (const partition of [...this.buckets.keys()]) {
      const bucket = this.refilled(partition);
      if (bucket.write >= this.rate('write') && bucket.read >= this.rate('read'))
        this.buckets.delete(partition);
    }
  }
}

export interface PartitionUsage {
  /** `<table>:<pk value>` for a base-table partition, `<table>/<index name>:<index pk value>` for a GSI one. */
  partition: string;
  writeUnits: number;
  readUnits: number;
}

export interface ContentionStats {
  /** TransactionCanceledException with TransactionConflict produced (TransactWriteItems and TransactGetItems). */
  transactionConflicts: number;
  /** TransactionConflictException produced for plain writes. */
  writeConflicts: number;
  /**
   * ThrottlingException produced, plus transactions cancelled for capacity: DynamoDB answers those with
   * TransactionCanceledException, reason ThrottlingError, as the model does.
   */
  throttles: number;
  /** Requests that reached DynamoDB Local through the endpoint (every operation, modelled or not). */
  forwarded: number;
  /** Units consumed per partition since the last reset, hottest (by write units) first. */
  partitions: PartitionUsage[];
}

// Past this many partitions since the last reset, usage is pooled so a long soak cannot grow the counters forever.
const MAX_TRACKED_PARTITIONS = 10_000;
const OTHER_PARTITIONS = '(other partitions)';

export class Usage {
  transactionConflicts = 0;
  writeConflicts = 0;
  throttles = 0;
  forwarded = 0;
  private partitions = new Map<string, PartitionUsage>();

  record(partition: string, kind: Kind, units: number): void {
    const id =
      this.partitions.has(partition) || this.partitions.size < MAX_TRACKED_PARTITIONS
        ? partition
        : OTHER_PARTITIONS;
    const usage = this.partitions.get(id) ?? { partition: id, writeUnits: 0, readUnits: 0 };
    if (kind === 'write') usage.writeUnits += units;
    else usage.readUnits += units;
    this.partitions.set(id, usage);
  }

  snapshot(): ContentionStats {
    const partitions = [...this.partitions.values()]
      .map((usage) => ({ ...usage }))
      .sort((a, b) => b.writeUnits - a.writeUnits || b.readUnits - a.readUnits);
    const { transactionConflicts, writeConflicts, throttles, forwarded } = this;
    return { transactionConflicts, writeConflicts, throttles, forwarded, partitions };
  }

  reset(): void {
    this.transactionConflicts = 0;
    this.writeConflicts = 0;
    this.throttles = 0;
    this.forwarded = 0;
    this.partitions = new Map();
  }
}
