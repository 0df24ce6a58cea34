// Customer allowances: one counter per customer and product, under the customer's own key (never a hot product key).
// The only place its key, attributes and conditions are spelled.
import { tableName } from '../db/client.ts';
import type { Key } from '../db/keys.ts';
import type { UpdateWrite } from '../db/single-write.ts';
import type { TransactItem } from '../db/transact.ts';

/**
 * Units of one product a customer has in active holds, pending orders and paid orders. Kept for every identified
 * buyer (whether or not the product has a limit), so a limit set in the middle of a sale counts what buyers already
 * have. Every transaction that takes or returns the units also moves this counter.
 */
export interface CustomerUnitsItem {
  entity: 'customer_units';
  customer_id: string;
  product_id: string;
  units: number;
}

/** True for a customer's counter among items of any type (a scan). */
export const isCustomerUnitsItem = (
  item: Record<string, unknown>,
): item is Record<string, unknown> & CustomerUnitsItem => item.entity === 'customer_units';

/** What moves a counter: an identified buyer's hold or order (anonymous ones carry no `customer_id`). */
export interface CustomerUnitsRef {
  customer_id?: string;
  product_id: string;
  qty: number;
}

/** The transaction item name of the counter: a failure on it is the customer's limit. */
export const COUNTER = 'customer';

export const customerUnitsKey = (customerId: string, productId: string): Key => ({
  pk: `CUSTOMER#${customerId}`,
  sk: `UNITS#${productId}`,
});

/**
 * Transaction item: the customer takes `qty` more units; with a limit, only while the counter stays within it
 * (`units <= limit - qty`, the per-customer condition). Empty for an anonymous buyer.
 */
export function countUnits(ref: CustomerUnitsRef, limit?: number): Record<string, TransactItem> {
  if (!ref.customer_id) return {};
  const limited = limit !== undefined;
  return {
    [COUNTER]: {
      Update: {
        TableName: tableName,
        Key: customerUnitsKey(ref.customer_id, ref.product_id),
        UpdateExpression:
          'SET units = if_not_exists(units, :zero) + :qty, entity = :entity, customer_id = :customer, product_id = :product',
        ...(limited
          ? {
              ConditionExpression: 'attribute_not_exists(units) OR units <= :room',
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }
          : {}),
        ExpressionAttributeValues: {
          ':zero': 0,
          ':qty': ref.qty,
          ':entity': 'customer_units',
          ':customer': ref.customer_id,
          ':product': ref.product_id,
          ...(limited ? { ':room': limit - ref.qty } : {}),
        },
      },
    },
  };
}

/** Transaction item: `qty` units came back (expiry, failure, payment window, reclaim); empty for an anonymous buyer. */
export function uncountUnits(ref: CustomerUnitsRef): Record<string, TransactItem> {
  return ref.customer_id ? { [COUNTER]: uncount(ref.customer_id, ref.product_id, ref.qty) } : {};
}

const uncount = (customerId: string, productId: string, qty: number): TransactItem => ({
  Update: {
    TableName: tableName,
    Key: customerUnitsKey(customerId, productId),
    UpdateExpression: 'SET units = units - :qty',
    // Never below zero: a counter that would go negative is drift for the audit, not something to hide.
    ConditionExpression: 'units >= :qty',
    ExpressionAttributeValues: { ':qty': qty },
  },
});

/**
 * Transaction items for many refs at once (a batch release): one update per customer and product with the sum of
 * their units, since a transaction may touch each item only once. Named `customer:<customer>#<product>`.
 */
export function uncountUnitsOfMany(refs: readonly CustomerUnitsRef[]): Record<string, TransactItem> {
  const sums = new Map<string, { customer: string; product: string; qty: number }>();
  for (const { customer_id: customer, product_id: product, qty } of refs) {
    if (!customer) continue;
    const name = `${COUNTER}:${customer}#${product}`;
    const sum = sums.get(name) ?? { customer, product, qty: 0 };
    sums.set(name, { ...sum, qty: sum.qty + qty });
  }
  return Object.fromEntries(
    [...sums].map(([name, { customer, product, qty }]) => [name, uncount(customer, product, qty)]),
  );
}

/** The audit's repair: set the counter to what the items say, only if nothing moved since the check. */
export const repairCustomerUnits = (
  customerId: string,
  productId: string,
  seen: number,
  fixed: number,
): UpdateWrite => ({
  Update: {
    TableName: tableName,
    Key: customerUnitsKey(customerId, productId),
    UpdateExpression: 'SET units = :fixed, entity = :entity, customer_id = :customer, product_id = :product',
    ConditionExpression: seen === 0 ? 'attribute_not_exists(units) OR units = :seen' : 'units = :seen',
    ExpressionAttributeValues: {
      ':fixed': fixed,
      ':seen': seen,
      ':entity': 'customer_units',
      ':customer': customerId,
      ':product': productId,
    },
  },
});
