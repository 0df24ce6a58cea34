// An in-memory model of one product's checkout: what each request should answer and leave behind, for property tests.
// Buyers are anonymous or identified customers (the `sub` of their token); a product may limit the units per customer.

export const HOLD_TTL_MS = 120_000;
export const PAYMENT_WINDOW_MS = 900_000;
/** Mirrors RECLAIM_BATCH in shared/domain/holds.ts: expired holds released per reclaim pass. */
const RECLAIM_BATCH = 25;

export type HoldStatus = 'active' | 'ordered' | 'released';
export type OrderStatus = 'pending' | 'paid' | 'cancelled' | 'expired' | 'refund_required';
export type Outcome = 'success' | 'failure';

export interface ModelHold {
  qty: number;
  expiresAt: string;
  status: HoldStatus;
  /** The identified buyer who made it; absent for an anonymous hold. */
  customer?: string;
}

export interface ModelOrder {
  qty: number;
  status: OrderStatus;
  /** Set once, when the order was created pending; kept on the item after it moves on. */
  paymentDueAt?: string;
  /** The webhook key that moved the order out of pending/expired (or the parked key it was created from). */
  paymentKey?: string;
  /** The hold's buyer; absent for an anonymous order. */
  customer?: string;
}

export interface ModelParked {
  key: string;
  outcome: Outcome;
}

/** Everything of one product a consistent table scan shows, keyed by id; compared with `toEqual`. */
export interface World {
  stock: number;
  available: number;
  /** The product's `max_per_customer`; absent when it has none. */
  limit?: number;
  holds: Record<string, ModelHold>;
  orders: Record<string, ModelOrder>;
  parked: Record<string, ModelParked>;
  /** Every customer counter of the product (`CUSTOMER#<sub>` / `UNITS#<product>`): its `units`, by customer. */
  counters: Record<string, number>;
}

/** The answer the model expects: status, error code and the fields of `data` it can predict. */
export interface Expected {
  status: number;
  code?: string;
  details?: unknown;
  data?: Record<string, unknown>;
}

export interface ExpectedSweep {
  holds_released: number;
  holds_paid_from_parked: number;
  holds_already_settled: number;
  orders_expired: number;
  failures: number;
}

interface StoredAnswer {
  status: number;
  data: Record<string, unknown>;
}

const terminalFor = (outcome: Outcome): OrderStatus => (outcome === 'success' ? 'paid' : 'cancelled');
const iso = (ms: number) => new Date(ms).toISOString();
/** Without `undefined` values, so a model object equals what the table shows (absent attributes stay absent). */
const defined = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

/** Who may see or use an item made by `owner`: its owner only; an anonymous item is open to anyone. */
export const visibleTo = (owner: string | undefined, caller: string | undefined): boolean =>
  owner === undefined || owner === caller;

/** The Idempotency-Key record a hold request uses: keys are the buyer's own (functions/create-hold.ts scopes them). */
export const scopedHoldKey = (customer: string | undefined, key: string): string =>
  customer === undefined ? key : JSON.stringify([customer, key]);

/** The audit's words for a counter above the product's limit (shared/audit/ledger.ts). */
export const overLimitViolation = (customer: string, productId: string, units: number, limit: number) =>
  `customer ${customer} product ${productId}: counter ${units} over the limit ${limit}`;

export class CheckoutModel {
  now: number;
  stock = 0;
  available = 0;
  /** `max_per_customer`, undefined when the product has no limit. */
  limit: number | undefined;
  /** Customers whose counter item exists (their first hold wrote it; it stays, at 0 when they hold nothing). */
  counted = new Set<string>();
  holds = new Map<string, ModelHold>();
  orders = new Map<string, ModelOrder>();
  parked = new Map<string, ModelParked>();
  /** Idempotency-Key records of completed holds (by `scopedHoldKey`): the body's qty and the answer they replay. */
  holdKeys = new Map<string, { qty: number; answer: Record<string, unknown> }>();
  /** Webhook idempotency records of applied deliveries: their body and the answer they replay. */
  webhookKeys = new Map<string, { orderId: string; outcome: Outcome; answer: StoredAnswer }>();

  constructor(
    readonly productId: string,
    now: Date,
  ) {
    this.now = now.getTime();
  }

