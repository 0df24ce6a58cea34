// An in-memory model of one product's checkout: what each request should answer and leave behind, for property tests.

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
}

export interface ModelOrder {
  qty: number;
  status: OrderStatus;
  /** Set once, when the order was created pending; kept on the item after it moves on. */
  paymentDueAt?: string;
  /** The webhook key that moved the order out of pending/expired (or the parked key it was created from). */
  paymentKey?: string;
}

export interface ModelParked {
  key: string;
  outcome: Outcome;
}

/** Everything of one product a consistent table scan shows, keyed by id; compared with `toEqual`. */
export interface World {
  stock: number;
  available: number;
  holds: Record<string, ModelHold>;
  orders: Record<string, ModelOrder>;
  parked: Record<string, ModelParked>;
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

export class CheckoutModel {
  now: number;
  stock = 0;
  available = 0;
  holds = new Map<string, ModelHold>();
  orders = new Map<string, ModelOrder>();
  parked = new Map<string, ModelParked>();
  /** Idempotency-Key records of completed holds: the body's qty and the answer they replay. */
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
    return {
      stock: this.stock,
      available: this.available,
      holds: Object.fromEntries([...this.holds].map(([id, hold]) => [id, { ...hold }])),
      orders: Object.fromEntries(
        [...this.orders].map(([id, order]) => [
          id,
          Object.fromEntries(
            Object.entries(order).filter(([, v]) => v !== undefined),
          ) as unknown as ModelOrder,
        ]),
      ),
      parked: Object.fromEntries([...this.parked].map(([id, parked]) => [id, { ...parked }])),
    };
  }

  /** Adopts what the table shows (after a concurrent step the model cannot order exactly). */
  adopt(world: World): void {
    this.stock = world.stock;
    this.available = world.available;
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

  /** PUT /api/admin/products/{id} for an existing product: `available` moves by the change in stock. */
  restock(stock: number): Expected {
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
    return { status: 200, data: { id: this.productId, stock, available: this.available } };
  }

  /** POST /api/holds; `createdId` is the id the real system gave a new hold (the model cannot guess a UUID). */
  hold(qty: number, key: string | undefined, createdId: string | undefined): Expected {
    if (key !== undefined) {
      const record = this.holdKeys.get(key);
      if (record && record.qty !== qty) return { status: 422, code: 'IDEMPOTENCY_KEY_REUSED' };
      if (record) return { status: 201, data: record.answer };
    }
    // Short of stock, the hold reclaims expired-but-unswept holds once, then tries once more.
    if (this.available < qty && (this.reclaim() === 0 || this.available < qty)) {
      return { status: 409, code: 'INSUFFICIENT_STOCK', details: { available: this.available } };
    }
    const id = createdId ?? 'no-hold-id-in-answer';
    const expiresAt = iso(this.now + HOLD_TTL_MS);
    this.available -= qty;
    this.holds.set(id, { qty, expiresAt, status: 'active' });
    const answer = { hold_id: id, product_id: this.productId, qty, status: 'active', expires_at: expiresAt };
    if (key !== undefined) this.holdKeys.set(key, { qty, answer });
    return { status: 201, data: answer };
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
    if (parked?.outcome === 'success') {
      hold.status = 'ordered';
      this.parked.delete(id);
      this.orders.set(id, { qty: hold.qty, status: 'paid', paymentKey: parked.key });
      return 'paid_from_parked';
    }
    hold.status = 'released';
    this.available += hold.qty;
    if (!parked) return 'released';
    this.parked.delete(id);
    this.orders.set(id, { qty: hold.qty, status: 'cancelled', paymentKey: parked.key });
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

  /** POST /api/orders. */
  order(holdId: string): Expected {
    const existing = this.orders.get(holdId);
    if (existing) return { status: 200, data: this.orderData(holdId, existing) };
    const hold = this.holds.get(holdId);
    if (!hold) return { status: 404, code: 'HOLD_NOT_FOUND' };
    if (hold.status !== 'active') return { status: 410, code: 'HOLD_EXPIRED' };
    const parked = this.parked.get(holdId);
    const paidEarly = parked?.outcome === 'success';
    if (!paidEarly && hold.expiresAt <= this.nowIso) return { status: 410, code: 'HOLD_EXPIRED' };
    const status: OrderStatus = parked ? terminalFor(parked.outcome) : 'pending';
    const order: ModelOrder =
      status === 'pending'
        ? { qty: hold.qty, status, paymentDueAt: iso(this.now + PAYMENT_WINDOW_MS) }
        : { qty: hold.qty, status, paymentKey: parked?.key };
    hold.status = 'ordered';
    this.parked.delete(holdId);
    this.orders.set(holdId, order);
    if (status === 'cancelled') this.available += hold.qty;
    return { status: 201, data: this.orderData(holdId, order) };
  }

  /** GET /api/orders/{id}. */
  getOrder(id: string): Expected {
    const order = this.orders.get(id);
    return order
      ? { status: 200, data: this.orderData(id, order) }
      : { status: 404, code: 'ORDER_NOT_FOUND' };
  }

  /** POST /api/payments/webhook, behind the idempotency record of its key. */
  webhook(key: string, orderId: string, outcome: Outcome): Expected {
    const record = this.webhookKeys.get(key);
    if (record && (record.orderId !== orderId || record.outcome !== outcome)) {
      return { status: 422, code: 'IDEMPOTENCY_KEY_REUSED' };
    }
    if (record) return { ...record.answer };
    const expected = this.applyPayment(key, orderId, outcome);
    if (expected.data && (expected.status === 200 || expected.status === 202)) {
      this.webhookKeys.set(key, {
        orderId,
        outcome,
        answer: { status: expected.status, data: expected.data },
      });
    }
    return expected;
  }

  private applyPayment(key: string, orderId: string, outcome: Outcome): Expected {
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
          if (this.available >= order.qty) {
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
      this.orders.set(orderId, { qty: hold.qty, status, paymentKey: key });
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
  }
  return problems;
}
