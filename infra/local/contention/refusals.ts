// The answers the contention mode gives instead of DynamoDB Local's: the service's own error shapes on the wire
// (AWS JSON 1.0: HTTP 400, `__type` and the members of the exception), so any SDK parses them into its classes.

/** What the model answers instead of forwarding a request: the exception's name and its members. */
export class Refusal extends Error {
  constructor(
    readonly type: string,
    readonly members: Readonly<Record<string, unknown>>,
  ) {
    super(type);
  }

  /** The body DynamoDB sends for it, always with status 400. */
  wireBody(): string {
    return JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${this.type}`, ...this.members });
  }
}

const HOT_KEY_MESSAGE =
  'Throughput exceeds the current capacity of your table or index. Check if you have a hot key.';

export type CancellationCode = 'None' | 'TransactionConflict' | 'ThrottlingError';

const CANCELLATION_MESSAGES = {
  TransactionConflict: 'Transaction is ongoing for the item',
  ThrottlingError: HOT_KEY_MESSAGE,
} as const;

/** The one exception whose message member is `Message`, as the service (and the SDK's model) spell it. */
export function transactionCancelled(codes: readonly CancellationCode[]): Refusal {
  return new Refusal('TransactionCanceledException', {
    Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
    CancellationReasons: codes.map((Code) =>
      Code === 'None' ? { Code } : { Code, Message: CANCELLATION_MESSAGES[Code] },
    ),
  });
}

/** One code per item: `code` where the flag is set, None elsewhere. */
export function codes(
  flags: readonly boolean[],
  code: Exclude<CancellationCode, 'None'>,
): CancellationCode[] {
  return flags.map((flag) => (flag ? code : 'None'));
}

export function transactionInProgress(): Refusal {
  return new Refusal('TransactionInProgressException', {
    message: 'Transaction with the same ClientRequestToken is in progress',
  });
}

export function writeConflict(): Refusal {
  return new Refusal('TransactionConflictException', { message: 'Transaction is ongoing for the item' });
}

export interface ThrottledPartition {
  /** Resource path for ThrottlingReason, as in the table or index ARN. */
  resource: string;
  isIndex: boolean;
}

/**
 * On-demand tables answer a hot partition with ThrottlingException and a KeyRangeThroughputExceeded reason (the SDK
 * retries it as throttling); the resource is the table's or the index's ARN.
 */
export function throttled(partition: ThrottledPartition, kind: 'write' | 'read'): Refusal {
  const what = `${partition.isIndex ? 'Index' : 'Table'}${kind === 'write' ? 'Write' : 'Read'}`;
  return new Refusal('ThrottlingException', {
    message: partition.isIndex
      ? 'Throughput exceeds the current capacity for one or more global secondary indexes.'
      : HOT_KEY_MESSAGE,
    throttlingReasons: [
      {
        reason: `${what}KeyRangeThroughputExceeded`,
        resource: `arn:aws:dynamodb:local:000000000000:${partition.resource}`,
      },
    ],
  });
}