  get nowIso(): string {
    return iso(this.now);
  }

  world(): World {
    return defined({
      stock: this.stock,
      available: this.available,
      limit: this.limit,
      holds: Object.fromEntries([...this.holds].map(([id, hold]) => [id, defined({ ...hold })])),
      orders: Object.fromEntries([...this.orders].map(([id, order]) => [id, defined({ ...order })])),
      parked: Object.fromEntries([...this.parked].map(([id, parked]) => [id, { ...parked }])),
      counters: Object.fromEntries([...this.counted].map((customer) => [customer, this.unitsOf(customer)])),
    });
  }

  /**
   * What a customer's counter must say: their units in active holds, pending and paid orders. An active hold past
   * its expiry still counts until the sweep or a reclaim releases it (the counter moves with the release).
   */
  unitsOf(customer: string): number {
    let units = 0;
    for (const hold of this.holds.values())
      if (hold.customer === customer && hold.status === 'active') units += hold.qty;
    for (const order of this.orders.values())
      if (order.customer === customer && (order.status === 'pending' || order.status === 'paid'))
        units += order.qty;
    return units;
  }

  /** Adopts what the table shows (after a concurrent step the model cannot order exactly). */
  adopt(world: World): void {
    this.stock = world.stock;
    this.available = world.available;
    this.limit = world.limit;
    this.counted = new Set(Object.keys(world.counters));
    // Keep ids already known first, so picks by index stay stable for the ids both sides know.
    const holds = new Map<string, ModelHold>();
    for (const id of this.holds.keys()) {
      const hold = world.holds[id];
      if (hold) holds.set(id, { ...hold });
    }
    for (const [id, hold] of Object.entries(world.holds)) if (!holds.has(id)) holds.set(id, { ...hold });
    this.holds = holds;
    this.orders = new Map(Object.entries(world.orders).map(([id, order]) => [id, { ...order }]));
    this.parked = new Map(Object.entries(world.parked).map(([id, parked]) => [id, { ...parked }]));
  }

  advance(seconds: number): void {
    this.now += seconds * 1000;
  }

  /**
   * PUT /api/admin/products/{id} for an existing product: `available` moves by the change in stock; `limit` sets
   * (a number), removes (null) or keeps (undefined) `max_per_customer`. A refused restock changes neither.
   */
  restock(stock: number, limit?: number | null): Expected {
    const delta = stock - this.stock;
    if (this.available + delta < 0) {
      return {
        status: 409,
        code: 'STOCK_BELOW_COMMITTED',
        details: { committed: this.stock - this.available },
      };
    }
    this.stock = stock;
    this.available += delta;
    if (limit !== undefined) this.limit = limit ?? undefined;
    return {
      status: 200,
      data: { id: this.productId, stock, available: this.available, max_per_customer: this.limit },
    };
  }

  /**
   * POST /api/holds by `customer` (undefined: anonymous); `createdId` is the id the real system gave a new hold
   * (the model cannot guess a UUID). A limited product refuses anonymous buyers, then more than the limit in one
   * hold; stock comes next (reclaiming expired holds first), and last the customer's counter within the limit (which
   * also reclaims, once per request, so the buyer's own expired holds never count against them).
   */
  hold(qty: number, key: string | undefined, createdId: string | undefined, customer?: string): Expected {
    const scoped = key === undefined ? undefined : scopedHoldKey(customer, key);
    if (scoped !== undefined) {
      const record = this.holdKeys.get(scoped);
      if (record && record.qty !== qty) return { status: 422, code: 'IDEMPOTENCY_KEY_REUSED' };
      if (record) return { status: 201, data: record.answer };
    }
    const { limit } = this;
    if (limit !== undefined) {
      if (customer === undefined) return { status: 401, code: 'AUTHENTICATION_REQUIRED' };
      if (qty > limit) return this.limitReached(limit, customer);
    }
    // Short of stock, the hold reclaims expired-but-unswept holds once, then tries once more.
    const short = this.available < qty;
    if (short && (this.reclaim() === 0 || this.available < qty)) {
      return { status: 409, code: 'INSUFFICIENT_STOCK', details: { available: this.available } };
    }
    // Over the limit, the buyer's own expired-but-unswept holds must not count: a request that has not reclaimed yet
    // reclaims the product's expired holds, then checks again.
    if (limit !== undefined && customer !== undefined && this.unitsOf(customer) + qty > limit) {
      if (!short) this.reclaim();
      if (this.unitsOf(customer) + qty > limit) return this.limitReached(limit, customer);
    }
    const id = createdId ?? 'no-hold-id-in-answer';
    const expiresAt = iso(this.now + HOLD_TTL_MS);
    this.available -= qty;
    this.holds.set(id, defined({ qty, expiresAt, status: 'active' as const, customer }));
    if (customer !== undefined) this.counted.add(customer);
    const answer = { hold_id: id, product_id: this.productId, qty, status: 'active', expires_at: expiresAt };
    if (scoped !== undefined) this.holdKeys.set(scoped, { qty, answer });
    return { status: 201, data: answer };
  }

