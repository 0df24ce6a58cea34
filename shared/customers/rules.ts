// Pure rules about buyers: who may see an order or use a hold. No I/O.

/**
 * Whether `caller` may see or use something created by `owner`: only its owner. Anonymous items (made while identity
 * was off) stay open to anyone. An owned item is never shown to an anonymous caller, whether identity was turned
 * off later or a valid token came without a `sub`.
 */
export const visibleTo = (owner: string | undefined, caller: string | undefined): boolean =>
  owner === undefined || owner === caller;
