// The local runtime keeps its table between runs: a table made by an older version is refused with what to do,
// never used with indexes that lack what the sweeper and reclaim read.
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { ensureTable, localClient } from '../../infra/local/dynamodb.ts';
import { createTableInput } from '../../shared/db/table.ts';

const endpoint = inject('dynamoEndpoint');

describe('ensureTable on a persisted local table', () => {
  it('keeps a table whose indexes match, and refuses one whose index lacks customer_id', async () => {
    const current = `local-${randomUUID()}`;
    const older = `local-${randomUUID()}`;
    const input = createTableInput(older);
    const client = localClient(endpoint);
    try {
      expect(await ensureTable(endpoint, current)).toBe(true);
      expect(await ensureTable(endpoint, current)).toBe(false);
      await client.send(
        new CreateTableCommand({
          ...input,
          GlobalSecondaryIndexes: input.GlobalSecondaryIndexes?.map((index) => ({
            ...index,
            Projection: {
              ProjectionType: 'INCLUDE',
              NonKeyAttributes: index.Projection?.NonKeyAttributes?.filter((name) => name !== 'customer_id'),
            },
          })),
        }),
      );

      await expect(ensureTable(endpoint, older)).rejects.toThrow(
        /index byDeadline does not project customer_id.*npm run start:fresh/,
      );
    } finally {
      for (const name of [current, older])
        await client.send(new DeleteTableCommand({ TableName: name })).catch(() => {});
      client.destroy();
    }
  });
});