  private limitReached(limit: number, customer: string): Expected {
    return {
      status: 409,
      code: 'CUSTOMER_LIMIT_REACHED',
      details: { limit, used: this.unitsOf(customer) },
    };
  }

  /** Releases up to RECLAIM_BATCH of the product's expired holds, oldest first; returns the units freed. */
  private reclaim(): number {
    const expired = [...this.holds]
      .filter(([, hold]) => hold.status === 'active' && hold.expiresAt < this.nowIso)
      .map(([id, hold]) => ({ id, hold, sortKey: `${hold.expiresAt}#${id}` }))
      .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0))
      .slice(0, RECLAIM_BATCH);
    let freed = 0;
    for (const { id, hold } of expired) {
      const outcome = this.releaseExpired(id, hold);
      if (outcome === 'released' || outcome === 'cancelled_from_parked') freed += hold.qty;
    }
    return freed;
  }

  private releaseExpired(
    id: string,
    hold: ModelHold,
  ): 'released' | 'paid_from_parked' | 'cancelled_from_parked' {
    const parked = this.parked.get(id);
    const { customer } = hold;
    if (parked?.outcome === 'success') {
      hold.status = 'ordered';
      this.parked.delete(id);
      this.orders.set(
        id,
        defined({ qty: hold.qty, status: 'paid' as const, paymentKey: parked.key, customer }),
      );
      return 'paid_from_parked';
    }
    hold.status = 'released';
    this.available += hold.qty;
    if (!parked) return 'released';
    this.parked.delete(id);
    this.orders.set(
      id,
      defined({ qty: hold.qty, status: 'cancelled' as const, paymentKey: parked.key, customer }),
    );
    return 'cancelled_from_parked';
  }

  private orderData(id: string, order: ModelOrder): Record<string, unknown> {
    return {
      order_id: id,
      hold_id: id,
      product_id: this.productId,
      qty: order.qty,
      status: order.status,
      payment_due_at: order.status === 'pending' ? order.paymentDueAt : undefined,
    };
  }

  /** POST /api/orders by `caller` (undefined: anonymous): only the hold's buyer may order it, anyone else gets 404. */
  order(holdId: string, caller?: string): Expected {
    const existing = this.orders.get(holdId);
    if (existing) {
      return visibleTo(existing.customer, caller)
        ? { status: 200, data: this.orderData(holdId, existing) }
        : { status: 404, code: 'HOLD_NOT_FOUND' };
    }
    const hold = this.holds.get(holdId);
    if (!hold || !visibleTo(hold.customer, caller)) return { status: 404, code: 'HOLD_NOT_FOUND' };
    if (hold.status !== 'active') return { status: 410, code: 'HOLD_EXPIRED' };
    const parked = this.parked.get(holdId);
    const paidEarly = parked?.outcome === 'success';
    if (!paidEarly && hold.expiresAt <= this.nowIso) return { status: 410, code: 'HOLD_EXPIRED' };
    const status: OrderStatus = parked ? terminalFor(parked.outcome) : 'pending';
    const order: ModelOrder = defined(
      status === 'pending'
        ? { qty: hold.qty, status, paymentDueAt: iso(this.now + PAYMENT_WINDOW_MS), customer: hold.customer }
        : { qty: hold.qty, status, paymentKey: parked?.key, customer: hold.customer },
    );
    hold.status = 'ordered';
    this.parked.delete(holdId);
    this.orders.set(holdId, order);
    if (status === 'cancelled') this.available += hold.qty;
    return { status: 201, data: this.orderData(holdId, order) };
  }

  /** GET /api/orders/{id} by `caller`: another customer's order is 404, exactly like one that does not exist. */
  getOrder(id: string, caller?: string): Expected {
    const order = this.orders.get(id);
    return order && visibleTo(order.customer, caller)
      ? { status: 200, data: this.orderData(id, order) }
      : { status: 404, code: 'ORDER_NOT_FOUND' };
  }

  /**
   * POST /api/payments/webhook, behind the idempotency record of its key. `ownBucketsFree`: whether the buckets the
   * order drew from still have its units (a late payment takes exactly those back; the model keeps totals only, so
   * the caller reads them); undefined: the total decides.
   */
  webhook(key: string, orderId: string, outcome: Outcome, ownBucketsFree?: boolean): Expected {
    const record = this.webhookKeys.get(key);
    if (record && (record.orderId !== orderId || record.outcome !== outcome)) {
      return { status: 422, code: 'IDEMPOTENCY_KEY_REUSED' };
    }
    if (record) return { ...record.answer };
    const expected = this.applyPayment(key, orderId, outcome, ownBucketsFree);
    if (expected.data && (expected.status === 200 || expected.status === 202)) {
      this.webhookKeys.set(key, {
        orderId,
        outcome,
        answer: { status: expected.status, data: expected.data },
      });
    }
    return expected;
  }

  private applyPayment(key: string, orderId: string, outcome: Outcome, ownBucketsFree?: boolean): Expected {
    const applied = (status: OrderStatus): Expected => ({
      status: 200,
      data: { order_id: orderId, order_status: status },
    });
    const awaiting: Expected = { status: 202, data: { order_id: orderId, order_status: 'awaiting_order' } };
    const order = this.orders.get(orderId);
    if (order) {
      if (order.paymentKey === key) return applied(order.status);
      switch (order.status) {
        case 'pending': {
          order.status = terminalFor(outcome);
          order.paymentKey = key;
          if (outcome === 'failure') this.available += order.qty;
          return applied(order.status);
        }
        case 'expired': {
          if (outcome === 'failure') return applied('expired');
          order.paymentKey = key;
          // The units are taken again, and counted again within the product's limit as it is now.
          const { customer } = order;
          const room =
            customer === undefined ||
            this.limit === undefined ||
            this.unitsOf(customer) + order.qty <= this.limit;
          const free = ownBucketsFree ?? this.available >= order.qty;
          if (free && room) {
            this.available -= order.qty;
            order.status = 'paid';
          } else {
            order.status = 'refund_required';
          }
          return applied(order.status);
        }
        default: {
          if (
            order.status === terminalFor(outcome) ||
            (order.status === 'refund_required' && outcome === 'success')
          ) {
            return applied(order.status);
          }
          return { status: 409, code: 'ORDER_ALREADY_FINALIZED' };
        }
      }
    }
    const parked = this.parked.get(orderId);
    if (parked) {
      return parked.key === key || parked.outcome === outcome
        ? awaiting
        : { status: 409, code: 'ORDER_ALREADY_FINALIZED' };
    }
    const hold = this.holds.get(orderId);
    if (hold?.status === 'released') {
      const status: OrderStatus = outcome === 'success' ? 'refund_required' : 'cancelled';
      this.orders.set(orderId, defined({ qty: hold.qty, status, paymentKey: key, customer: hold.customer }));
      return applied(status);
    }
    this.parked.set(orderId, { key, outcome });
    return awaiting;
  }

  /** The scheduled sweep at the model's clock: every deadline strictly before now is settled. */
  sweep(): ExpectedSweep {
    const report: ExpectedSweep = {
      holds_released: 0,
      holds_paid_from_parked: 0,
      holds_already_settled: 0,
      orders_expired: 0,
      failures: 0,
    };
    for (const [id, hold] of this.holds) {
      if (hold.status !== 'active' || !(hold.expiresAt < this.nowIso)) continue;
      const outcome = this.releaseExpired(id, hold);
      if (outcome === 'paid_from_parked') report.holds_paid_from_parked++;
      else report.holds_released++;
    }
    for (const order of this.orders.values()) {
      if (order.status !== 'pending' || !order.paymentDueAt || !(order.paymentDueAt < this.nowIso)) continue;
      order.status = 'expired';
      this.available += order.qty;
      report.orders_expired++;
    }
    return report;
  }
}

