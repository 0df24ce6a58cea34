// writeOne / writeOnce against DynamoDB Local: a write lands, and a failed condition is the same ConditionFailed
// transact() throws, named after the write, with the item as it was when the write asked for it.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { getItem, tableName } from '../../shared/db/client.ts';
import { deleteOnce } from '../../shared/db/single-delete.ts';
import { writeOnce, writeOne } from '../../shared/db/single-write.ts';
import { ConditionFailed, failedOn } from '../../shared/db/transact.ts';

const key = () => ({ pk: `TEST#${randomUUID()}`, sk: 'TEST' });

const putNew = (item: Record<string, unknown>, returnOld = false) => ({
  Put: {
    TableName: tableName,
    Item: item,
    ConditionExpression: 'attribute_not_exists(pk)',
    ...(returnOld ? { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } : {}),
  },
});

describe('writeOne', () => {
  it('writes a Put, an Update and a Delete whose conditions hold', async () => {
    const k = key();

    await writeOne('put', putNew({ ...k, n: 1 }));
    await writeOne('update', {
      Update: {
        TableName: tableName,
        Key: k,
        UpdateExpression: 'SET n = n + :one',
        ConditionExpression: 'n = :seen',
        ExpressionAttributeValues: { ':one': 1, ':seen': 1 },
      },
    });
    expect(await getItem(k)).toEqual({ ...k, n: 2 });
    await deleteOnce('delete', {
      Delete: {
        TableName: tableName,
        Key: k,
        ConditionExpression: 'n = :two',
        ExpressionAttributeValues: { ':two': 2 },
      },
    });

    expect(await getItem(k)).toBeUndefined();
  });

  it('turns a failed condition into ConditionFailed named after the write, with the old item when asked', async () => {
    const k = key();
    await writeOne('first', putNew({ ...k, n: 1 }));

    const error = await writeOne('second', putNew({ ...k, n: 2 }, true)).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ConditionFailed);
    expect(failedOn(error, 'second')).toBe(true);
    expect((error as ConditionFailed).old.second).toEqual({ ...k, n: 1 });
    expect(await getItem(k)).toEqual({ ...k, n: 1 });
  });

  it('leaves the old item out when the write did not ask for it', async () => {
    const k = key();
    await writeOnce('first', putNew({ ...k, n: 1 }));

    const error = await writeOnce('second', putNew({ ...k, n: 2 })).catch((caught: unknown) => caught);

    expect(failedOn(error, 'second')).toBe(true);
    expect((error as ConditionFailed).old.second).toBeUndefined();
  });
});
