// The raw floors as a function of their own, so the local runtime runs them in execution environments beside the
// handlers: one raw take, hold or product read per invocation (scripts/bench/raw.ts).
import { type RawOutcome, rawGetProduct, rawHoldTxn, rawTakeOnce } from './raw.ts';

export type RawEvent =
  | { op: 'take'; productId: string }
  | { op: 'hold'; productId: string; customer?: string }
  | { op: 'get'; productId: string };

export const handler = async (event: RawEvent): Promise<RawOutcome | RawOutcome[]> => {
  switch (event.op) {
    case 'take':
      return rawTakeOnce(event.productId);
    case 'hold':
      return rawHoldTxn(event.productId, event.customer);
    case 'get':
      return rawGetProduct(event.productId);
  }
};