const HOLD_MOVES: Record<HoldStatus, readonly HoldStatus[]> = {
  active: ['active', 'ordered', 'released'],
  ordered: ['ordered'],
  released: ['released'],
};
const ORDER_MOVES: Record<OrderStatus, readonly OrderStatus[]> = {
  pending: ['pending', 'paid', 'cancelled', 'expired'],
  expired: ['expired', 'paid', 'refund_required'],
  paid: ['paid'],
  cancelled: ['cancelled'],
  refund_required: ['refund_required'],
};

/** Every status move from `before` to `after` that the state machines forbid; empty when all moves are allowed. */
export function forbiddenMoves(before: World, after: World): string[] {
  const problems: string[] = [];
  for (const [id, hold] of Object.entries(before.holds)) {
    const next = after.holds[id];
    if (!next) problems.push(`hold ${id} disappeared`);
    else if (!HOLD_MOVES[hold.status].includes(next.status))
      problems.push(`hold ${id}: ${hold.status} -> ${next.status}`);
    else if (next.customer !== hold.customer)
      problems.push(`hold ${id}: buyer ${String(hold.customer)} -> ${String(next.customer)}`);
  }
  for (const [id, order] of Object.entries(before.orders)) {
    const next = after.orders[id];
    if (!next) problems.push(`order ${id} disappeared`);
    else if (!ORDER_MOVES[order.status].includes(next.status))
      problems.push(`order ${id}: ${order.status} -> ${next.status}`);
    else if (order.paymentKey !== undefined && next.paymentKey !== order.paymentKey)
      problems.push(`order ${id}: payment key ${order.paymentKey} replaced by ${String(next.paymentKey)}`);
  }
  for (const id of Object.keys(before.parked)) {
    if (!after.parked[id] && !after.orders[id])
      problems.push(`parked payment ${id} vanished without an order`);
  }
  for (const [id, order] of Object.entries(after.orders)) {
    if (!before.orders[id] && before.holds[id]?.status === 'ordered')
      problems.push(`order ${id} appeared for a hold already ordered`);
    if (!after.holds[id] && !before.parked[id] && !after.parked[id])
      problems.push(`order ${id} (${order.status}) has no hold`);
    const hold = after.holds[id];
    if (hold && order.customer !== hold.customer)
      problems.push(`order ${id} belongs to ${String(order.customer)}, its hold to ${String(hold.customer)}`);
  }
  problems.push(...counterMoves(before, after));
  return problems;
}

