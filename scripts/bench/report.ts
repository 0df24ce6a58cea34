// The figures of one run, their medians over the runs, and the summary: contended figures of each caller side by
// side, then every figure with its runs and the acceptance bars.
import { CLOUD, type ContentionParams } from '../../infra/local/contention.ts';
import { type Calm, COMPARISONS, type Comparison } from './calm.ts';
import type { Contended, HoldWindow } from './contended.ts';
import { num } from './format.ts';
import type { Swept } from './sweep.ts';

/** One run's figures by key (`<caller>:<figure>` for the contended ones). */
export type Figures = Record<string, number>;

interface Figure {
  key: string;
  label: string;
  digits: number;
  /** The acceptance bar, checked on the median. */
  bar?: { text: string; met: (median: number) => boolean };
}

type Shape = 'many' | 'one';
const SHAPES: readonly Shape[] = ['many', 'one'];
const shapeLabel = (shape: Shape) => (shape === 'many' ? 'default buckets' : '1 bucket');

const windowFigures = (prefix: string, window: HoldWindow, raw: number): Figures => ({
  [`${prefix}:holds`]: window.rate,
  [`${prefix}:conflicts`]: window.conflictsPerHold,
  [`${prefix}:busy`]: window.busyShare * 100,
  [`${prefix}:oversold`]: window.ledger.oversold,
  [`${prefix}:units`]: window.unitsPerHold,
  [`${prefix}:ceiling`]: CLOUD.writeUnitsPerSecond / window.unitsPerHold,
  [`${prefix}:ratio`]: window.rate / raw,
});

export function figuresOf(contended: readonly Contended[], calm: Calm, swept: Swept): Figures {
  const figures: Figures = {};
  const checks = [...contended.flatMap((c) => [c.many.ledger, c.one.ledger]), swept.ledger];
  for (const c of contended) {
    for (const shape of SHAPES)
      Object.assign(figures, windowFigures(`${c.caller}:${shape}`, c[shape], c.raw.rate));
    figures[`${c.caller}:raw`] = c.raw.rate;
  }
  for (const [comparison, { handler, raw }] of Object.entries(calm.rates)) {
    figures[`${comparison}:handler`] = handler;
    figures[`${comparison}:raw`] = raw;
    figures[`${comparison}:ratio`] = handler / raw;
  }
  return {
    ...figures,
    oversold: checks.reduce((sum, check) => sum + check.oversold, 0),
    violations: checks.reduce((sum, check) => sum + check.violations.length, 0),
    released: swept.released,
    sweepRate: swept.ratePerSecond,
  };
}

/** Issue 16's bars apply to the Lambda model; the one-process figures stand beside them without bars. */
const BARS: Partial<Record<`${Shape}:${'ratio' | 'busy'}`, Figure['bar']>> = {
  'many:ratio': { text: '>= 10x', met: (v) => v >= 10 },
  'one:ratio': { text: '>= 6x', met: (v) => v >= 6 },
  'many:busy': { text: '< 1 %', met: (v) => v < 1 },
  'one:busy': { text: '< 1 %', met: (v) => v < 1 },
};

const atLeast = (floor: number) => ({ text: `>= ${floor}x`, met: (v: number) => v >= floor });
/** Issue 16: a hold at least 0.85x its raw transaction, a product page at least 0.9x a consistent GetItem. */
const CALM_BARS: Record<Comparison, Figure['bar']> = {
  holds: atLeast(0.85),
  limited: atLeast(0.85),
  get: atLeast(0.9),
};

function figureList(callers: readonly { label: string; barred: boolean }[], calmCaller: string): Figure[] {
  const contended = callers.flatMap(({ label, barred }): Figure[] => [
    ...SHAPES.flatMap((shape): Figure[] => {
      const key = (figure: string) => `${label}:${shape}:${figure}`;
      const bar = (figure: 'ratio' | 'busy') => (barred ? BARS[`${shape}:${figure}`] : undefined);
      return [
        { key: key('holds'), label: `[${label}] holds/s, ${shapeLabel(shape)}`, digits: 1 },
        { key: key('conflicts'), label: '  conflicts per granted hold', digits: 2 },
        { key: key('busy'), label: '  503 share %', digits: 1, bar: bar('busy') },
        { key: key('units'), label: '  hottest partition WU per granted hold', digits: 3 },
        {
          key: key('ceiling'),
          label: `  cloud write ceiling holds/s (${CLOUD.writeUnitsPerSecond} WU/s / that)`,
          digits: 0,
        },
        { key: key('ratio'), label: '  / raw 1-item loop', digits: 2, bar: bar('ratio') },
      ];
    }),
    { key: `${label}:raw`, label: `[${label}] raw 1-item txn/s`, digits: 1 },
  ]);
  const zero = { text: '= 0', met: (v: number) => v === 0 };
  const calm = (Object.entries(COMPARISONS) as [Comparison, (typeof COMPARISONS)[Comparison]][]).flatMap(
    ([comparison, labels]): Figure[] => [
      {
        key: `${comparison}:handler`,
        label: `[${calmCaller}] uncontended ${labels.handler} ops/s`,
        digits: 0,
      },
      { key: `${comparison}:raw`, label: `  ${labels.raw} ops/s`, digits: 0 },
      { key: `${comparison}:ratio`, label: '  handler / raw', digits: 2, bar: CALM_BARS[comparison] },
    ],
  );
  return [
    ...contended,
    { key: 'oversold', label: 'units oversold (all checks)', digits: 0, bar: zero },
    { key: 'violations', label: 'ledger violations (all checks)', digits: 0, bar: zero },
    ...calm,
    { key: 'released', label: 'sweep: holds released', digits: 0 },
    { key: 'sweepRate', label: 'sweep: released/s', digits: 0 },
  ];
}

