// Number formatting shared by every section's printout and the summary.
export const num = (value: number, digits = 0) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : 'n/a';

/** `bench-1234:STOCK#p#0` -> `STOCK#p#0`, `bench-1234/byDeadline:DEADLINE#3` -> `byDeadline:DEADLINE#3`. */
export const partitionName = (partition: string) => partition.replace(/^[^/:]+[/:]/, '');
