// The SAM recipe (README, Run with SAM) on the synthesized API template: SAM CLI's environment resolution reproduced,
// so a function that would start without DynamoDB Local, the local table or a webhook secret fails here, not in Docker.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { routes, sweeper } from '../../infra/routes.ts';
import { type SigningSecret, signingSecretSources, signingSecrets } from '../../infra/signing-secrets.ts';
import { type CfnTemplate, lambdaFunctions, SAM_ENV_DEFAULTS, samEnvVars } from '../../scripts/sam-env.ts';
import { loadConfig } from '../../shared/config.ts';
import { type BuiltStage, buildStage, functionLogicalId } from './fixture.ts';

// shared/config.ts parses process.env when it loads (a function's cold start); hoisted above the imports, this gives
// it a table so it loads here. The tests parse SAM's environments with its loadConfig, as a function under SAM would.
vi.hoisted(() => {
  process.env.TABLE_NAME ??= 'config-loads-here';
});

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** SAM CLI's defaults for pseudo parameters (samcli/lib/intrinsic_resolver/intrinsics_symbol_table.py). */
const PSEUDO: Record<string, string> = {
  'AWS::AccountId': '123456789012',
  'AWS::Partition': 'aws',
  'AWS::Region': 'us-east-1',
  'AWS::StackName': 'local',
  'AWS::URLSuffix': 'amazonaws.com',
};

const UNRESOLVED = Symbol('unresolved');

/**
 * SAM's intrinsic resolver (ignore_errors): a Ref to a pseudo parameter or a parameter default, to a resource of this
 * template (its logical id), GetAtt Arn, Join of resolved parts. Anything else (Fn::GetStackOutput, Fn::ImportValue:
 * values of another stack) stays unresolved.
 */
function resolve(template: CfnTemplate, value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const intrinsic = value as Record<string, unknown>;
  if (typeof intrinsic.Ref === 'string') {
    const ref = intrinsic.Ref;
    const parameters = (template as { Parameters?: Record<string, { Default?: unknown }> }).Parameters;
    if (ref in PSEUDO) return PSEUDO[ref];
    if (parameters?.[ref]?.Default !== undefined) return parameters[ref].Default;
    if (ref in template.Resources) return ref;
    return UNRESOLVED;
  }
  const getAtt = intrinsic['Fn::GetAtt'] as [string, string] | undefined;
  if (getAtt) return getAtt[1] === 'Arn' ? `arn:aws:lambda:us-east-1:123456789012:${getAtt[0]}` : UNRESOLVED;
  const join = intrinsic['Fn::Join'] as [string, unknown[]] | undefined;
  if (join) {
    const parts = join[1].map((part) => resolve(template, part));
    return parts.every((part) => typeof part === 'string') ? parts.join(join[0]) : UNRESOLVED;
  }
  return UNRESOLVED;
}

/**
 * What SAM passes to one function (samcli/commands/local/lib/local_lambda.py `_make_env_vars`, samcli/local/lambdafn/
 * env_vars.py `resolve`): only the variables the template declares; for each, the env-vars file's entry for the logical
 * id, else its `Parameters`, else the shell, else the template value; unresolved intrinsics become ''.
 */
function samEnvironment(
  template: CfnTemplate,
  logicalId: string,
  envVarsFile: Record<string, Record<string, string>>,
  shell: Record<string, string> = {},
): Record<string, string> {
  const declared = template.Resources[logicalId]?.Properties?.Environment?.Variables ?? {};
  const overrides = { ...envVarsFile.Parameters, ...envVarsFile[logicalId] };
  const environment: Record<string, string> = {};
  for (const [name, templateValue] of Object.entries(declared)) {
    let value = resolve(template, templateValue);
    if (name in shell) value = shell[name];
    if (name in overrides) value = overrides[name];
    environment[name] =
      value === UNRESOLVED || typeof value === 'object' || value === undefined ? '' : String(value);
  }
  return environment;
}