export function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

const medianOf = (runs: readonly Figures[], key: string) => median(runs.map((run) => run[key] ?? Number.NaN));

/** Contended medians, one row per caller and product shape, the columns the issue asks for side by side. */
function printSideBySide(runs: readonly Figures[], callers: readonly string[]): void {
  const heads = [
    'holds/s',
    'conflicts/hold',
    '503 %',
    'oversold',
    'hottest WU/hold',
    'cloud ceiling/s',
    'x raw loop',
  ];
  const columns = ['holds', 'conflicts', 'busy', 'oversold', 'units', 'ceiling', 'ratio'];
  const digits = [1, 2, 1, 0, 3, 0, 2];
  const rowLabel = (caller: string, shape: Shape) => `${caller}, ${shapeLabel(shape)}`;
  const width =
    Math.max(...callers.flatMap((caller) => SHAPES.map((shape) => rowLabel(caller, shape).length))) + 2;
  console.log(
    `\ncontended, medians${' '.repeat(Math.max(0, width - 18))}${heads.map((h) => h.padStart(16)).join('')}`,
  );
  for (const caller of callers) {
    for (const shape of SHAPES) {
      const cells = columns.map((column, i) =>
        num(medianOf(runs, `${caller}:${shape}:${column}`), digits[i]).padStart(16),
      );
      console.log(`${rowLabel(caller, shape).padEnd(width)}${cells.join('')}`);
    }
    console.log(
      `${`${caller}, raw 1-item txn/s`.padEnd(width)}${num(medianOf(runs, `${caller}:raw`), 1).padStart(16)}`,
    );
  }
}

/**
 * Median and every run per figure; ratios are medians of each run's own (interleaved) ratio. `callers` in the
 * order measured; `barred` marks the model issue 16's bars apply to.
 */
export function printSummary(
  runs: readonly Figures[],
  callers: readonly { label: string; barred: boolean }[],
  calmCaller: string,
): void {
  printSideBySide(
    runs,
    callers.map((caller) => caller.label),
  );
  const figures = figureList(callers, calmCaller);
  const width = Math.max(...figures.map((figure) => figure.label.length)) + 2;
  const runHeads = runs.map((_, i) => `run ${i + 1}`.padStart(9)).join('');
  console.log(`\n${'figure'.padEnd(width)}${'median'.padStart(9)}${runHeads}   bar`);
  for (const figure of figures) {
    const values = runs.map((run) => run[figure.key] ?? Number.NaN);
    const middle = median(values);
    const cells = values.map((value) => num(value, figure.digits).padStart(9)).join('');
    const bar = figure.bar ? `   ${figure.bar.text} ${figure.bar.met(middle) ? 'ok' : 'MISSED'}` : '';
    console.log(`${figure.label.padEnd(width)}${num(middle, figure.digits).padStart(9)}${cells}${bar}`);
  }
}

export function printCeilings(params: ContentionParams): void {
  const conflict = (buckets: number, occupancy: number) => num((buckets * 1000) / occupancy);
  console.log(
    `\nconflict ceiling while a hold takes its units in a transaction on the bucket = buckets x 1000 / occupancy: cloud (${CLOUD.occupancyMs} ms) ${conflict(1, CLOUD.occupancyMs)}/s at 1 bucket, ${conflict(16, CLOUD.occupancyMs)}/s at 16; here (${params.occupancyMs} ms) ${conflict(1, params.occupancyMs)}/s and ${conflict(16, params.occupancyMs)}/s. A single-item take has none: it meets a conflict only while a release transaction holds its bucket.`,
  );
  console.log(
    `write ceiling of one product = write units/s per partition / (hottest partition's WU per granted hold): ${params.writeUnitsPerSecond} here, ${CLOUD.writeUnitsPerSecond} in the cloud (the "cloud ceiling" column)`,
  );
}
