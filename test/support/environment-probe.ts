// A function for the local runtime's own tests: which module instance served an invocation, how many invocations
// that instance ran at once, and the clock it saw. PROBE_FAIL_INIT makes its module fail to load (an init error).
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

if (process.env.PROBE_FAIL_INIT) throw new Error('The probe failed its init, as asked (PROBE_FAIL_INIT)');

/** This module instance: one per execution environment. */
const instance = randomUUID();
let inFlight = 0;
let served = 0;

export interface ProbeAnswer {
  instance: string;
  /** Invocations this instance was running when this one started, itself included. */
  concurrent: number;
  /** Invocations this instance has served, this one included. */
  served: number;
  /** `Date.now()` as the handler saw it. */
  now: number;
}

/** `{ workMs }`, invoked directly or as the JSON body of an HTTP event. */
function workOf(event: { workMs?: number; body?: string }): number {
  const source = typeof event.body === 'string' ? (JSON.parse(event.body) as { workMs?: number }) : event;
  return source.workMs ?? 0;
}

/** Works `workMs` (the invocation's duration), then answers. */
export const handler = async (event: { workMs?: number; body?: string }): Promise<ProbeAnswer> => {
  const workMs = workOf(event);
  inFlight += 1;
  served += 1;
  const concurrent = inFlight;
  try {
    await sleep(workMs);
    return { instance, concurrent, served, now: Date.now() };
  } finally {
    inFlight -= 1;
  }
};
