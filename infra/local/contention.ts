// Cloud-faithful contention for DynamoDB Local: busy items under transactions and per-partition throughput limits.
import { performance } from 'node:perf_hooks';
import {
  type AttributeValue,
  type BatchGetItemCommandInput,
  type BatchGetItemCommandOutput,
  type BatchWriteItemCommandInput,
  type DeleteItemCommandInput,
  type DynamoDBClient,
  type GetItemCommandInput,
  type GetItemCommandOutput,
  type PutItemCommandInput,
  type QueryCommandInput,
  type QueryCommandOutput,
  ThrottlingException,
  type TransactGetItemsCommandInput,
  TransactionCanceledException,
  TransactionConflictException,
  TransactionInProgressException,
  type TransactWriteItemsCommandInput,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { table } from '../../shared/db/table.ts';

export interface ContentionParams {
  /** How long an item stays "in a transaction" after the upstream answer (ms). Default 25. */
  occupancyMs: number;
  /** Write units per second per partition. Default 1000. */
  writeUnitsPerSecond: number;
  /** Read units per second per partition. Default 3000. */
  readUnitsPerSecond: number;
}

export const CLOUD: ContentionParams = Object.freeze({
  occupancyMs: 25,
  writeUnitsPerSecond: 1000,
  readUnitsPerSecond: 3000,
});

/** The cloud modelled on a slow 2-core machine: everything four times slower. */
export const CLOUD_SCALED: ContentionParams = Object.freeze({
  occupancyMs: 100,
  writeUnitsPerSecond: 250,
  readUnitsPerSecond: 750,
});

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
  /** Units consumed per partition since the last reset, hottest (by write units) first. */
  partitions: PartitionUsage[];
}

export interface ContentionMode {
  readonly params: ContentionParams;
  stats(): ContentionStats;
  resetStats(): void;
  /** Removes the middleware from the client. */
  uninstall(): void;
}

const SPEC_KEYS = {
  occupancy: 'occupancyMs',
  write: 'writeUnitsPerSecond',
  read: 'readUnitsPerSecond',
} as const;
const SPEC_HELP = "expected 1|on|cloud, scaled, 0|off or 'occupancy=100,write=250,read=750'";

function validated(params: ContentionParams): ContentionParams {
  const { occupancyMs, writeUnitsPerSecond, readUnitsPerSecond } = params;
  const ok =
    Number.isFinite(occupancyMs) &&
    occupancyMs >= 0 &&
    [writeUnitsPerSecond, readUnitsPerSecond].every((rate) => Number.isFinite(rate) && rate > 0);
  if (!ok) throw new Error(`Contention params out of range: ${JSON.stringify(params)}`);
  return Object.freeze({ occupancyMs, writeUnitsPerSecond, readUnitsPerSecond });
}

/**
 * Parses the CONTENTION_MODE env value: '1'|'on'|'cloud' -> CLOUD; 'scaled' -> CLOUD_SCALED;
 * 'occupancy=100,write=250,read=750' (any subset, rest from CLOUD); '' | '0' | 'off' | undefined -> undefined.
 * Throws a one-line Error on anything else.
 */
