// Pure rules about buyers: who may see an order or use a hold, and what a limit leaves. No I/O.

/**
 * Whether `caller` may see or use something created by `owner`. Anonymous items (made before identity was on) and
 * anonymous callers (identity off: the API is as open as it always was) are not checked.
 */
export const visibleTo = (owner: string | undefined, caller: string | undefined): boolean =>
  owner === undefined || caller === undefined || owner === caller;

/** Units a customer may still take under `limit`, having `used` (never negative). */
export const allowanceLeft = (limit: number, used: number): number => Math.max(0, limit - used);
