// The pure order and payment rules over every state they can meet: what an order request and a webhook decide.
import { describe, expect, it } from 'vitest';
import type { HoldItem, HoldStatus } from '../../shared/holds/items.ts';
import type { OrderItem, OrderStatus, PaymentOutcome } from '../../shared/orders/items.ts';
import { decideOrder } from '../../shared/orders/rules.ts';
import { decideForOrder, parkedAccepts, statusAfterExpiry } from '../../shared/payments/rules.ts';

const NOW = new Date('2026-11-25T10:00:00.000Z');
const hold = (status: HoldStatus, expiresInMs: number): HoldItem => ({
  entity: 'hold',
  hold_id: 'h1',
  product_id: 'p1',
  qty: 2,
  draws: [{ bucket: 0, qty: 2 }],
  unit_price_minor: 100,
  currency: 'USD',
  status,
  created_at: NOW.toISOString(),
  expires_at: new Date(NOW.getTime() + expiresInMs).toISOString(),
});
const order = (status: OrderStatus, paymentKey?: string): OrderItem => ({
  entity: 'order',
  order_id: 'h1',
  hold_id: 'h1',
  product_id: 'p1',
  qty: 2,
  draws: [{ bucket: 0, qty: 2 }],
  unit_price_minor: 100,
  total_minor: 200,
  currency: 'USD',
  status,
  created_at: NOW.toISOString(),
  updated_at: NOW.toISOString(),
  ...(paymentKey ? { payment_key: paymentKey } : {}),
});
const parked = (outcome: PaymentOutcome) => ({
  entity: 'parked_payment' as const,
  order_id: 'h1',
  parked_key: 'evt_parked',
  parked_status: outcome,
  parked_at: NOW.toISOString(),
});

describe('decideOrder', () => {
  it.each([
    [
      'active, unexpired, nothing parked',
      hold('active', 1),
      undefined,
      { kind: 'create', status: 'pending', requireUnexpired: true },
    ],
    ['active at its exact expiry', hold('active', 0), undefined, { kind: 'expired' }],
    ['active, past expiry', hold('active', -1), undefined, { kind: 'expired' }],
    ['released', hold('released', 1), undefined, { kind: 'expired' }],
    ['ordered (racing its own creation)', hold('ordered', 1), undefined, { kind: 'reread' }],
    [
      'active, a success parked',
      hold('active', 1),
      parked('success'),
      { kind: 'create', status: 'paid', requireUnexpired: false },
    ],
    [
      'past expiry, a success parked (payment beats expiry)',
      hold('active', -1),
      parked('success'),
      { kind: 'create', status: 'paid', requireUnexpired: false },
    ],
    [
      'active, a failure parked',
      hold('active', 1),
      parked('failure'),
      { kind: 'create', status: 'cancelled', requireUnexpired: true },
    ],
    ['past expiry, a failure parked', hold('active', -1), parked('failure'), { kind: 'expired' }],
  ] as const)('%s', (_, h, p, expected) => {
    expect(decideOrder(h, p, NOW)).toEqual(expected);
  });
});

describe('decideForOrder', () => {
  const statuses: OrderStatus[] = ['pending', 'paid', 'cancelled', 'expired', 'refund_required'];
  const outcomes: PaymentOutcome[] = ['success', 'failure'];
  const expected: Record<OrderStatus, Record<PaymentOutcome, string>> = {
    pending: { success: 'settle:paid', failure: 'settle:cancelled' },
    paid: { success: 'replay:same_outcome_other_key', failure: 'refuse' },
    cancelled: { success: 'refuse', failure: 'replay:same_outcome_other_key' },
    expired: { success: 'late_success', failure: 'replay:no_effect' },
    refund_required: { success: 'replay:same_outcome_other_key', failure: 'refuse' },
  };
  const describeDecision = (decision: ReturnType<typeof decideForOrder>) =>
    decision.kind === 'settle'
      ? `settle:${decision.to}`
      : decision.kind === 'replay'
        ? `replay:${decision.reason}`
        : decision.kind;

  for (const status of statuses) {
    for (const outcome of outcomes) {
      it(`a ${outcome} under a new key for a ${status} order: ${expected[status][outcome]}`, () => {
        expect(describeDecision(decideForOrder(order(status, 'evt_first'), 'evt_new', outcome))).toBe(
          expected[status][outcome],
        );
      });
      it(`the same key again for a ${status} order replays, whatever the outcome (${outcome})`, () => {
        expect(decideForOrder(order(status, 'evt_same'), 'evt_same', outcome)).toEqual({
          kind: 'replay',
          reason: 'same_key',
        });
      });
    }
  }
});

describe('parked payments and payments after expiry', () => {
  it('keeps a parked outcome: the same key or outcome waits with it, the other outcome is refused', () => {
    expect(parkedAccepts(parked('success'), 'evt_parked', 'failure')).toBe(true);
    expect(parkedAccepts(parked('success'), 'evt_other', 'success')).toBe(true);
    expect(parkedAccepts(parked('success'), 'evt_other', 'failure')).toBe(false);
    expect(parkedAccepts(parked('failure'), 'evt_other', 'success')).toBe(false);
  });

  it('records a success after the hold expired as refund_required and a failure as cancelled', () => {
    expect(statusAfterExpiry('success')).toBe('refund_required');
    expect(statusAfterExpiry('failure')).toBe('cancelled');
  });
});
