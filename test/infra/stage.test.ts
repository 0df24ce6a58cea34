// Stage settings from CDK context: safe defaults, cdk.json per-stage values, command-line overrides, loud errors.
import { describe, expect, it } from 'vitest';
import { MIN_UNRESERVED_CONCURRENCY, reservedConcurrency, stageSettings } from '../../infra/stage.ts';
import { buildStage, newApp, templateJson } from './fixture.ts';

describe('stage settings', () => {
  it('GIVEN no context at all WHEN settings are read THEN the stage is dev with safe defaults', () => {
    expect(stageSettings(newApp())).toEqual({
      stage: 'dev',
      ephemeral: true,
      logRetentionDays: 30,
      throttleRateLimit: 50,
      throttleBurstLimit: 100,
      corsAllowOrigins: [],
      logLevel: 'INFO',
      lambdaMemoryMb: 512,
      holdTtlSeconds: 120,
      maxQtyPerHold: 10,
      paymentWindowSeconds: 900,
      webhookReservedConcurrency: 20,
      sweeperReservedConcurrency: 2,
      shopperReservedConcurrency: 100,
      accountConcurrencyLimit: 1000,
      jwtAudience: [],
      warmThroughput: {},
      tableThroughputQuota: 40_000,
    });
  });

  it('GIVEN the default reservations WHEN added up THEN 422 are reserved and 578 of the default 1,000 stay unreserved', () => {
    const settings = stageSettings(newApp());
    expect(reservedConcurrency(settings)).toBe(20 + 2 + 4 * 100);
    expect(settings.accountConcurrencyLimit - reservedConcurrency(settings)).toBeGreaterThanOrEqual(
      MIN_UNRESERVED_CONCURRENCY,
    );
  });

  it('GIVEN cdk.json WHEN dev is built THEN it reserves no concurrency (sandbox accounts often have a quota of 10)', () => {
    expect(buildStage({ stage: 'dev' }).settings).toMatchObject({
      webhookReservedConcurrency: 0,
      sweeperReservedConcurrency: 0,
      shopperReservedConcurrency: 0,
    });
  });

  it('GIVEN an issuer and comma-separated audiences on the command line WHEN settings are read THEN both are parsed', () => {
    const app = newApp({
      context: {
        jwtIssuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example',
        jwtAudience: ' web-client , app-client ',
      },
    });
    expect(stageSettings(app)).toMatchObject({
      jwtIssuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example',
      jwtAudience: ['web-client', 'app-client'],
    });
  });

  it('GIVEN a low account quota WHEN the reservations do not fit THEN synth says how many are allowed', () => {
    expect(() => stageSettings(newApp({ context: { accountConcurrencyLimit: '400' } }))).toThrow(
      /reservations total 422 .* allows 300/,
    );
    const none = {
      accountConcurrencyLimit: '10',
      webhookReservedConcurrency: '0',
      sweeperReservedConcurrency: '0',
      shopperReservedConcurrency: '0',
    };
    expect(reservedConcurrency(stageSettings(newApp({ context: none })))).toBe(0);
  });

  it('GIVEN -c stage=prod with cdk.json WHEN built THEN prod settings apply and the stacks are named for prod', () => {
    const built = buildStage({ stage: 'prod' });
    expect(built.settings).toMatchObject({
      stage: 'prod',
      ephemeral: false,
      logRetentionDays: 90,
      throttleRateLimit: 500,
    });
    expect(built.data.stackName).toBe('FlashSale-prod-Data');
    expect(built.api.stackName).toBe('FlashSale-prod-Api');
    expect(built.api.dependencies).toContain(built.data);
  });

  it('GIVEN warm throughput for the table and one index in cdk.json WHEN settings are read THEN each target keeps its own units', () => {
    const warmThroughput = {
      table: { writeUnitsPerSecond: 20_000, readUnitsPerSecond: 30_000 },
      byDeadline: { writeUnitsPerSecond: 8_000 },
    };
    const app = newApp({ context: { stages: { prod: { warmThroughput } }, stage: 'prod' } });
    expect(stageSettings(app).warmThroughput).toEqual(warmThroughput);
  });

  it('GIVEN warm throughput as JSON on the command line WHEN settings are read THEN it is parsed like cdk.json', () => {
    const app = newApp({ context: { warmThroughput: '{"holdsOfProduct":{"writeUnitsPerSecond":"6000"}}' } });
    expect(stageSettings(app).warmThroughput).toEqual({ holdsOfProduct: { writeUnitsPerSecond: 6_000 } });
  });

  it('GIVEN a raised quota WHEN warm throughput goes past the default quota THEN it is accepted up to the new one', () => {
    const high = { warmThroughput: { table: { writeUnitsPerSecond: 80_000 } } };
    expect(() => stageSettings(newApp({ context: high }))).toThrow(
      /exceeds the table-level throughput quota of 40000/,
    );
    expect(
      stageSettings(newApp({ context: { ...high, tableThroughputQuota: '100000' } })).warmThroughput,
    ).toEqual({ table: { writeUnitsPerSecond: 80_000 } });
  });

  it('GIVEN a stage WHEN synthesized THEN its resources carry the service and stage tags, the dashboard none', () => {
    const built = buildStage({ stage: 'prod' });
    const resources = [built.dataTemplate, built.apiTemplate].flatMap((template) =>
      Object.values(templateJson(template).Resources),
    );
    const tagsOf = (type: string) =>
      resources.filter((resource) => resource.Type === type).map((resource) => resource.Properties.Tags);
    const expected = expect.arrayContaining([
      { Key: 'service', Value: 'flash-sale-checkout' },
      { Key: 'stage', Value: 'prod' },
    ]);
    for (const type of ['AWS::DynamoDB::Table', 'AWS::Lambda::Function', 'AWS::Logs::LogGroup']) {
      expect(tagsOf(type).length, type).toBeGreaterThan(0);
      for (const tags of tagsOf(type)) expect(tags, type).toEqual(expected);
    }
    expect(tagsOf('AWS::CloudWatch::Dashboard')).toEqual([undefined]);
  });

  it('GIVEN command-line strings WHEN settings are read THEN numbers and origin lists are parsed', () => {
    const app = newApp({
      context: {
        stage: 'staging',
        throttleRateLimit: '7',
        corsAllowOrigins: 'https://shop.example.com, https://admin.example.com',
      },
    });
    expect(stageSettings(app)).toMatchObject({
      stage: 'staging',
      ephemeral: false,
      throttleRateLimit: 7,
      corsAllowOrigins: ['https://shop.example.com', 'https://admin.example.com'],
    });
  });

  it.each([
    ['a stage name with capitals', { stage: 'Prod' }],
    ['a misspelt key in cdk.json stages', { stages: { dev: { logRetentionDay: 7 } } }],
    ['a retention CloudWatch does not offer', { logRetentionDays: '8' }],
    ['a wildcard CORS origin', { corsAllowOrigins: '*' }],
    ['a plain-http CORS origin', { corsAllowOrigins: 'http://shop.example.com' }],
    ['an invalid alarm email', { alarmEmail: 'on-call' }],
    ['a zero throttle', { throttleRateLimit: 0 }],
    ['a negative reservation', { shopperReservedConcurrency: '-1' }],
    ['a JWT issuer without an audience', { jwtIssuer: 'https://issuer.example.com' }],
    ['an audience without a JWT issuer', { jwtAudience: 'web-client' }],
    ['a plain-http JWT issuer', { jwtIssuer: 'http://issuer.example.com', jwtAudience: 'web-client' }],
    [
      'warm throughput for an index that does not exist',
      { warmThroughput: { byDeadlines: { writeUnitsPerSecond: 8000 } } },
    ],
    ['warm writes below the on-demand default', { warmThroughput: { table: { writeUnitsPerSecond: 1000 } } }],
    ['warm reads below the on-demand default', { warmThroughput: { table: { readUnitsPerSecond: 4000 } } }],
    ['warm throughput with neither units', { warmThroughput: { table: {} } }],
    ['a misspelt warm throughput unit', { warmThroughput: { table: { writeUnits: 8000 } } }],
    ['fractional warm throughput', { warmThroughput: { table: { writeUnitsPerSecond: 8000.5 } } }],
    ['warm throughput that is not JSON', { warmThroughput: 'table=8000' }],
  ])('GIVEN %s WHEN settings are read THEN synth stops with a context error', (_, context) => {
    expect(() => stageSettings(newApp({ context }))).toThrow(/Invalid CDK context/);
  });
});