/**
 * A customer counter only grows within the limit in force: every increment (a hold, a late payment) is conditioned on
 * the product's `max_per_customer` at that moment (before or after a restock in the same step). So after a step it is
 * at most its value before or the larger of the limits (none: no bound). Counters never disappear.
 */
function counterMoves(before: World, after: World): string[] {
  const problems: string[] = [];
  const bound = (was: number) =>
    before.limit === undefined || after.limit === undefined
      ? Number.POSITIVE_INFINITY
      : Math.max(was, before.limit, after.limit);
  for (const [customer, units] of Object.entries(after.counters)) {
    const was = before.counters[customer] ?? 0;
    if (units > bound(was))
      problems.push(
        `counter of ${customer}: ${was} -> ${units} past the limit (${String(before.limit)} -> ${String(after.limit)})`,
      );
  }
  for (const customer of Object.keys(before.counters)) {
    if (!(customer in after.counters)) problems.push(`counter of ${customer} disappeared`);
  }
  return problems;
}

/**
 * The audit findings a world must show: a counter above the product's limit is reported (it happens when the limit is
 * lowered below what a buyer already has: paid orders keep counting), every other finding is a broken ledger.
 */
export function expectedViolations(world: World, productId: string): string[] {
  const { limit } = world;
  if (limit === undefined) return [];
  return Object.entries(world.counters)
    .filter(([, units]) => units > limit)
    .map(([customer, units]) => overLimitViolation(customer, productId, units, limit))
    .sort();
}
