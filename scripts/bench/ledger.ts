// After each measurement: the ledger audit of the product, and the units granted beyond what exists.
import { checkLedger } from '../../shared/audit/ledger.ts';

export interface LedgerCheck {
  violations: string[];
  /** stock - available over the product's buckets. */
  committed: number;
  /** Units granted beyond what exists: 201s without units taken, plus buckets below zero. */
  oversold: number;
}

export async function checkProduct(productId: string, granted: number): Promise<LedgerCheck> {
  const report = await checkLedger(productId);
  const product = report.products.find((row) => row.product_id === productId);
  if (!product)
    return {
      violations: [...report.violations, `no stock buckets for ${productId}`],
      committed: 0,
      oversold: 0,
    };
  const committed = product.stock - product.available;
  const negative = report.buckets.reduce((sum, row) => sum + Math.max(0, -row.available), 0);
  return { violations: report.violations, committed, oversold: Math.max(0, granted - committed) + negative };
}
