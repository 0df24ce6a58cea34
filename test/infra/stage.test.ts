// Stage settings from CDK context: safe defaults, cdk.json per-stage values, command-line overrides, loud errors.
import { describe, expect, it } from 'vitest';
import { stageSettings } from '../../infra/stage.ts';
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
    });
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
  ])('GIVEN %s WHEN settings are read THEN synth stops with a context error', (_, context) => {
    expect(() => stageSettings(newApp({ context }))).toThrow(/Invalid CDK context/);
  });
});
