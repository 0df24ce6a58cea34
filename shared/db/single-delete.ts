// Deleting one item, apart from single-write.ts so only the functions that delete bundle DeleteCommand.
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { db } from './client.ts';
import { type DeleteWrite, namingFailedCondition } from './single-write.ts';

/** One attempt at `write`; a failed condition is ConditionFailed naming `name`, as for writeOnce. */
export const deleteOnce = (name: string, write: DeleteWrite): Promise<void> =>
  namingFailedCondition(name, () => db.send(new DeleteCommand(write.Delete)));
