// `npm run sam:env`: writes the `--env-vars` file for `sam local start-api` / `sam local invoke` from the synthesized
// API template (run `npx cdk synth` first). SAM passes a function only the variables its template declares, and
// resolves what comes from the data stack (TABLE_NAME, the *_SECRET_ID / _KEY_ID secret ARNs) to '', so each function
// gets them here: the local table, DynamoDB Local, and for each payment route a local secret of its own source.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type SigningSecret, signingSecretSources, signingSecrets } from '../infra/signing-secrets.ts';

const USAGE = `usage: npm run sam:env -- [--stage <stage>] [--template <file>] [--endpoint <url>] [--table <name>]
                          [--webhook-secret <secret>] [--stripe-secret <whsec>] [--adyen-key <hex>]
                          [--out <file> | --out -]

Writes SAM's --env-vars JSON (one entry per function logical id) for the synthesized API stack.

  --stage <stage>            the stage synthesized (default dev): reads cdk.out/FlashSale-<stage>-Api.template.json
  --template <file>          another template
  --endpoint <url>           DynamoDB Local as SAM's containers see it (default http://host.docker.internal:8000;
                             on Linux without Docker Desktop: the docker0 address, e.g. http://172.17.0.1:8000)
  --table <name>             the local table (default flash-sale-local, what \`npm start\` creates and seeds)
  --webhook-secret <secret>  the webhook signing secret(s) the local webhook accepts (default whsec_local)
  --stripe-secret <whsec>    the Stripe signing secret(s) the local Stripe route accepts (default whsec_stripe_local;
                             \`stripe listen\` prints the one it signs with)
  --adyen-key <hex>          the Adyen HMAC key(s) the local Adyen route accepts (default 0011...eeff, 64 hex digits)
  --out <file>               where to write (default cdk.out/sam-env.json); - for stdout
  -h, --help                 this text

Exit codes: 0 written, 2 usage problem, missing template, or a function that does not declare what SAM must set.`;

export interface SamEnvOptions {
  /** DynamoDB Local's endpoint as seen from SAM's Docker containers. */
  readonly endpoint: string;
  readonly table: string;
  readonly webhookSecret: string;
  readonly stripeSecret: string;
  readonly adyenKey: string;
}

/** Which option holds the local secret of each signing source. */
const LOCAL_SECRET_OPTION: Record<SigningSecret, 'webhookSecret' | 'stripeSecret' | 'adyenKey'> = {
  webhook: 'webhookSecret',
  stripe: 'stripeSecret',
  adyen: 'adyenKey',
};

export const SAM_ENV_DEFAULTS: SamEnvOptions = {
  endpoint: 'http://host.docker.internal:8000',
  table: 'flash-sale-local',
  webhookSecret: signingSecrets.webhook.samDefault,
  stripeSecret: signingSecrets.stripe.samDefault,
  adyenKey: signingSecrets.adyen.samDefault,
};

export interface CfnTemplate {
  Resources: Record<
    string,
    {
      Type: string;
      Properties?: { Environment?: { Variables?: Record<string, unknown> } };
      Metadata?: Record<string, unknown>;
    }
  >;
}

/** SAM's `--env-vars` format: variables per function logical id (and `Parameters` for every function). */
export type SamEnvVars = Record<string, Record<string, string>>;

/** A function's logical id and its construct path (`FlashSale-dev-Api/CreateHoldFunction/Resource`). */
export function lambdaFunctions(template: CfnTemplate): { logicalId: string; path: string }[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')
    .map(([logicalId, resource]) => ({ logicalId, path: String(resource.Metadata?.['aws:cdk:path'] ?? '') }));
}

/**
 * The overrides for every function of the template: the local table and DynamoDB Local for all, a local signing secret
 * (and no Secrets Manager id) for each payment route, of its own source (infra/signing-secrets.ts). Only variables the function declares are written, since SAM would
 * drop the others; a function that does not declare one SAM must set is an error, not a silent run against AWS.
 */
export function samEnvVars(template: CfnTemplate, options: SamEnvOptions = SAM_ENV_DEFAULTS): SamEnvVars {
  const result: SamEnvVars = {};
  const problems: string[] = [];
  for (const { logicalId } of lambdaFunctions(template)) {
    const declared = new Set(
      Object.keys(template.Resources[logicalId]?.Properties?.Environment?.Variables ?? {}),
    );
    const values: Record<string, string> = { TABLE_NAME: options.table, DYNAMODB_ENDPOINT: options.endpoint };
    for (const source of signingSecretSources) {
      const { idVariable, valueVariable } = signingSecrets[source];
      if (!declared.has(idVariable)) continue;
      values[idVariable] = '';
      values[valueVariable] = options[LOCAL_SECRET_OPTION[source]];
    }
    const missing = Object.keys(values).filter((name) => !declared.has(name));
    if (missing.length > 0) problems.push(`${logicalId} does not declare ${missing.join(', ')}`);
    result[logicalId] = values;
  }
  if (problems.length > 0) {
    throw new Error(
      `SAM could not override what a local run needs: ${problems.join('; ')} (infra/api-stack.ts)`,
    );
  }
  return result;
}

function die(message: string): never {
  console.error(`sam:env: ${message}`);
  process.exit(2);
}

function main(): void {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        stage: { type: 'string', default: 'dev' },
        template: { type: 'string' },
        endpoint: { type: 'string', default: SAM_ENV_DEFAULTS.endpoint },
        table: { type: 'string', default: SAM_ENV_DEFAULTS.table },
        'webhook-secret': { type: 'string', default: SAM_ENV_DEFAULTS.webhookSecret },
        'stripe-secret': { type: 'string', default: SAM_ENV_DEFAULTS.stripeSecret },
        'adyen-key': { type: 'string', default: SAM_ENV_DEFAULTS.adyenKey },
        out: { type: 'string', default: path.join('cdk.out', 'sam-env.json') },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    die(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const templateFile = String(
    values.template ?? path.join('cdk.out', `FlashSale-${values.stage}-Api.template.json`),
  );
  if (!existsSync(templateFile))
    die(`${templateFile} not found: run \`npx cdk synth\` first (-c stage=<stage>)`);
  const endpoint = String(values.endpoint);
  if (!URL.canParse(endpoint)) die(`--endpoint ${endpoint} is not a URL`);
  const template = JSON.parse(readFileSync(templateFile, 'utf8')) as CfnTemplate;
  let envVars: SamEnvVars;
  try {
    envVars = samEnvVars(template, {
      endpoint,
      table: String(values.table),
      webhookSecret: String(values['webhook-secret']),
      stripeSecret: String(values['stripe-secret']),
      adyenKey: String(values['adyen-key']),
    });
  } catch (error) {
    die((error as Error).message);
  }
  const json = `${JSON.stringify(envVars, null, 2)}\n`;
  if (values.out === '-') process.stdout.write(json);
  else writeFileSync(String(values.out), json);
  // What to pass to `sam local invoke`: logical ids carry a hash.
  for (const fn of lambdaFunctions(template)) console.error(`  ${fn.logicalId.padEnd(40)} ${fn.path}`);
  const jwt = Object.values(template.Resources).some(
    (resource) => resource.Properties?.Environment?.Variables?.JWT_ISSUER !== undefined,
  );
  if (jwt) {
    console.error(
      'sam:env: this template sets JWT_ISSUER, but sam local runs no JWT authorizer: synthesize without jwtIssuer',
    );
  }
  console.error(
    `sam:env: ${Object.keys(envVars).length} functions -> ${values.out === '-' ? 'stdout' : values.out}`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) main();
