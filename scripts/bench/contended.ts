// Section 1: one hot product under the contention endpoint (1 bucket, and the default count for a large stock),
// against a raw 1-item transaction loop on one item, through the same caller, in the same run.
import { performance } from 'node:perf_hooks';
import type { ContentionEndpoint, ContentionParams, PartitionUsage } from '../../infra/local/contention.ts';
import { type Caller, createProduct } from './app.ts';
import { BIG_STOCK } from './cli.ts';
import { num, partitionName } from './format.ts';
import { checkProduct, type LedgerCheck } from './ledger.ts';
import { loopFor, perSecond } from './load.ts';
import { putRawBucket, takenFrom } from './raw.ts';

export interface Tally {
  created: number;
  insufficient: number;
  busy: number;
  other: number;
  otherStatuses: Map<number, number>;
}

function tally(counts: Tally, status: number): void {
  if (status === 201) counts.created++;
  else if (status === 409) counts.insufficient++;
  else if (status === 503) counts.busy++;
  else {
    counts.other++;
    counts.otherStatuses.set(status, (counts.otherStatuses.get(status) ?? 0) + 1);
  }
}

export interface HoldWindow {
  buckets: number;
  counts: Tally;
  rate: number;
  busyShare: number;
  hottest: PartitionUsage | undefined;
  unitsPerHold: number;
  conflicts: number;
  conflictsPerHold: number;
  throttles: number;
  ledger: LedgerCheck;
}

/** Buyers loop POST /api/holds (qty 1) on one product for the window; counts answers and hot-partition units. */
async function holdWindow(
  caller: Caller,
  contention: ContentionEndpoint,
  productId: string,
  buckets: number,
  seconds: number,
  workers: number,
): Promise<HoldWindow> {
  const counts: Tally = { created: 0, insufficient: 0, busy: 0, other: 0, otherStatuses: new Map() };
  contention.reset();
  const ms = await loopFor(seconds, workers, async () => {
    try {
      tally(counts, (await caller.postHold(productId)).status);
    } catch {
      // A handler never throws (errors become envelopes); count it rather than stop the window.
      tally(counts, -1);
    }
  });
  // Counted before the ledger scan so only the window's own traffic is in the figure.
  const stats = contention.stats();
  const hottest = stats.partitions[0];
  const answers = counts.created + counts.insufficient + counts.busy + counts.other;
  const conflicts = stats.transactionConflicts + stats.writeConflicts;
  return {
    buckets,
    counts,
    rate: perSecond(counts.created, ms),
    busyShare: answers > 0 ? counts.busy / answers : 0,
    hottest,
    unitsPerHold: hottest && counts.created > 0 ? hottest.writeUnits / counts.created : Number.NaN,
    conflicts,
    conflictsPerHold: counts.created > 0 ? conflicts / counts.created : Number.NaN,
    throttles: stats.throttles,
    ledger: await checkProduct(productId, counts.created),
  };
}

export interface RawLoop {
  rate: number;
  successes: number;
  cancelled: number;
  other: Map<string, number>;
  /** Units the loop took from its bucket, read afterwards: equals `successes` unless an answer was lost. */
  taken: number;
}

/** The floor: 1-item transactions taking one unit from one bucket, as fast as conflicts let them. */
async function rawLoop(
  caller: Caller,
  contention: ContentionEndpoint,
  productId: string,
  seconds: number,
  workers: number,
): Promise<RawLoop> {
  await putRawBucket(productId);
  const result: RawLoop = { rate: 0, successes: 0, cancelled: 0, other: new Map(), taken: 0 };
  contention.reset();
  const ms = await loopFor(seconds, workers, async () => {
    const outcome = await caller.rawTake(productId).catch((error: unknown) => String(error));
    if (outcome === 'ok') result.successes++;
    else if (outcome === 'TransactionCanceledException') result.cancelled++;
    else result.other.set(outcome, (result.other.get(outcome) ?? 0) + 1);
  });
  result.rate = perSecond(result.successes, ms);
  result.taken = await takenFrom(productId);
  return result;
}

/** The two products of a contended run: one bucket, and the default count for a large stock. */
type Shape = 'one' | 'many';

export interface Contended {
  caller: string;
  workers: number;
  many: HoldWindow;
  one: HoldWindow;
  raw: RawLoop;
  ms: number;
}

/** The three contended measurements, raw loop in the middle, window order flipped every other run. */
export async function contendedSection(
  caller: Caller,
  contention: ContentionEndpoint,
  params: ContentionParams,
  tag: string,
  options: { seconds: number; workers: number; flip: boolean },
): Promise<Contended> {
  const started = performance.now();
  const ids: Record<Shape, string> = { one: `${tag}-one`, many: `${tag}-many` };
  const [one, many] = await Promise.all([
    createProduct(ids.one, BIG_STOCK, 1),
    createProduct(ids.many, BIG_STOCK),
  ]);
  const buckets: Record<Shape, number> = { one, many };
  const { seconds, workers, flip } = options;
  contention.setParams(params);
  const measure = async (shape: Shape) => {
    const window = await holdWindow(caller, contention, ids[shape], buckets[shape], seconds, workers);
    printWindow(window);
    return window;
  };
  try {
    const first = await measure(flip ? 'one' : 'many');
    const raw = await rawLoop(caller, contention, `${tag}-raw`, seconds, workers);
    printRaw(raw);
    const second = await measure(flip ? 'many' : 'one');
    const windows = flip ? { one: first, many: second } : { many: first, one: second };
    return { caller: caller.label, workers, ...windows, raw, ms: performance.now() - started };
  } finally {
    contention.setParams(undefined);
  }
}

function printWindow(window: HoldWindow): void {
  const { counts, ledger, hottest } = window;
  const others = [...counts.otherStatuses].map(([status, n]) => `${status}x${n}`).join(' ');
  const label = `${window.buckets} bucket${window.buckets === 1 ? '' : 's'}`;
  console.log(
    `    ${label.padEnd(11)} ${num(window.rate, 1).padStart(7)} holds/s  201=${counts.created} 409=${counts.insufficient} 503=${counts.busy} (${num(window.busyShare * 100, 1)}%) other=${counts.other}${others ? ` [${others}]` : ''}  conflicts=${window.conflicts} (${num(window.conflictsPerHold, 2)}/hold) throttles=${window.throttles}`,
  );
  console.log(
    `                hottest ${hottest ? partitionName(hottest.partition) : 'n/a'}: ${num(hottest?.writeUnits ?? 0)} WU = ${num(window.unitsPerHold, 3)} WU/hold`,
  );
  printLedger('                ledger', ledger, counts.created);
}

export function printLedger(prefix: string, ledger: LedgerCheck, granted: number): void {
  const match = ledger.committed === granted ? '=' : '!=';
  console.log(
    `${prefix}: ${ledger.violations.length} violations, oversold ${ledger.oversold}, granted ${granted} ${match} stock - available ${ledger.committed}`,
  );
  for (const violation of ledger.violations.slice(0, 5))
    console.log(`${' '.repeat(prefix.length)}  ! ${violation}`);
}

function printRaw(raw: RawLoop): void {
  const other = [...raw.other].map(([name, n]) => `${name}x${n}`).join(' ') || '0';
  const taken = raw.taken === raw.successes ? '' : ` (taken ${raw.taken} != successes!)`;
  console.log(
    `    ${'raw 1-item'.padEnd(11)} ${num(raw.rate, 1).padStart(7)} txn/s    ok=${raw.successes} cancelled=${raw.cancelled} other=${other}${taken}`,
  );
}
