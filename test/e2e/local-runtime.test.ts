import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadHandler } from '../../infra/local/gateway.ts';
import { DEMO_PRODUCT, seed } from '../../infra/local/seed.ts';
import { startSweeper } from '../../infra/local/sweeper.ts';
import { routes } from '../../infra/routes.ts';
import { getProduct, putProduct } from '../../shared/stock/service.ts';

afterEach(() => vi.useRealTimers());

/** A sweep whose completion the test controls. */
function controlledSweep() {
  const finishers: Array<(value?: unknown) => void> = [];
  const failers: Array<(error: Error) => void> = [];
  const run = vi.fn(
    () =>
      new Promise<unknown>((resolve, reject) => {
        finishers.push(resolve);
        failers.push(reject);
      }),
  );
  return {
    run,
    finishLast: () => finishers.at(-1)?.(),
    failLast: (error: Error) => failers.at(-1)?.(error),
  };
}

describe('the sweeper timer', () => {
  it('runs every interval and never starts a run while one is in progress', async () => {
    vi.useFakeTimers();
    const sweep = controlledSweep();
    const stop = startSweeper(60, sweep.run);

    await vi.advanceTimersByTimeAsync(59_999);
    expect(sweep.run).toHaveBeenCalledTimes(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(sweep.run).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(sweep.run).toHaveBeenCalledTimes(1);

    sweep.finishLast();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sweep.run).toHaveBeenCalledTimes(2);

    sweep.finishLast();
    await stop();
  });

  it('keeps its schedule after a failed run', async () => {
    vi.useFakeTimers();
    const sweep = controlledSweep();
    const stop = startSweeper(5, sweep.run);

    await vi.advanceTimersByTimeAsync(5_000);
    sweep.failLast(new Error('DynamoDB Local went away'));
    await vi.advanceTimersByTimeAsync(5_000);

    expect(sweep.run).toHaveBeenCalledTimes(2);
    sweep.finishLast();
    await stop();
  });

  it('stops after the run in progress and schedules no more', async () => {
    vi.useFakeTimers();
    const sweep = controlledSweep();
    const stop = startSweeper(1, sweep.run);
    await vi.advanceTimersByTimeAsync(1_000);

    let stopped = false;
    const stopping = stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    sweep.finishLast();
    await stopping;
    await vi.advanceTimersByTimeAsync(60_000);

    expect(stopped).toBe(true);
    expect(sweep.run).toHaveBeenCalledTimes(1);
  });

  it('never runs when the interval is 0', async () => {
    vi.useFakeTimers();
    const sweep = controlledSweep();
    const stop = startSweeper(0, sweep.run);

    await vi.advanceTimersByTimeAsync(24 * 60 * 60_000);

    expect(sweep.run).not.toHaveBeenCalled();
    await stop();
  });
});

describe('the demo seed', () => {
  it('creates product 1 once and leaves it alone afterwards', async () => {
    expect(await seed()).toBe(true);
    expect(await getProduct(DEMO_PRODUCT.id)).toMatchObject({
      name: 'Flash Sale Sneakers',
      price: '49.99',
      stock: 100,
    });
    await putProduct(DEMO_PRODUCT.id, { ...DEMO_PRODUCT.body, stock: 7 }, new Date());

    expect(await seed()).toBe(false);

    expect(await getProduct(DEMO_PRODUCT.id)).toMatchObject({ stock: 7, available: 7 });
  });
});

describe('handler loading', () => {
  it('imports every route entry once and finds its handler', async () => {
    for (const { entry } of routes) {
      const first = await loadHandler(entry);
      expect(typeof first).toBe('function');
      expect(await loadHandler(entry)).toBe(first);
    }
  });
});