export function parseContentionSpec(spec: string | undefined): ContentionParams | undefined {
  const text = (spec ?? '').trim().toLowerCase();
  if (text === '' || text === '0' || text === 'off') return undefined;
  if (text === '1' || text === 'on' || text === 'cloud') return CLOUD;
  if (text === 'scaled') return CLOUD_SCALED;
  const params = { ...CLOUD };
  const seen = new Set<string>();
  for (const pair of text.split(',')) {
    const [key = '', value = '', ...rest] = pair.split('=').map((part) => part.trim());
    const field = Object.hasOwn(SPEC_KEYS, key) ? SPEC_KEYS[key as keyof typeof SPEC_KEYS] : undefined;
    const number = value === '' ? Number.NaN : Number(value);
    if (!field || rest.length > 0 || seen.has(key) || !Number.isFinite(number)) {
      throw new Error(`Invalid CONTENTION_MODE ${JSON.stringify(spec)}: ${SPEC_HELP}`);
    }
    seen.add(key);
    params[field] = number;
  }
  try {
    return validated(params);
  } catch {
    throw new Error(`Invalid CONTENTION_MODE ${JSON.stringify(spec)}: occupancy >= 0, rates > 0`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Keys and partitions

/**
 * An item or key as it passes this step. Inputs are always marshalled here, but a DynamoDBDocumentClient command
 * unmarshalls its output inside the deserialize step, below this middleware: outputs may come either way.
 */
type Item = Record<string, unknown>;
type IndexValues = Record<string, string>;

interface Partition {
  id: string;
  /** Resource path for ThrottlingReason, as in the table or index ARN. */
  resource: string;
  isIndex: boolean;
}

// Captured at load: tests fake Date (and may fake `performance`); occupancy and refill must follow the real clock.
const now = performance.now.bind(performance);

const indexes = Object.values(table.indexes);
const indexByAttribute = new Map<string, string>(
  indexes.map((index) => [index.partitionKey, index.indexName]),
);

const ATTRIBUTE_VALUE_MEMBERS = new Set(['S', 'N', 'B', 'SS', 'NS', 'BS', 'M', 'L', 'NULL', 'BOOL']);

function isAttributeValue(value: unknown): value is AttributeValue {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return false;
  const members = Object.keys(value);
  return members.length === 1 && ATTRIBUTE_VALUE_MEMBERS.has(members[0] ?? '');
}

/** A key or index-key value as text, whether marshalled (`{ S: 'x' }`) or plain (`'x'`). */
function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (isAttributeValue(value)) return text(value.S ?? value.N ?? value.B) ?? JSON.stringify(value);
  return JSON.stringify(value);
}

function basePartition(tableName: string, pk: string): Partition {
  return { id: `${tableName}:${pk}`, resource: `table/${tableName}`, isIndex: false };
}

function indexPartition(tableName: string, indexName: string, value: string): Partition {
  return {
    id: `${tableName}/${indexName}:${value}`,
    resource: `table/${tableName}/index/${indexName}`,
    isIndex: true,
  };
}

interface ItemRef {
  /** Item identity: table + pk + sk. */
  item: string;
  partition: Partition;
}

function itemRef(tableName: string | undefined, key: Item | undefined): ItemRef | undefined {
  const pk = text(key?.[table.partitionKey]);
  if (tableName === undefined || pk === undefined) return undefined;
  const sk = text(key?.[table.sortKey]) ?? '';
  return { item: JSON.stringify([tableName, pk, sk]), partition: basePartition(tableName, pk) };
}

function jsonLength(value: unknown): number {
  return JSON.stringify(value, (_, part: unknown) =>
    typeof part === 'bigint' ? part.toString() : part instanceof Uint8Array ? text(part) : part,
  ).length;
}

/** Size estimate: the JSON length of the item in its marshalled (wire) form. */
function itemBytes(item: Item | undefined): number {
  if (!item) return 0;
  if (Object.values(item).every(isAttributeValue)) return jsonLength(item);
  try {
    return jsonLength(marshall(item, { removeUndefinedValues: true, convertClassInstanceToMap: true }));
  } catch {
    return jsonLength(item);
  }
}

/** Read units for `bytes` read at once: 1 per 4 KB (min 1) when consistent, half that otherwise. */
function readUnits(bytes: number, consistent: boolean): number {
  return Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);
}

// ---------------------------------------------------------------------------------------------------------------
// Writes as intents: which item, and what happens to its index keys

interface WriteIntent extends ItemRef {
  tableName: string;
  /** Each index's partition-key value after the write; null = removed; an index not listed is untouched. */
  indexAfter: Map<string, string | null>;
  /** A Put replaces the whole item, so its index entry is rewritten even when the index key stays the same. */
  rewritesIndex: boolean;
}

function intent(
  tableName: string | undefined,
  key: Item | undefined,
  indexAfter: Map<string, string | null>,
  rewritesIndex = false,
): WriteIntent | undefined {
  const ref = itemRef(tableName, key);
  return ref && tableName !== undefined ? { ...ref, tableName, indexAfter, rewritesIndex } : undefined;
}

function putIntent(tableName: string | undefined, item: Item | undefined): WriteIntent | undefined {
  const after = new Map(indexes.map((index) => [index.indexName, text(item?.[index.partitionKey]) ?? null]));
  return intent(tableName, item, after, true);
}

function deleteIntent(tableName: string | undefined, key: Item | undefined): WriteIntent | undefined {
  return intent(tableName, key, new Map(indexes.map((index) => [index.indexName, null])));
}

/** Top-level comma-separated actions of one update-expression clause (commas inside function calls kept). */
function actions(clause: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < clause.length; i++) {
    const char = clause[i];
    if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (char === ',' && depth === 0) {
      parts.push(clause.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(clause.slice(start).trim());
  return parts.filter((part) => part !== '');
}

/**
 * The index-key changes an UpdateExpression makes: `SET <gsi pk> = :v` and `REMOVE <gsi pk>`. A SET from anything
 * but a plain placeholder (if_not_exists, ...) is left out: its value is unknown until the item is read.
 */
type UpdateInput = Pick<
  UpdateItemCommandInput,
  'TableName' | 'Key' | 'UpdateExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
>;

function updateIndexChanges(input: UpdateInput): Map<string, string | null> {
  const changes = new Map<string, string | null>();
  const name = (token: string) =>
    token.startsWith('#') ? (input.ExpressionAttributeNames?.[token] ?? token) : token;
  // Clause keywords are reserved words, so they appear bare only as keywords (placeholders start with : or #).
  const parts = (input.UpdateExpression ?? '').split(/(?:^|\s+)(SET|REMOVE|ADD|DELETE)\s+/i);
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const keyword = (parts[i] ?? '').toUpperCase();
    for (const action of actions(parts[i + 1] ?? '')) {
      if (keyword === 'REMOVE') {
        const index = indexByAttribute.get(name(action));
        if (index) changes.set(index, null);
      } else if (keyword === 'SET') {
        const [path = '', value = ''] = action.split('=').map((side) => side.trim());
        const index = indexByAttribute.get(name(path));
        const newValue = /^:\w+$/.test(value) ? text(input.ExpressionAttributeValues?.[value]) : undefined;
        if (index && newValue !== undefined) changes.set(index, newValue);
      }
    }
  }
  return changes;
}

function updateIntent(input: UpdateInput): WriteIntent | undefined {
  return intent(input.TableName, input.Key, updateIndexChanges(input));
}

type TransactWriteItem = NonNullable<TransactWriteItemsCommandInput['TransactItems']>[number];

function transactIntent(entry: TransactWriteItem): WriteIntent | undefined {
  if (entry.Put) return putIntent(entry.Put.TableName, entry.Put.Item);
  if (entry.Update) return updateIntent(entry.Update);
  if (entry.Delete) return deleteIntent(entry.Delete.TableName, entry.Delete.Key);
  if (entry.ConditionCheck)
    return intent(entry.ConditionCheck.TableName, entry.ConditionCheck.Key, new Map());
  return undefined;
}

function batchWriteIntents(input: BatchWriteItemCommandInput): Array<WriteIntent | undefined> {
  return Object.entries(input.RequestItems ?? {}).flatMap(([tableName, requests]) =>
    requests.map((request) =>
      request.PutRequest
        ? putIntent(tableName, request.PutRequest.Item)
        : deleteIntent(tableName, request.DeleteRequest?.Key),
    ),
  );
}

/** Every intent, or undefined when one is malformed: then upstream answers with its own ValidationException. */
function complete(intents: Array<WriteIntent | undefined>): WriteIntent[] | undefined {
  const known = intents.filter((entry): entry is WriteIntent => entry !== undefined);
  return known.length === intents.length && known.length > 0 ? known : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// State: busy items, token buckets, learned index keys, usage counters

/** Items in a transaction: from admission until the answer plus the occupancy. */
class Occupancy {
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

type Kind = 'write' | 'read';

/** Per-partition token buckets holding one second of the rate, refilling continuously; a full bucket is forgotten. */
class Buckets {
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

// Past this many partitions since the last reset, usage is pooled so a long soak cannot grow the counters forever.
const MAX_TRACKED_PARTITIONS = 10_000;
const OTHER_PARTITIONS = '(other partitions)';

class Usage {
  transactionConflicts = 0;
  writeConflicts = 0;
  throttles = 0;
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
    const { transactionConflicts, writeConflicts, throttles } = this;
    return { transactionConflicts, writeConflicts, throttles, partitions };
  }

  reset(): void {
    this.transactionConflicts = 0;
    this.writeConflicts = 0;
    this.throttles = 0;
    this.partitions = new Map();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Errors shaped like the service's own

const HOT_KEY_MESSAGE =
  'Throughput exceeds the current capacity of your table or index. Check if you have a hot key.';

type CancellationCode = 'None' | 'TransactionConflict' | 'ThrottlingError';

const CANCELLATION_MESSAGES = {
  TransactionConflict: 'Transaction is ongoing for the item',
  ThrottlingError: HOT_KEY_MESSAGE,
} as const;

function transactionCancelled(codes: readonly CancellationCode[]): TransactionCanceledException {
  return new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
    $metadata: { httpStatusCode: 400 },
    CancellationReasons: codes.map((Code) =>
      Code === 'None' ? { Code } : { Code, Message: CANCELLATION_MESSAGES[Code] },
    ),
  });
}

function codes(flags: readonly boolean[], code: Exclude<CancellationCode, 'None'>): CancellationCode[] {
  return flags.map((flag) => (flag ? code : 'None'));
}

function transactionInProgress(): TransactionInProgressException {
  return new TransactionInProgressException({
    message: 'Transaction with the same ClientRequestToken is in progress',
    $metadata: { httpStatusCode: 400 },
  });
}

function writeConflict(): TransactionConflictException {
  return new TransactionConflictException({
    message: 'Transaction is ongoing for the item',
    $metadata: { httpStatusCode: 400 },
  });
}

function throttled(partition: Partition, kind: Kind): ThrottlingException {
  const what = `${partition.isIndex ? 'Index' : 'Table'}${kind === 'write' ? 'Write' : 'Read'}`;
  return new ThrottlingException({
    message: partition.isIndex
      ? 'Throughput exceeds the current capacity for one or more global secondary indexes.'
      : HOT_KEY_MESSAGE,
    $metadata: { httpStatusCode: 400 },
    throttlingReasons: [
      {
        reason: `${what}KeyRangeThroughputExceeded`,
        resource: `arn:aws:dynamodb:local:000000000000:${partition.resource}`,
      },
    ],
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The model: what one request does to the state, before and after its upstream call

type Demand = Map<string, { partition: Partition; units: number }>;

function addDemand(demand: Demand, partition: Partition, units: number): void {
  const entry = demand.get(partition.id) ?? { partition, units: 0 };
  entry.units += units;
  demand.set(partition.id, entry);
}

// Stale entries are swept every this many requests, so busy items and idle buckets do not accumulate.
const PRUNE_EVERY = 512;

class ContentionModel {
  private readonly occupancy = new Occupancy();
  private readonly buckets: Buckets;
  /** itemKey -> { indexName: index partition-key value }, learned from successful writes. */
  private readonly indexValues = new Map<string, IndexValues>();
  readonly usage = new Usage();
  private requests = 0;

  constructor(readonly params: ContentionParams) {
    this.buckets = new Buckets(params);
  }

  handle<R extends { output: unknown }>(
    command: string,
    input: unknown,
    request: unknown,
    call: () => Promise<R>,
  ): Promise<R> {
    if (++this.requests % PRUNE_EVERY === 0) {
      this.occupancy.prune();
      this.buckets.prune();
    }
    switch (command) {
      case 'TransactWriteItemsCommand': {
        const transact = input as TransactWriteItemsCommandInput;
        const token = () => transact.ClientRequestToken ?? clientRequestToken(request);
        return this.transactWrite(transact, token, call);
      }
      case 'PutItemCommand': {
        const put = input as PutItemCommandInput;
        return this.plainWrite([putIntent(put.TableName, put.Item)], call);
      }
      case 'UpdateItemCommand':
        return this.plainWrite([updateIntent(input as UpdateItemCommandInput)], call);
      case 'DeleteItemCommand': {
        const remove = input as DeleteItemCommandInput;
        return this.plainWrite([deleteIntent(remove.TableName, remove.Key)], call);
      }
      case 'BatchWriteItemCommand':
        return this.plainWrite(batchWriteIntents(input as BatchWriteItemCommandInput), call);
      default:
        return this.read(command, input, call);
    }
  }

  private read<R extends { output: unknown }>(
    command: string,
    input: unknown,
    call: () => Promise<R>,
  ): Promise<R> {
    switch (command) {
      case 'GetItemCommand':
        return this.getItem(input as GetItemCommandInput, call);
      case 'QueryCommand':
        return this.query(input as QueryCommandInput, call);
      case 'BatchGetItemCommand':
        return this.batchGet(input as BatchGetItemCommandInput, call);
      case 'TransactGetItemsCommand':
        return this.transactGet(input as TransactGetItemsCommandInput, call);
      default:
        // Scan and control-plane calls: not modelled (Scan would be charged per operation, not per partition).
        return call();
    }
  }

  private async transactWrite<R>(
    input: TransactWriteItemsCommandInput,
    token: () => string | undefined,
    call: () => Promise<R>,
  ): Promise<R> {
    const intents = complete((input.TransactItems ?? []).map(transactIntent));
    if (!intents) return call();
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
    this.occupancy.enter(items, token());
    try {
      const result = await call();
      this.settleIndexes(intents);
      return result;
    } finally {
      this.occupancy.leave(items, now() + this.params.occupancyMs);
    }
  }

  /**
   * Throws when an item is in another transaction. An SDK retry of an attempt that reached DynamoDB carries the
   * same ClientRequestToken: DynamoDB answers it as an idempotent replay (TransactionInProgressException while the
   * first is unanswered), never as a conflict with itself. Returns true for such a replay.
   */
  private isReplay(intents: readonly WriteIntent[], token: () => string | undefined): boolean {
    const holders = intents.map((entry) => this.occupancy.holder(entry.item));
    if (!holders.some(Boolean)) return false;
    const mine = token();
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

  private async plainWrite<R>(found: Array<WriteIntent | undefined>, call: () => Promise<R>): Promise<R> {
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
    const result = await call();
    this.settleIndexes(intents);
    return result;
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

  private async getItem<R extends { output: unknown }>(input: GetItemCommandInput, call: () => Promise<R>) {
    const ref = itemRef(input.TableName, input.Key);
    if (!ref) return call();
    this.admitRead([ref.partition]);
    const result = await call();
    const bytes = itemBytes((result.output as GetItemCommandOutput).Item);
    this.debit(ref.partition, 'read', readUnits(bytes, input.ConsistentRead === true));
    return result;
  }

  private async query<R extends { output: unknown }>(input: QueryCommandInput, call: () => Promise<R>) {
    const partition = queryPartition(input);
    if (!partition) return call();
    this.admitRead([partition]);
    const result = await call();
    const items = (result.output as QueryCommandOutput).Items ?? [];
    const bytes = items.reduce((sum, item) => sum + itemBytes(item), 0);
    // A GSI query is always eventually consistent.
    this.debit(partition, 'read', readUnits(bytes, input.ConsistentRead === true && !input.IndexName));
    return result;
  }

  private async batchGet<R extends { output: unknown }>(
    input: BatchGetItemCommandInput,
    call: () => Promise<R>,
  ) {
    const requested = Object.entries(input.RequestItems ?? {}).flatMap(([tableName, request]) =>
      (request.Keys ?? []).map((key) => ({
        ref: itemRef(tableName, key),
        consistent: request.ConsistentRead === true,
      })),
    );
    const refs = requested.flatMap(({ ref }) => (ref ? [ref] : []));
    this.admitRead(refs.map((ref) => ref.partition));
    const result = await call();
    const found = new Map<string, number>();
    for (const [tableName, items] of Object.entries(
      (result.output as BatchGetItemCommandOutput).Responses ?? {},
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
    return result;
  }

  /** 2 units per item, known up front. Unlike plain reads it conflicts with an item in a transaction. */
  private async transactGet<R>(input: TransactGetItemsCommandInput, call: () => Promise<R>) {
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

/**
 * The SDK fills ClientRequestToken in while serializing, so at this step it is only in the request body; parsed only
 * when needed (admission, or an item found busy), since a conflicted attempt should stay cheap.
 */
function clientRequestToken(request: unknown): string | undefined {
  const body =
    typeof request === 'object' && request !== null && 'body' in request ? request.body : undefined;
  const json =
    typeof body === 'string' ? body : body instanceof Uint8Array ? new TextDecoder().decode(body) : undefined;
  if (json === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(json);
    const token =
      typeof parsed === 'object' && parsed !== null && 'ClientRequestToken' in parsed
        ? parsed.ClientRequestToken
        : undefined;
    return typeof token === 'string' ? token : undefined;
  } catch {
    return undefined;
  }
}

/** The partition a Query reads: `<partition key> = :v` in its key condition, on the table or the queried index. */
function queryPartition(input: QueryCommandInput): Partition | undefined {
  const { TableName: tableName, IndexName: indexName } = input;
  if (tableName === undefined) return undefined;
  const index = indexes.find((candidate) => candidate.indexName === indexName);
  if (indexName !== undefined && !index) return undefined;
  const keyAttribute = index ? index.partitionKey : table.partitionKey;
  for (const [, token = '', placeholder = ''] of (input.KeyConditionExpression ?? '').matchAll(
    /(#?\w+)\s*=\s*(:\w+)/g,
  )) {
    const name = token.startsWith('#') ? input.ExpressionAttributeNames?.[token] : token;
    const value = text(input.ExpressionAttributeValues?.[placeholder]);
    if (name !== keyAttribute || value === undefined) continue;
    return index ? indexPartition(tableName, index.indexName, value) : basePartition(tableName, value);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Installation

const MIDDLEWARE_NAME = 'contentionMode';
const installed = new WeakMap<DynamoDBClient, ContentionMode>();

/**
 * Adds the model below the SDK's retry middleware, so a ThrottlingException is retried by the SDK as in the cloud,
 * and every attempt is admitted (or refused) on its own. Installing again replaces the previous mode.
 */
export function installContentionMode(client: DynamoDBClient, params: ContentionParams): ContentionMode {
  installed.get(client)?.uninstall();
  // A registration this module no longer tracks (say, from a reloaded copy) would make `add` throw on the name.
  client.middlewareStack.remove(MIDDLEWARE_NAME);
  const model = new ContentionModel(validated(params));
  client.middlewareStack.add(
    (next, context) => (args) =>
      model.handle(context.commandName ?? '', args.input, args.request, () => next(args)),
    { step: 'finalizeRequest', priority: 'low', name: MIDDLEWARE_NAME },
  );
  const mode: ContentionMode = {
    params: model.params,
    stats: () => model.usage.snapshot(),
    resetStats: () => model.usage.reset(),
    uninstall: () => {
      // An older mode's uninstall must not remove the one that replaced it.
      if (installed.get(client) !== mode) return;
      client.middlewareStack.remove(MIDDLEWARE_NAME);
      installed.delete(client);
    },
  };
  installed.set(client, mode);
  return mode;
}
