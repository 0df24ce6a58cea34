// The contention mode's parameters: the cloud's figures, the same scaled to a slow machine, and CONTENTION_MODE.

export interface ContentionParams {
  /** How long an item stays "in a transaction" after the upstream answer (ms). Default 25. */
  occupancyMs: number;
  /** Write units per second per partition. Default 1000. */
  writeUnitsPerSecond: number;
  /** Read units per second per partition. Default 3000. */
  readUnitsPerSecond: number;
}

export const CLOUD: ContentionParams = Object.freeze({
  occupancyMs: 25,
  writeUnitsPerSecond: 1000,
  readUnitsPerSecond: 3000,
});

/** The cloud modelled on a slow 2-core machine: everything four times slower. */
export const CLOUD_SCALED: ContentionParams = Object.freeze({
  occupancyMs: 100,
  writeUnitsPerSecond: 250,
  readUnitsPerSecond: 750,
});

const SPEC_KEYS = {
  occupancy: 'occupancyMs',
  write: 'writeUnitsPerSecond',
  read: 'readUnitsPerSecond',
} as const;
const SPEC_HELP = "expected 1|on|cloud, scaled, 0|off or 'occupancy=100,write=250,read=750'";

/** The parameters, frozen; throws when occupancy is negative or a rate is not positive. */
export function validated(params: ContentionParams): ContentionParams {
  const { occupancyMs, writeUnitsPerSecond, readUnitsPerSecond } = params;
  const ok =
    Number.isFinite(occupancyMs) &&
    occupancyMs >= 0 &&
    [writeUnitsPerSecond, readUnitsPerSecond].every((rate) => Number.isFinite(rate) && rate > 0);
  if (!ok) throw new Error(`Contention params out of range: ${JSON.stringify(params)}`);
  return Object.freeze({ occupancyMs, writeUnitsPerSecond, readUnitsPerSecond });
}

/**
 * Parses the CONTENTION_MODE env value: '1'|'on'|'cloud' -> CLOUD; 'scaled' -> CLOUD_SCALED;
 * 'occupancy=100,write=250,read=750' (any subset, rest from CLOUD); '' | '0' | 'off' | undefined -> undefined.
 * Throws a one-line Error on anything else.
 */
export function parseContentionSpec(spec: string | undefined): ContentionParams | undefined {
  const text = (spec ?? '').trim().toLowerCase();
  if (text === '' || text === '0' || text === 'off') return undefined;
  if (text === '1' || text === 'on' || text === 'cloud') return CLOUD;
  if (text === 'scaled') return CLOUD_SCALED;
  const params = { ...CLOUD };
  const seen = new Set<string>();
  for (const pair of text.split(',')) {
    const [key = '', value = '', ...rest] = pair.split('=').map((part) => part.trim());
    const field = Object.hasOwn(SPEC_KEYS, key) ? SPEC_KEYS[key as keyof typeof SPEC_KEYS] : undefined;
    const number = value === '' ? Number.NaN : Number(value);
    if (!field || rest.length > 0 || seen.has(key) || !Number.isFinite(number)) {
      throw new Error(`Invalid CONTENTION_MODE ${JSON.stringify(spec)}: ${SPEC_HELP}`);
    }
    seen.add(key);
    params[field] = number;
  }
  try {
    return validated(params);
  } catch {
    throw new Error(`Invalid CONTENTION_MODE ${JSON.stringify(spec)}: occupancy >= 0, rates > 0`);
  }
}
