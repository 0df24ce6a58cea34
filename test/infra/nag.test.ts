// cdk-nag (AWS Solutions): no unacknowledged finding in any stage, and every acknowledgement is reviewed and reasoned.
import { Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { addNagChecks } from '../../infra/nag.ts';
import { routes } from '../../infra/routes.ts';
import { buildStage } from './fixture.ts';

/** Every acknowledged rule, by construct path (CDK stores them as `Annotation::<rule id>` → reason). */
function acknowledgements(
  built: ReturnType<typeof buildStage>,
): { path: string; rule: string; reason: string }[] {
  return built.app.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([rule, reason]) => ({
          path: construct.node.path,
          rule: rule.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

describe('cdk-nag AWS Solutions checks', () => {
  const jwt = {
    jwtIssuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example',
    jwtAudience: 'web-client',
  };

  it.each([
    ['dev', {}],
    ['prod', {}],
    ['prod', jwt],
  ] as const)(
    'GIVEN stage %s %o WHEN every resource is checked THEN no error or warning is left',
    (stage, context) => {
      const built = buildStage({ stage, context });
      const report = new AwsSolutionsChecks().validateScope(built.app);
      expect(report.violations.map((violation) => `${violation.ruleName} (${violation.severity})`)).toEqual(
        [],
      );
    },
  );

  it('GIVEN the checks wired as in infra/app.ts WHEN the app synthesizes THEN it succeeds', () => {
    const built = buildStage({ stage: 'prod' });
    addNagChecks(built.app);
    expect(() => built.app.synth({ force: true })).not.toThrow();
  });

  it('GIVEN a non-compliant resource WHEN the app synthesizes THEN the checks fail synth naming the rule', () => {
    const built = buildStage();
    new Queue(built.api, 'PlainQueue');
    addNagChecks(built.app);
    expect(() => built.app.synth({ force: true })).toThrow(/AwsSolutions-SQS4/);
  });

  it('GIVEN the acknowledgements WHEN listed THEN they are exactly the reviewed ones, each with a one-line reason', () => {
    const acks = acknowledgements(buildStage());
    expect([...new Set(acks.map((ack) => ack.rule))].sort()).toEqual([
      'AwsSolutions-APIG4',
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-SMG4',
      'AwsSolutions-SQS3',
    ]);
    for (const ack of acks) {
      expect(ack.reason.length, ack.path).toBeGreaterThan(20);
      expect(ack.reason, ack.path).not.toContain('\n');
    }
  });

  it('GIVEN the wildcard acknowledgement WHEN located THEN it sits on the X-Ray default policies only, never a role or stack', () => {
    const wildcard = acknowledgements(buildStage()).filter((ack) => ack.rule.startsWith('AwsSolutions-IAM5'));
    expect(wildcard).toHaveLength(routes.length + 1);
    for (const ack of wildcard) expect(ack.path).toMatch(/^FlashSale-dev-Api\/[A-Za-z]+Role\/DefaultPolicy$/);
  });

  it('GIVEN no jwtIssuer WHEN the public-route acknowledgements are located THEN every route but the IAM admin one has one', () => {
    const apig4 = acknowledgements(buildStage()).filter((ack) => ack.rule === 'AwsSolutions-APIG4');
    expect(apig4.map((ack) => ack.path)).not.toContainEqual(expect.stringContaining('admin'));
    expect(apig4).toHaveLength(routes.filter((route) => route.auth === 'none').length);
    const buyers = apig4.filter((ack) => /holds|orders/.test(ack.path));
    expect(buyers).toHaveLength(3);
    for (const ack of buyers) expect(ack.reason).toMatch(/jwtIssuer/);
  });

  it('GIVEN jwtIssuer WHEN the public-route acknowledgements are located THEN the JWT-authorized buyer routes have none', () => {
    const apig4 = acknowledgements(buildStage({ context: jwt })).filter(
      (ack) => ack.rule === 'AwsSolutions-APIG4',
    );
    const anonymous = routes.filter((route) => route.auth === 'none' && !('identity' in route));
    expect(anonymous.map((route) => route.id).sort()).toEqual([
      'adyen-webhook',
      'get-product',
      'health',
      'payment-webhook',
      'stripe-webhook',
    ]);
    expect(apig4).toHaveLength(anonymous.length);
    expect(apig4.map((ack) => ack.path)).not.toContainEqual(expect.stringMatching(/holds|orders/));
  });
});
