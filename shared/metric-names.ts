// The business and health metrics (CloudWatch EMF, namespace METRICS_NAMESPACE): their names exist only here, so the
// code that emits them and the dashboard and alarms that read them (infra/api-stack.ts) cannot drift.
// One dimension only (`service`): never a product id, which would be one custom metric per product. The product goes
// in the EMF metadata and the logs.

export const METRICS_NAMESPACE = 'FlashSaleCheckout';

export const Metric = {
  /** POST /api/holds answered 201 (count of holds; units in HoldUnitsGranted). */
  HoldsGranted: 'HoldsGranted',
  HoldUnitsGranted: 'HoldUnitsGranted',
  /** POST /api/holds refused with INSUFFICIENT_STOCK (sold out or not enough left). */
  HoldsRefusedSoldOut: 'HoldsRefusedSoldOut',
  /** POST /api/holds refused with CUSTOMER_LIMIT_REACHED. */
  HoldsRefusedCustomerLimit: 'HoldsRefusedCustomerLimit',
  /** Expired holds released by a buyer's reclaim (not by the sweep). */
  HoldsReclaimed: 'HoldsReclaimed',
  /** Expired holds released by the sweep. */
  HoldsExpired: 'HoldsExpired',
  OrdersCreated: 'OrdersCreated',
  /** Orders whose payment window ended unpaid (released by the sweep). */
  OrdersExpired: 'OrdersExpired',
  /** Payment webhooks applied to an order (paid or failed). */
  PaymentsApplied: 'PaymentsApplied',
  /** Payment webhooks stored until their order exists (202). */
  PaymentsParked: 'PaymentsParked',
  /** A success payment that arrived after its order expired: money taken for units given back. Alarmed at > 0. */
  PaymentsRefundRequired: 'PaymentsRefundRequired',
  /** A provider's success whose amount or currency is not the order's total: recorded, never applied. Alarmed. */
  PaymentAmountMismatches: 'PaymentAmountMismatches',
  /** A declined card attempt (Stripe `payment_intent.payment_failed`): recorded, the order stays pending. */
  PaymentsDeclined: 'PaymentsDeclined',
  /** Stripe requests or Adyen notification items whose signature matched no configured secret. Alarmed. */
  ProviderSignaturesRejected: 'ProviderSignaturesRejected',
  /** A transaction retried after a TransactionConflict (contention on a hot item). */
  ContentionRetries: 'ContentionRetries',
  /** Answers SERVICE_UNAVAILABLE (busy DynamoDB, or the time budget ran out): load shedding, not a fault. */
  ServiceUnavailable: 'ServiceUnavailable',
  SweepDurationMs: 'SweepDurationMs',
  /** Items the sweep left for the next run (it stopped at its time budget). */
  SweepBacklog: 'SweepBacklog',
  /** Seconds since the deadline of the oldest expired hold or order the sweep found still unswept. Alarmed. */
  SweepOldestOverdueSeconds: 'SweepOldestOverdueSeconds',
} as const;

export type MetricName = (typeof Metric)[keyof typeof Metric];
