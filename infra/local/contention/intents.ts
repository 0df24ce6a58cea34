// What a DynamoDB request touches, read from its wire input: items, their partitions (base table and GSI, with the
// index keys from shared/db/table.ts), the index keys a write sets or removes, and the size of what a read returns.
import type {
  AttributeValue,
  BatchWriteItemCommandInput,
  QueryCommandInput,
  TransactWriteItemsCommandInput,
  UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { table } from '../../../shared/db/table.ts';

/** An item or key as it is on the wire: attribute name -> AttributeValue. */
export type Item = Record<string, unknown>;

export interface Partition {
  /** `<table>:<pk value>` for a base-table partition, `<table>/<index name>:<index pk value>` for a GSI one. */
  id: string;
  /** Resource path for ThrottlingReason, as in the table or index ARN. */
  resource: string;
  isIndex: boolean;
}

const indexes = Object.values(table.indexes);
const indexByAttribute = new Map<string, string>(
  indexes.map((index) => [index.partitionKey, index.indexName]),
);

const ATTRIBUTE_VALUE_MEMBERS = new Set(['S', 'N', 'B', 'SS', 'NS', 'BS', 'M', 'L', 'NULL', 'BOOL']);

function isAttributeValue(value: unknown): value is AttributeValue {
  if (typeof value !== 'object' || value === null) return false;
  const members = Object.keys(value);
  return members.length === 1 && ATTRIBUTE_VALUE_MEMBERS.has(members[0] ?? '');
}

/** A key or index-key value as text: `{ S: 'x' }` -> 'x', `{ N: '1' }` -> '1' (B is base64 on the wire already). */
function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (isAttributeValue(value)) return text(value.S ?? value.N ?? value.B) ?? JSON.stringify(value);
  return JSON.stringify(value);
}

export function basePartition(tableName: string, pk: string): Partition {
  return { id: `${tableName}:${pk}`, resource: `table/${tableName}`, isIndex: false };
}

export function indexPartition(tableName: string, indexName: string, value: string): Partition {
  return {
    id: `${tableName}/${indexName}:${value}`,
    resource: `table/${tableName}/index/${indexName}`,
    isIndex: true,
  };
}

export interface ItemRef {
  /** Item identity: table + pk + sk. */
  item: string;
  partition: Partition;
}

export function itemRef(tableName: string | undefined, key: Item | undefined): ItemRef | undefined {
  const pk = text(key?.[table.partitionKey]);
  if (tableName === undefined || pk === undefined) return undefined;
  const sk = text(key?.[table.sortKey]) ?? '';
  return { item: JSON.stringify([tableName, pk, sk]), partition: basePartition(tableName, pk) };
}

/** Size estimate: the JSON length of the item in its wire form. */
export function itemBytes(item: Item | undefined): number {
  return item ? JSON.stringify(item).length : 0;
}

/** Read units for `bytes` read at once: 1 per 4 KB (min 1) when consistent, half that otherwise. */
export function readUnits(bytes: number, consistent: boolean): number {
  return Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);
}

// ---------------------------------------------------------------------------------------------------------------
// Writes as intents: which item, and what happens to its index keys

export interface WriteIntent extends ItemRef {
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

export function putIntent(tableName: string | undefined, item: Item | undefined): WriteIntent | undefined {
  const after = new Map(indexes.map((index) => [index.indexName, text(item?.[index.partitionKey]) ?? null]));
  return intent(tableName, item, after, true);
}

export function deleteIntent(tableName: string | undefined, key: Item | undefined): WriteIntent | undefined {
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

type UpdateInput = Pick<
  UpdateItemCommandInput,
  'TableName' | 'Key' | 'UpdateExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
>;

/**
 * The index-key changes an UpdateExpression makes: `SET <gsi pk> = :v` and `REMOVE <gsi pk>`. A SET from anything
 * but a plain placeholder (if_not_exists, ...) is left out: its value is unknown until the item is read.
 */
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

export function updateIntent(input: UpdateInput): WriteIntent | undefined {
  return intent(input.TableName, input.Key, updateIndexChanges(input));
}

type TransactWriteItem = NonNullable<TransactWriteItemsCommandInput['TransactItems']>[number];

export function transactIntent(entry: TransactWriteItem): WriteIntent | undefined {
  if (entry.Put) return putIntent(entry.Put.TableName, entry.Put.Item);
  if (entry.Update) return updateIntent(entry.Update);
  if (entry.Delete) return deleteIntent(entry.Delete.TableName, entry.Delete.Key);
  if (entry.ConditionCheck)
    return intent(entry.ConditionCheck.TableName, entry.ConditionCheck.Key, new Map());
  return undefined;
}

export function batchWriteIntents(input: BatchWriteItemCommandInput): Array<WriteIntent | undefined> {
  return Object.entries(input.RequestItems ?? {}).flatMap(([tableName, requests]) =>
    requests.map((request) =>
      request.PutRequest
        ? putIntent(tableName, request.PutRequest.Item)
        : deleteIntent(tableName, request.DeleteRequest?.Key),
    ),
  );
}

/** Every intent, or undefined when one is malformed: then upstream answers with its own ValidationException. */
export function complete(intents: Array<WriteIntent | undefined>): WriteIntent[] | undefined {
  const known = intents.filter((entry): entry is WriteIntent => entry !== undefined);
  return known.length === intents.length && known.length > 0 ? known : undefined;
}

/** The partition a Query reads: `<partition key> = :v` in its key condition, on the table or the queried index. */
export function queryPartition(input: QueryCommandInput): Partition | undefined {
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
