// The data stack: the table exactly as shared/db/table.ts defines it, kept safe outside dev, the secret and the log groups.
import type { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { FunctionId } from '../../infra/api-stack.ts';
import { routes, sweeper } from '../../infra/routes.ts';
import { type SigningSecret, signingSecretSources } from '../../infra/signing-secrets.ts';
import { table } from '../../shared/db/table.ts';
import {
  type BuiltStage,
  buildStage,
  logGroupLogicalId,
  logicalId,
  resourceOf,
  templateJson,
} from './fixture.ts';

const tableResource = (built: BuiltStage) =>
  resourceOf(built.dataTemplate, logicalId(built.data, built.data.table.node.defaultChild as CfnElement));
const secretResource = (built: BuiltStage, source: SigningSecret = 'webhook') =>
  resourceOf(
    built.dataTemplate,
    logicalId(built.data, built.data.signingSecrets[source].node.defaultChild as CfnElement),
  );

describe('table', () => {
  it('GIVEN the table definition WHEN synthesized THEN keys, both INCLUDE indexes and the TTL attribute match it', () => {
    const built = buildStage();
    const indexes = Object.values(table.indexes);
    expect(indexes.map((index) => index.indexName).sort()).toEqual(['byDeadline', 'holdsOfProduct']);
    built.dataTemplate.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: table.ttlAttribute, Enabled: true },
      GlobalSecondaryIndexes: Match.arrayEquals(
        indexes.map((index) => ({
          IndexName: index.indexName,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            { AttributeName: index.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.nonKeyAttributes] },
        })),
      ),
    });
    expect(table.ttlAttribute).toBe('expiration');
    const definitions = tableResource(built).Properties.AttributeDefinitions as { AttributeType: string }[];
    expect(definitions).toHaveLength(2 + 2 * indexes.length);
    expect(new Set(definitions.map((definition) => definition.AttributeType))).toEqual(new Set(['S']));
  });

  it.each(['dev', 'prod'])(
    'GIVEN stage %s WHEN synthesized THEN the table is on-demand with point-in-time recovery',
    (stage) => {
      buildStage({ stage }).dataTemplate.hasResourceProperties('AWS::DynamoDB::Table', {
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        ProvisionedThroughput: Match.absent(),
      });
    },
  );

  it.each(['prod', 'staging'])(
    'GIVEN stage %s WHEN synthesized THEN table and secret survive deletion: protection on, Retain, stack protected',
    (stage) => {
      const built = buildStage({ stage });
      expect(tableResource(built)).toMatchObject({
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: { DeletionProtectionEnabled: true },
      });
      expect(secretResource(built)).toMatchObject({
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
      });
      expect(built.data.terminationProtection).toBe(true);
    },
  );

  /** Each index's WarmThroughput as synthesized, by index name. */
  const warmOfIndexes = (built: BuiltStage) =>
    Object.fromEntries(
      (
        tableResource(built).Properties.GlobalSecondaryIndexes as {
          IndexName: string;
          WarmThroughput?: unknown;
        }[]
      ).map((index) => [index.IndexName, index.WarmThroughput]),
    );
  const indexNames = Object.values(table.indexes).map((index) => index.indexName);

  it.each(['dev', 'prod'])(
    'GIVEN stage %s with no warm throughput set WHEN synthesized THEN neither the table nor an index asks for any',
    (stage) => {
      const built = buildStage({ stage });
      expect(tableResource(built).Properties.WarmThroughput).toBeUndefined();
      expect(warmOfIndexes(built)).toEqual(Object.fromEntries(indexNames.map((name) => [name, undefined])));
    },
  );

  it('GIVEN warm throughput for the table and each index WHEN synthesized THEN each one carries exactly its own', () => {
    // Distinct figures per index, so one index's value showing up on another fails.
    const perIndex = Object.fromEntries(
      indexNames.map((name, i) => [
        name,
        { writeUnitsPerSecond: 5_000 + 1_000 * i, readUnitsPerSecond: 13_000 + i },
      ]),
    );
    const built = buildStage({
      stage: 'prod',
      context: {
        warmThroughput: { table: { writeUnitsPerSecond: 24_000, readUnitsPerSecond: 16_000 }, ...perIndex },
      },
    });
    expect(tableResource(built).Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      WarmThroughput: { WriteUnitsPerSecond: 24_000, ReadUnitsPerSecond: 16_000 },
    });
    expect(warmOfIndexes(built)).toEqual(
      Object.fromEntries(
        Object.entries(perIndex).map(([name, warm]) => [
          name,
          { WriteUnitsPerSecond: warm.writeUnitsPerSecond, ReadUnitsPerSecond: warm.readUnitsPerSecond },
        ]),
      ),
    );
  });

  it('GIVEN warm throughput for one index only WHEN synthesized THEN the table and the other indexes keep the defaults', () => {
    const built = buildStage({
      context: { warmThroughput: { holdsOfProduct: { writeUnitsPerSecond: 6_000 } } },
    });
    expect(tableResource(built).Properties.WarmThroughput).toBeUndefined();
    expect(warmOfIndexes(built)).toEqual({
      ...Object.fromEntries(indexNames.map((name) => [name, undefined])),
      holdsOfProduct: { WriteUnitsPerSecond: 6_000 },
    });
  });

  it('GIVEN the dev stage WHEN synthesized THEN its data may be destroyed with the stack', () => {
    const built = buildStage({ stage: 'dev' });
    expect(tableResource(built)).toMatchObject({
      DeletionPolicy: 'Delete',
      Properties: { DeletionProtectionEnabled: false },
    });
    expect(secretResource(built).DeletionPolicy).toBe('Delete');
    expect(built.data.terminationProtection).toBe(false);
  });
});

