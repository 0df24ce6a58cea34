// HTTP lives at the edge: no file under shared/ outside shared/http/ names an HTTP status, in code or in comments.
//
// The rule, line by line (numbers that are not statuses, such as `PAGE = 500` or `500 ms`, are not flagged):
// - `statusCode`, `Retry-After` and `WWW-Authenticate` (the answer's fields and headers) anywhere;
// - `status: 4xx` / `status: 5xx` (an object literal carrying a status);
// - `4xx` / `5xx` written as a class of statuses;
// - a number from 400 to 599 next to a word that makes it a status: "answer(s|ed)", "status", "HTTP", "gets",
//   "refused", "respond" (within a few words before it), or an UPPER_SNAKE error code right after it
//   (`409 ORDER_ALREADY_FINALIZED`);
// - in a comment, any status this API answers (400, 401, 403, 404, 405, 409, 410, 413, 422, 429, 500, 502, 503, 504)
//   unless it is a quantity (`500 ms`, `404 items`); in code such a number is a page size or a backoff
//   (`PAGE = 500`), and a status there is caught by the rules above.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

const RULES: readonly { name: string; pattern: RegExp; inComments?: true }[] = [
  { name: 'an answer field or header', pattern: /\bstatusCode\b|Retry-After|WWW-Authenticate/ },
  { name: 'a status in an object', pattern: /\bstatus\s*:\s*[45]\d\d\b/ },
  { name: 'a class of statuses', pattern: /\b[45]xx\b/i },
  {
    name: 'a status named in words',
    pattern:
      /\b(?:answer(?:s|ed|ing)?|status(?:es)?|HTTP|gets?|refused|respond(?:s|ed)?)\b(?:\W+\w+){0,3}?\W+[45]\d\d\b/i,
  },
  { name: 'a status before an error code', pattern: /\b[45]\d\d\s+[A-Z][A-Z0-9]*_[A-Z0-9_]+\b/ },
  {
    name: 'a status the API answers',
    pattern:
      /\b(?:400|401|403|404|405|409|410|413|422|429|500|502|503|504)\b(?!\s*(?:ms|s|bytes|KiB|KB|MB|items|units|%))/,
    inComments: true,
  },
];

/** The comment part of a line: after `//`, or the whole line inside a block comment (` * ...`, `/** ...`). */
function commentOf(line: string): string {
  const trimmed = line.trim();
  if (trimmed.startsWith('*') || trimmed.startsWith('/*')) return trimmed;
  const slashes = line.indexOf('//');
  return slashes === -1 ? '' : line.slice(slashes);
}

/** The rules `line` breaks, by name. */
function brokenBy(line: string): string[] {
  return RULES.filter(({ pattern, inComments }) => pattern.test(inComments ? commentOf(line) : line)).map(
    ({ name }) => name,
  );
}

/** Every line of every .ts file under shared/ outside shared/http/ that breaks a rule, as "file:line rule: text". */
function httpOutsideTheEdge(dir = join(root, 'shared')): string[] {
  const found: string[] = [];
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter(
    (file) => file.endsWith('.ts') && !file.startsWith('http/'),
  );
  for (const file of files.sort()) {
    readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .forEach((line, index) => {
        for (const name of brokenBy(line)) found.push(`shared/${file}:${index + 1} ${name}: ${line.trim()}`);
      });
  }
  return found;
}

describe('HTTP at the edge', () => {
  it('names no HTTP status, status field or answer header in shared/ outside shared/http/', () => {
    expect(httpOutsideTheEdge()).toEqual([]);
  });

  it.each([
    ["return { statusCode: 200, body: '' };", 'an answer field or header'],
    ["headers: { 'Retry-After': '1' }", 'an answer field or header'],
    ['super({ status: 409, code })', 'a status in an object'],
    ['// throttling and DynamoDB 5xx', 'a class of statuses'],
    ['// the caller answers 503.', 'a status named in words'],
    ['// another customer gets 404, as for a missing order', 'a status named in words'],
    ['/** A finished order: 409 ORDER_ALREADY_FINALIZED. */', 'a status before an error code'],
    ['// then give up with 503 rather than wait', 'a status the API answers'],
    ['// No room left for another read: 503 now, not at the timeout.', 'a status the API answers'],
    ['// never a raw 500 or a Lambda timeout', 'a status the API answers'],
  ])('flags %j', (line, rule) => {
    expect(brokenBy(line)).toContain(rule);
  });

  it.each([
    'const PAGE = 500;',
    'const limit = 404; // a page of items',
    "const base = errorType === 'THROTTLING' ? 500 : 100;",
    '// full-jitter exponential backoff from 100 ms, 500 ms for throttling',
    '// at most 404 items in one page',
    'if (order.status === "paid") return;',
  ])('leaves %j alone', (line) => {
    expect(brokenBy(line)).toEqual([]);
  });
});