const functionIds = [...routes.map((route) => route.id), sweeper.id];
/** Each payment route's signing source, by function id. */
const signingSourceOf = new Map<string, SigningSecret>(
  routes.flatMap((route) => ('signingSecret' in route ? [[route.id, route.signingSecret] as const] : [])),
);
const localSecretOf: Record<SigningSecret, string> = {
  webhook: SAM_ENV_DEFAULTS.webhookSecret,
  stripe: SAM_ENV_DEFAULTS.stripeSecret,
  adyen: SAM_ENV_DEFAULTS.adyenKey,
};

describe.each(['dev', 'prod'])('sam local on the %s API template', (stage) => {
  let built: BuiltStage;
  let template: CfnTemplate;
  let envVars: Record<string, Record<string, string>>;
  beforeAll(() => {
    built = buildStage({ stage });
    template = built.apiTemplate.toJSON() as CfnTemplate;
    envVars = samEnvVars(template);
  });

  it('GIVEN `npm run sam:env` WHEN its file is read THEN it has one entry per function logical id', () => {
    const logicalIds = functionIds.map((id) => functionLogicalId(built, id));
    expect(
      lambdaFunctions(template)
        .map((fn) => fn.logicalId)
        .sort(),
    ).toEqual([...logicalIds].sort());
    expect(Object.keys(envVars).sort()).toEqual([...logicalIds].sort());
  });

  it.each(functionIds)(
    'GIVEN the env-vars file WHEN SAM resolves %s THEN its config loads with DynamoDB Local and the local table',
    (id) => {
      const config = loadConfig(samEnvironment(template, functionLogicalId(built, id), envVars));
      expect(config.DYNAMODB_ENDPOINT).toBe(SAM_ENV_DEFAULTS.endpoint);
      expect(config.TABLE_NAME).toBe(SAM_ENV_DEFAULTS.table);
    },
  );

  it.each(functionIds)(
    'GIVEN the env-vars file WHEN SAM resolves %s THEN a signing secret id never arrives empty without a local secret',
    (id) => {
      const environment = samEnvironment(template, functionLogicalId(built, id), envVars);
      const config = loadConfig(environment);
      const own = signingSourceOf.get(id);
      for (const source of signingSecretSources) {
        const { idVariable, valueVariable } = signingSecrets[source];
        // An empty Secrets Manager id and no secret would accept webhooks unsigned (or, for a provider, none).
        if (idVariable in environment) expect(config[valueVariable], `${id} ${valueVariable}`).toBeTruthy();
        if (source === own) {
          expect(config[valueVariable]).toBe(localSecretOf[source]);
          expect(config[idVariable]).toBeFalsy();
        } else {
          expect(environment, `${id} gets no ${source} secret`).not.toHaveProperty(idVariable);
          expect(environment).not.toHaveProperty(valueVariable);
        }
      }
    },
  );

  it('GIVEN the route table WHEN read THEN each payment route is the one function that reads its source’s secret', () => {
    expect(Object.fromEntries(signingSourceOf)).toEqual({
      'payment-webhook': 'webhook',
      'stripe-webhook': 'stripe',
      'adyen-webhook': 'adyen',
    });
  });

  it('GIVEN --stripe-secret and --adyen-key WHEN sam:env builds the file THEN each provider function gets its own', () => {
    const custom = samEnvVars(template, {
      ...SAM_ENV_DEFAULTS,
      stripeSecret: 'whsec_a,whsec_b',
      adyenKey: 'abcd',
    });
    expect(custom[functionLogicalId(built, 'stripe-webhook')]).toMatchObject({
      STRIPE_WEBHOOK_SECRET_ID: '',
      STRIPE_WEBHOOK_SECRET: 'whsec_a,whsec_b',
    });
    expect(custom[functionLogicalId(built, 'adyen-webhook')]).toMatchObject({
      ADYEN_HMAC_KEY_ID: '',
      ADYEN_HMAC_KEY: 'abcd',
    });
  });
});

