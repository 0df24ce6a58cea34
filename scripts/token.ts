// `npm --silent run token -- --sub <id> [--ttl <duration>]`: a buyer token from the running `npm start -- --identity`,
// signed with its local issuer's key (found through .local/instance.json). Prints only the token, so
// `TOKEN=$(npm --silent run token -- --sub alice)` works.
import { parseArgs } from 'node:util';
import { instanceFile, readInstance, runningInstance } from '../infra/local/instance.ts';
import { DEFAULT_TTL_SECONDS, mintToken, readSigningKey } from '../infra/local/issuer.ts';

const USAGE = `usage: npm --silent run token -- --sub <id> [--ttl <duration>] [--aud <audience>]

Prints a bearer token for the buyer <id> from the local issuer of the running \`npm start -- --identity\`
(found through .local/instance.json), signed with its key in .local/identity/. Use it as
  TOKEN=$(npm --silent run token -- --sub alice)
  curl -H "authorization: Bearer $TOKEN" ...
(-s keeps npm's own lines out of the output.)

  --sub <id>         the buyer: the token's sub, which the API uses as the customer id
  --ttl <duration>   how long the token is valid: seconds, or a number with s, m, h or d (default ${DEFAULT_TTL_SECONDS / 3600}h)
  --aud <audience>   the token's audience (default: the first the instance accepts)
  -h, --help         this text

Exit codes: 0 the token is printed, 2 usage problem or no running instance with a local issuer.`;

/** One line on stderr, exit 2: no stack trace for things a user can fix. */
function die(message: string): never {
  console.error(`token: ${message}`);
  process.exit(2);
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90`, `90s`, `15m`, `2h`, `1d` in seconds; undefined when it is not one of those. */
function parseTtl(text: string): number | undefined {
  const match = /^(\d{1,9})([smhd]?)$/.exec(text.trim());
  if (!match?.[1]) return undefined;
  const seconds = Number(match[1]) * (UNIT_SECONDS[match[2] || 's'] ?? 1);
  return seconds > 0 ? seconds : undefined;
}

let values: { sub?: string; ttl?: string; aud?: string; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      sub: { type: 'string' },
      ttl: { type: 'string' },
      aud: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  die(`${(error as Error).message.split('\n')[0]} (npm run token -- --help shows the options)`);
}

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const sub = values.sub?.trim();
if (!sub) die('say whose token: --sub <id> (see --help)');
const ttlSeconds = values.ttl === undefined ? DEFAULT_TTL_SECONDS : parseTtl(values.ttl);
if (ttlSeconds === undefined) die(`--ttl ${values.ttl} is not a duration: seconds, or e.g. 15m, 2h, 1d`);

const instance = runningInstance();
if (!instance) {
  const stale = readInstance();
  die(
    `${stale ? `the npm start recorded in ${instanceFile()} (pid ${stale.pid}) is not running` : 'no running npm start found'}: start one with its local issuer: npm start -- --identity`,
  );
}
const { identity } = instance;
if (!identity)
  die(`the npm start at ${instance.api} runs without buyer identity: restart it with --identity`);
if (!identity.key_file) {
  die(
    `the npm start at ${instance.api} takes tokens from ${identity.issuer}: get one from that identity provider`,
  );
}
const audience = values.aud ?? identity.audiences[0];
if (!audience) die('the running instance names no audience: pass --aud <audience>');

let key: Awaited<ReturnType<typeof readSigningKey>>;
try {
  key = await readSigningKey(identity.key_file);
} catch (error) {
  die((error as Error).message);
}
if (!key) die(`no signing key at ${identity.key_file}: restart npm start -- --identity to make one`);

console.log(await mintToken({ key, issuer: identity.issuer, audience, sub, ttlSeconds }));