/** Evaluates the few intrinsics a name is built with, as CloudFormation would for a stack with this id. */
function evaluate(value: unknown, stackId: string): string {
  if (typeof value === 'string') return value;
  const intrinsic = value as Record<string, unknown>;
  if (intrinsic.Ref === 'AWS::StackId') return stackId;
  const join = intrinsic['Fn::Join'] as [string, unknown[]] | undefined;
  if (join) return join[1].map((part) => evaluate(part, stackId)).join(join[0]);
  const select = intrinsic['Fn::Select'] as [number, unknown] | undefined;
  if (select) {
    const split = (select[1] as { 'Fn::Split': [string, unknown] })['Fn::Split'];
    return evaluate(split[1], stackId).split(split[0])[select[0]] ?? '';
  }
  throw new Error(`Cannot evaluate ${JSON.stringify(value)}`);
}

describe('webhook secret', () => {
  it('GIVEN the data stack WHEN synthesized THEN the secret is generated by Secrets Manager, never a literal', () => {
    const built = buildStage({ stage: 'prod' });
    const secret = secretResource(built);
    expect(secret.Properties.SecretString).toBeUndefined();
    expect(secret.Properties.GenerateSecretString).toMatchObject({
      PasswordLength: 64,
      ExcludePunctuation: true,
    });
  });

  it('GIVEN a retained secret of an earlier prod data stack WHEN the stack is created again THEN its secret gets another name', () => {
    const name = secretResource(buildStage({ stage: 'prod' })).Properties.Name;
    const stack = (uuid: string) =>
      `arn:aws:cloudformation:eu-west-1:123456789012:stack/FlashSale-prod-Data/${uuid}`;
    const first = evaluate(name, stack('8f6d2a10-5b3c-11ef-9c1a-0a1b2c3d4e5f'));
    const second = evaluate(name, stack('d41e07b2-7c9a-11ef-8d2e-0f1e2d3c4b5a'));
    expect(first).toBe('flash-sale-checkout/prod/webhook-signing-secret-8f6d2a10');
    expect(second).toBe('flash-sale-checkout/prod/webhook-signing-secret-d41e07b2');
  });

  it('GIVEN the data stack WHEN synthesized THEN the WebhookSecretName output is exactly the secret name (the rotation command uses it)', () => {
    const built = buildStage({ stage: 'prod' });
    built.dataTemplate.hasOutput('WebhookSecretName', { Value: secretResource(built).Properties.Name });
  });
  it.each([
    ['stripe', 'stripe-webhook-secret', 'StripeWebhookSecretName'],
    ['adyen', 'adyen-hmac-key', 'AdyenHmacKeyName'],
  ] as const)(
    'GIVEN the %s signing secret WHEN synthesized THEN it is generated, named %s-<stack suffix>, and published as %s',
    (source, slug, output) => {
      const built = buildStage({ stage: 'prod' });
      const secret = secretResource(built, source);
      expect(secret.Properties.SecretString).toBeUndefined();
      expect(secret.DeletionPolicy).toBe('Retain');
      const stackId =
        'arn:aws:cloudformation:eu-west-1:123456789012:stack/FlashSale-prod-Data/8f6d2a10-5b3c-11ef-9c1a-0a1b2c3d4e5f';
      expect(evaluate(secret.Properties.Name, stackId)).toBe(`flash-sale-checkout/prod/${slug}-8f6d2a10`);
      built.dataTemplate.hasOutput(output, { Value: secret.Properties.Name });
    },
  );

  it('GIVEN the Adyen secret WHEN generated THEN its placeholder is hex (the function refuses any other key), never a key Adyen signs with', () => {
    const generate = secretResource(buildStage({ stage: 'prod' }), 'adyen').Properties
      .GenerateSecretString as {
      PasswordLength: number;
      ExcludeCharacters: string;
      ExcludeUppercase: boolean;
      ExcludePunctuation: boolean;
    };
    expect(generate.PasswordLength % 2).toBe(0);
    expect(generate).toMatchObject({ ExcludeUppercase: true, ExcludePunctuation: true });
    const allowed = [...'abcdefghijklmnopqrstuvwxyz0123456789'].filter(
      (char) => !generate.ExcludeCharacters.includes(char),
    );
    expect(allowed.join('')).toBe('abcdef0123456789');
  });

  it('GIVEN the data stack WHEN synthesized THEN it holds one secret per signing source, no more', () => {
    const built = buildStage({ stage: 'prod' });
    built.dataTemplate.resourceCountIs('AWS::SecretsManager::Secret', signingSecretSources.length);
    expect(signingSecretSources).toEqual(['webhook', 'stripe', 'adyen']);
  });
});