describe('what SAM does without the file (why the recipe needs it)', () => {
  let built: BuiltStage;
  let template: CfnTemplate;
  beforeAll(() => {
    built = buildStage();
    template = built.apiTemplate.toJSON() as CfnTemplate;
  });
  const webhook = () => functionLogicalId(built, 'payment-webhook');

  it('GIVEN no env-vars file WHEN SAM resolves the webhook THEN the values from the data stack are empty and the config refuses to load', () => {
    const environment = samEnvironment(template, webhook(), {});
    expect(environment).toMatchObject({ TABLE_NAME: '', WEBHOOK_SECRET_ID: '', DYNAMODB_ENDPOINT: '' });
    expect(() => loadConfig(environment)).toThrow(/TABLE_NAME/);
  });

  it('GIVEN a variable the template does not declare WHEN the env-vars file or the shell sets it THEN SAM does not pass it', () => {
    const id = webhook();
    const environment = samEnvironment(template, id, { [id]: { NOT_DECLARED: 'x' } }, { ALSO_NOT: 'y' });
    expect(environment).not.toHaveProperty('NOT_DECLARED');
    expect(environment).not.toHaveProperty('ALSO_NOT');
  });

  it('GIVEN Parameters and an entry for the function WHEN both set a variable THEN the entry wins and Parameters reach every function', () => {
    const id = webhook();
    const file: Record<string, Record<string, string>> = {
      Parameters: { TABLE_NAME: 'from-parameters', POWERTOOLS_LOG_LEVEL: 'WARN' },
      [id]: { TABLE_NAME: 'own' },
    };
    expect(samEnvironment(template, id, file)).toMatchObject({
      TABLE_NAME: 'own',
      POWERTOOLS_LOG_LEVEL: 'WARN',
    });
    for (const fn of lambdaFunctions(template).filter((candidate) => candidate.logicalId !== id)) {
      expect(samEnvironment(template, fn.logicalId, file).TABLE_NAME).toBe('from-parameters');
    }
  });

  it('GIVEN a function that stopped declaring DYNAMODB_ENDPOINT WHEN sam:env runs THEN it refuses instead of letting SAM call AWS', () => {
    const id = webhook();
    const broken = structuredClone(template);
    const variables = broken.Resources[id]?.Properties?.Environment?.Variables ?? {};
    delete variables.DYNAMODB_ENDPOINT;
    expect(samEnvironment(broken, id, samEnvVars(template))).not.toHaveProperty('DYNAMODB_ENDPOINT');
    expect(() => samEnvVars(broken)).toThrow(new RegExp(`${id} does not declare DYNAMODB_ENDPOINT`));
  });
});

describe('the cloud, with the same template', () => {
  it('GIVEN a deployed function WHEN it starts with the declared-empty DYNAMODB_ENDPOINT and WEBHOOK_SECRET THEN both mean unset', () => {
    const config = loadConfig({
      TABLE_NAME: 'FlashSale-prod-Data-TableCD117FA1-ABC',
      DYNAMODB_ENDPOINT: '',
      WEBHOOK_SECRET: '',
      WEBHOOK_SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:webhook-AbCdEf',
    });
    expect(config.DYNAMODB_ENDPOINT).toBeUndefined();
    expect(config.WEBHOOK_SECRET).toBeFalsy();
    expect(config.WEBHOOK_SECRET_ID).toMatch(/^arn:aws:secretsmanager:/);
  });
});

describe('npm run sam:env', () => {
  it('GIVEN a synthesized template WHEN the command runs THEN it writes exactly the file samEnvVars builds', () => {
    const template = buildStage().apiTemplate.toJSON() as CfnTemplate;
    const dir = mkdtempSync(path.join(tmpdir(), 'sam-env-'));
    try {
      const file = path.join(dir, 'api.template.json');
      writeFileSync(file, JSON.stringify(template));
      const run = spawnSync(
        path.join(repoRoot, 'node_modules', '.bin', 'tsx'),
        ['scripts/sam-env.ts', '--template', file, '--endpoint', 'http://172.17.0.1:8000', '--out', '-'],
        { cwd: repoRoot, encoding: 'utf8' },
      );
      expect(run.status, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual(
        samEnvVars(template, { ...SAM_ENV_DEFAULTS, endpoint: 'http://172.17.0.1:8000' }),
      );
      const missing = spawnSync(
        path.join(repoRoot, 'node_modules', '.bin', 'tsx'),
        ['scripts/sam-env.ts', '--template', path.join(dir, 'absent.json')],
        { cwd: repoRoot, encoding: 'utf8' },
      );
      expect(missing.status).toBe(2);
      expect(missing.stderr).toMatch(/npx cdk synth/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
