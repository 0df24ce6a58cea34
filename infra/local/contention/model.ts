// The contention model: what one DynamoDB request does to the busy items, token buckets and counters, before and
// after DynamoDB Local answers it. It sees wire inputs (AWS JSON) and refuses with the service's own errors.
import type {
  BatchGetItemCommandInput,
  BatchGetItemCommandOutput,
  BatchWriteItemCommandInput,
  DeleteItemCommandInput,
  GetItemCommandInput,
  GetItemCommandOutput,
  PutItemCommandInput,
  QueryCommandInput,
  QueryCommandOutput,
  TransactGetItemsCommandInput,
  TransactWriteItemsCommandInput,
  UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import {
  batchWriteIntents,
  complete,
  deleteIntent,
  type ItemRef,
  indexPartition,
  itemBytes,
  itemRef,
  type Partition,
  putIntent,
  queryPartition,
  readUnits,
  transactIntent,
  updateIntent,
  type WriteIntent,
} from './intents.ts';
import type { ContentionParams } from './params.ts';
import { codes, throttled, transactionCancelled, transactionInProgress, writeConflict } from './refusals.ts';
import { Buckets, type Kind, now, Occupancy, type Usage } from './state.ts';

/** DynamoDB Local's answer, passed back as it came. */
export interface Upstream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** The operations the model looks at; every other one (Scan, control plane) is forwarded untouched. */
export const MODELLED_OPERATIONS: ReadonlySet<string> = new Set([
  'TransactWriteItems',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'GetItem',
  'Query',
  'BatchGetItem',
  'TransactGetItems',
]);

type Demand = Map<string, { partition: Partition; units: number }>;

function addDemand(demand: Demand, partition: Partition, units: number): void {
  const entry = demand.get(partition.id) ?? { partition, units: 0 };
  entry.units += units;
  demand.set(partition.id, entry);
}

const succeeded = (answer: Upstream) => answer.status === 200;

/** The answer's JSON, for the reads whose cost depends on what they found. */
function output<T>(answer: Upstream): T {
  return JSON.parse(answer.body.toString('utf8')) as T;
}

// Stale entries are swept every this many requests, so busy items and idle buckets do not accumulate.
const PRUNE_EVERY = 512;

export class ContentionModel {
  private readonly occupancy = new Occupancy();
  private readonly buckets: Buckets;
  /** itemKey -> { indexName: index partition-key value }, learned from successful writes. */
  private readonly indexValues = new Map<string, Record<string, string>>();
  private requests = 0;

  /** `usage` is the endpoint's: its counters outlive a change of parameters. */
  constructor(
    readonly params: ContentionParams,
    private readonly usage: Usage,
  ) {
    this.buckets = new Buckets(params);
  }

  /**
   * Admits or refuses (throws a Refusal) one request of `operation` (`X-Amz-Target` without its prefix) with its
   * parsed body, and accounts for DynamoDB Local's answer once `call` has it.
   */
  handle(operation: string, input: unknown, call: () => Promise<Upstream>): Promise<Upstream> {
    if (++this.requests % PRUNE_EVERY === 0) {
      this.occupancy.prune();
      this.buckets.prune();
    }
    switch (operation) {
      case 'TransactWriteItems':
        return this.transactWrite(input as TransactWriteItemsCommandInput, call);
      case 'PutItem': {
        const put = input as PutItemCommandInput;
        return this.plainWrite([putIntent(put.TableName, put.Item)], call);
      }
      case 'UpdateItem':
        return this.plainWrite([updateIntent(input as UpdateItemCommandInput)], call);
      case 'DeleteItem': {
        const remove = input as DeleteItemCommandInput;
        return this.plainWrite([deleteIntent(remove.TableName, remove.Key)], call);
      }
      case 'BatchWriteItem':
        return this.plainWrite(batchWriteIntents(input as BatchWriteItemCommandInput), call);
      case 'GetItem':
        return this.getItem(input as GetItemCommandInput, call);
      case 'Query':
        return this.query(input as QueryCommandInput, call);
      case 'BatchGetItem':
        return this.batchGet(input as BatchGetItemCommandInput, call);
      case 'TransactGetItems':
        return this.transactGet(input as TransactGetItemsCommandInput, call);
      default:
        // Scan and control-plane calls: not modelled (Scan would be charged per operation, not per partition).
        return call();
    }
  }

  private async transactWrite(input: TransactWriteItemsCommandInput, call: () => Promise<Upstream>) {
    const intents = complete((input.TransactItems ?? []).map(transactIntent));
    if (!intents) return call();
    const token = input.ClientRequestToken;
    if (this.isReplay(intents, token)) return call();
    const short = new Set(this.short(this.writeDemand(intents, 2), 'write').map((partition) => partition.id));
    if (short.size > 0) {
      this.usage.throttles++;
      // Capacity short for a transaction cancels it (reason ThrottlingError), which the SDK does not retry.
      const throttledItems = intents.map((entry) =>
        [entry.partition, ...this.indexCharges(entry)].some((partition) => short.has(partition.id)),
      );
      throw transactionCancelled(codes(throttledItems, 'ThrottlingError'));
    }
    for (const entry of intents) this.debit(entry.partition, 'write', 2);
    const items = intents.map((entry) => entry.item);
    this.occupancy.enter(items, token);
    try {
      const answer = await call();
      if (succeeded(answer)) this.settleIndexes(intents);
      return answer;
    } finally {
      this.occupancy.leave(items, now() + this.params.occupancyMs);
    }
  }

  /**
   * Throws when an item is in another transaction. An SDK retry of an attempt that reached DynamoDB carries the
   * same ClientRequestToken: DynamoDB answers it as an idempotent replay (TransactionInProgressException while the
   * first is unanswered), never as a conflict with itself. Returns true for such a replay.
   */
  private isReplay(intents: readonly WriteIntent[], mine: string | undefined): boolean {
    const holders = intents.map((entry) => this.occupancy.holder(entry.item));
    if (!holders.some(Boolean)) return false;
    if (mine !== undefined && holders.every((holder) => holder === undefined || holder.token === mine)) {
      if (holders.some((holder) => holder?.inFlight)) throw transactionInProgress();
      return true;
    }
    this.usage.transactionConflicts++;
    throw transactionCancelled(
      codes(
        holders.map((holder) => holder !== undefined),
        'TransactionConflict',
      ),
    );
  }

  private async plainWrite(found: Array<WriteIntent | undefined>, call: () => Promise<Upstream>) {
    const intents = complete(found);
    if (!intents) return call();
    if (intents.some((entry) => this.occupancy.isBusy(entry.item))) {
      this.usage.writeConflicts++;
      throw writeConflict();
    }
    const [short] = this.short(this.writeDemand(intents, 1), 'write');
    if (short) {
      this.usage.throttles++;
      throw throttled(short, 'write');
    }
    for (const entry of intents) this.debit(entry.partition, 'write', 1);
    const answer = await call();
    if (succeeded(answer)) this.settleIndexes(intents);
    return answer;
  }

  /** The index partitions a write charges: 1 where the entry is written, 1 where it is removed (2 for a move). */
  private indexCharges(write: WriteIntent): Partition[] {
    const before = this.indexValues.get(write.item) ?? {};
    const charged: Partition[] = [];
    for (const [indexName, after] of write.indexAfter) {
      const old = before[indexName];
      if (after !== null && (write.rewritesIndex || old !== after)) {
        charged.push(indexPartition(write.tableName, indexName, after));
      }
      if (old !== undefined && old !== after) charged.push(indexPartition(write.tableName, indexName, old));
    }
    return charged;
  }

  /**
   * The units the writes need per partition. Index partitions must have theirs too (GSI back-pressure holds back
   * the base table), but are charged only once the write has landed: see settleIndexes.
   */
  private writeDemand(intents: readonly WriteIntent[], unitsPerItem: number): Demand {
    const demand: Demand = new Map();
    for (const write of intents) {
      addDemand(demand, write.partition, unitsPerItem);
      for (const partition of this.indexCharges(write)) addDemand(demand, partition, 1);
    }
    return demand;
  }

  /** The partitions whose bucket the demand would take below zero: then the request is refused, nothing debited. */
  private short(demand: Demand, kind: Kind): Partition[] {
    return [...demand.values()]
      .filter(({ partition, units }) => this.buckets.tokens(partition.id, kind) - units < 0)
      .map(({ partition }) => partition);
  }

  /** After a successful write: charge its index partitions and remember the item's index keys. */
  private settleIndexes(intents: readonly WriteIntent[]): void {
    for (const write of intents) {
      for (const partition of this.indexCharges(write)) this.debit(partition, 'write', 1);
      if (write.indexAfter.size === 0) continue;
      const values = { ...this.indexValues.get(write.item) };
      for (const [indexName, after] of write.indexAfter) {
        if (after === null) delete values[indexName];
        else values[indexName] = after;
      }
      if (Object.keys(values).length > 0) this.indexValues.set(write.item, values);
      else this.indexValues.delete(write.item);
    }
  }

  private debit(partition: Partition, kind: Kind, units: number): void {
    this.buckets.debit(partition.id, kind, units);
    this.usage.record(partition.id, kind, units);
  }

  /** Reads of unknown size are admitted unless a partition is in deficit, and charged once the answer is in. */
  private admitRead(partitions: readonly Partition[]): void {
    const short = partitions.find((partition) => this.buckets.tokens(partition.id, 'read') < 0);
    if (short) {
      this.usage.throttles++;
      throw throttled(short, 'read');
    }
  }

  private async getItem(input: GetItemCommandInput, call: () => Promise<Upstream>) {
    const ref = itemRef(input.TableName, input.Key);
    if (!ref) return call();
    this.admitRead([ref.partition]);
    const answer = await call();
    if (!succeeded(answer)) return answer;
    const bytes = itemBytes(output<GetItemCommandOutput>(answer).Item);
    this.debit(ref.partition, 'read', readUnits(bytes, input.ConsistentRead === true));
    return answer;
  }

  private async query(input: QueryCommandInput, call: () => Promise<Upstream>) {
    const partition = queryPartition(input);
    if (!partition) return call();
    this.admitRead([partition]);
    const answer = await call();
    if (!succeeded(answer)) return answer;
    const items = output<QueryCommandOutput>(answer).Items ?? [];
    const bytes = items.reduce((sum, item) => sum + itemBytes(item), 0);
    // A GSI query is always eventually consistent.
    this.debit(partition, 'read', readUnits(bytes, input.ConsistentRead === true && !input.IndexName));
    return answer;
  }

  private async batchGet(input: BatchGetItemCommandInput, call: () => Promise<Upstream>) {
    const requested = Object.entries(input.RequestItems ?? {}).flatMap(([tableName, request]) =>
      (request.Keys ?? []).map((key) => ({
        ref: itemRef(tableName, key),
        consistent: request.ConsistentRead === true,
      })),
    );
    const refs = requested.flatMap(({ ref }) => (ref ? [ref] : []));
    this.admitRead(refs.map((ref) => ref.partition));
    const answer = await call();
    if (!succeeded(answer)) return answer;
    const found = new Map<string, number>();
    for (const [tableName, items] of Object.entries(
      output<BatchGetItemCommandOutput>(answer).Responses ?? {},
    )) {
      for (const item of items) {
        const ref = itemRef(tableName, item);
        if (ref) found.set(ref.item, itemBytes(item));
      }
    }
    // Each requested key costs at least the minimum, found or not.
    for (const { ref, consistent } of requested) {
      if (ref) this.debit(ref.partition, 'read', readUnits(found.get(ref.item) ?? 0, consistent));
    }
    return answer;
  }

  /** 2 units per item, known up front. Unlike plain reads it conflicts with an item in a transaction. */
  private async transactGet(input: TransactGetItemsCommandInput, call: () => Promise<Upstream>) {
    const found = (input.TransactItems ?? []).map((entry) => itemRef(entry.Get?.TableName, entry.Get?.Key));
    const refs = found.filter((ref): ref is ItemRef => ref !== undefined);
    if (refs.length === 0 || refs.length !== found.length) return call();
    const busy = refs.map((ref) => this.occupancy.isBusy(ref.item));
    if (busy.some(Boolean)) {
      this.usage.transactionConflicts++;
      throw transactionCancelled(codes(busy, 'TransactionConflict'));
    }
    const demand: Demand = new Map();
    for (const ref of refs) addDemand(demand, ref.partition, 2);
    const short = new Set(this.short(demand, 'read').map((partition) => partition.id));
    if (short.size > 0) {
      this.usage.throttles++;
      throw transactionCancelled(
        codes(
          refs.map((ref) => short.has(ref.partition.id)),
          'ThrottlingError',
        ),
      );
    }
    for (const { partition, units } of demand.values()) this.debit(partition, 'read', units);
    return call();
  }
}