describe('log groups', () => {
  const functionIds: FunctionId[] = [...routes.map((route) => route.id), sweeper.id];
  const groups = (built: BuiltStage) =>
    Object.values(templateJson(built.dataTemplate).Resources).filter(
      (resource) => resource.Type === 'AWS::Logs::LogGroup',
    );

  it.each([
    ['dev', 7, 'Delete'],
    ['prod', 90, 'Retain'],
  ] as const)(
    'GIVEN stage %s WHEN synthesized THEN each function has /aws/lambda/<its name>, kept %i days, %s with the stack',
    (stage, days, policy) => {
      const built = buildStage({ stage });
      for (const id of functionIds) {
        expect(resourceOf(built.dataTemplate, logGroupLogicalId(built, id)), id).toMatchObject({
          DeletionPolicy: policy,
          UpdateReplacePolicy: policy,
          Properties: {
            LogGroupName: `/aws/lambda/flash-sale-checkout-${stage}-${id}`,
            RetentionInDays: days,
          },
        });
      }
      const access = logicalId(built.data, built.data.apiAccessLogs.node.defaultChild as CfnElement);
      expect(resourceOf(built.dataTemplate, access)).toMatchObject({
        DeletionPolicy: policy,
        Properties: { LogGroupName: `/flash-sale-checkout/${stage}/api-access`, RetentionInDays: days },
      });
      expect(groups(built)).toHaveLength(functionIds.length + 1);
    },
  );

  it('GIVEN the API stack WHEN synthesized THEN it declares no log group of its own (re-creating it cannot collide)', () => {
    const built = buildStage({ stage: 'prod' });
    built.apiTemplate.resourceCountIs('AWS::Logs::LogGroup', 0);
  });
});

describe('stateful stack only', () => {
  it('GIVEN the data stack WHEN synthesized THEN it holds only the table, the secret and the log groups (the API can go alone)', () => {
    const built = buildStage();
    const types = Object.values(templateJson(built.dataTemplate).Resources).map((resource) => resource.Type);
    expect([...new Set(types.filter((type) => type !== 'AWS::CDK::Metadata'))].sort()).toEqual([
      'AWS::DynamoDB::Table',
      'AWS::Logs::LogGroup',
      'AWS::SecretsManager::Secret',
    ]);
    const apiTypes = new Set(
      Object.values(templateJson(built.apiTemplate).Resources).map((resource) => resource.Type),
    );
    expect(apiTypes.has('AWS::DynamoDB::Table')).toBe(false);
    expect(apiTypes.has('AWS::SecretsManager::Secret')).toBe(false);
  });

  it('GIVEN the data stack WHEN synthesized THEN the table name and the secret name are outputs', () => {
    const built = buildStage();
    built.dataTemplate.hasOutput('TableName', {
      Value: { Ref: logicalId(built.data, built.data.table.node.defaultChild as CfnElement) },
    });
    built.dataTemplate.hasOutput('WebhookSecretName', { Value: Match.anyValue() });
    built.dataTemplate.hasOutput('StripeWebhookSecretName', { Value: Match.anyValue() });
    built.dataTemplate.hasOutput('AdyenHmacKeyName', { Value: Match.anyValue() });
  });
});
