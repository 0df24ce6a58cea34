// An execution environment's wall clock: the machine's, moved by as much as the invoking process's clock is moved.
//
// Environments share the machine's clock with the process that invokes them. A test that moves `Date` in its own
// process (vi.setSystemTime) moves the machine's clock as far as the handlers are concerned, so the runtime sends
// that offset with each invocation and this module applies it. Imported first by every environment bundle, before
// any handler module, so every Date of the environment comes from the same class. Offset 0: the real clock.
const RealDate = Date;
let offsetMs = 0;

class EnvironmentDate extends RealDate {
  // biome-ignore lint/suspicious/noExplicitAny: Date's constructor overloads, passed through unchanged.
  constructor(...args: any[]) {
    if (args.length === 0) super(RealDate.now() + offsetMs);
    else super(...(args as [string]));
  }

  static override now(): number {
    return RealDate.now() + offsetMs;
  }
}

globalThis.Date = EnvironmentDate as DateConstructor;

/** Sets how far the invoking process's clock is from the machine's (0: not moved). */
export function setClockOffset(ms: number): void {
  offsetMs = ms;
}

/** How far this process's `Date` is from the machine's clock (the monotonic clock since the time origin). */
export function clockOffsetOf(now = Date.now()): number {
  const offset = now - (performance.timeOrigin + performance.now());
  // The two clocks drift apart by milliseconds over a run (NTP); only a deliberate move counts.
  return Math.abs(offset) < 1_000 ? 0 : Math.round(offset);
}
