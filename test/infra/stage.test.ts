// Stage settings from CDK context: safe defaults, cdk.json per-stage values, command-line overrides, loud errors.
import { describe, expect, it } from 'vitest';
import { MIN_UNRESERVED_CONCURRENCY, reservedConcurrency, stageSettings } from '../../infra/stage.ts';
import { buildStage, newApp } from './fixture.ts';

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
  ])('GIVEN %s WHEN settings are read THEN synth stops with a context error', (_, context) => {
    expect(() => stageSettings(newApp({ context }))).toThrow(/Invalid CDK context/);
  });
});
