// Money as integer minor units inside, two-decimal strings at the edge; never a float.

/** "12.50" -> 1250. The caller validated the format (see schemas.priceString). */
export function parsePrice(text: string): number {
  const [whole = '0', fraction = ''] = text.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}

/** 1250 -> "12.50". */
export function formatMinor(minor: number): string {
  const whole = Math.trunc(minor / 100);
  const cents = String(minor % 100).padStart(2, '0');
  return `${whole}.${cents}`;
}
