// Demo data for `npm start`: product 1, written through the domain only when it does not exist yet.

export const DEMO_PRODUCT = {
  id: '1',
  body: { name: 'Flash Sale Sneakers', price: '49.99', currency: 'USD', stock: 100 },
} as const;

/** Returns true if the product was created. Imports the domain lazily: config must be in the environment first. */
export async function seed(): Promise<boolean> {
  const { putProduct } = await import('#shared/stock/service.ts');
  const { readProduct } = await import('#shared/stock/view.ts');
  if (await readProduct(DEMO_PRODUCT.id)) return false;
  await putProduct(DEMO_PRODUCT.id, { ...DEMO_PRODUCT.body }, new Date());
  return true;
}
