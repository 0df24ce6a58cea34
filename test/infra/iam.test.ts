// Least privilege: each function's role holds exactly what its code sends, and nothing holds a wildcard action.
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FunctionId } from '../../infra/api-stack.ts';
import { routes, sweeper } from '../../infra/routes.ts';
import { type BuiltStage, buildStage, permissionsOf, templateJson } from './fixture.ts';

const logs = ['logs:CreateLogStream on own log group', 'logs:PutLogEvents on own log group'];
const tracing = ['xray:PutTelemetryRecords on *', 'xray:PutTraceSegments on *'];
const read = ['dynamodb:GetItem on table', 'dynamodb:Query on table'];
const write = [
  ...read,
  'dynamodb:PutItem on table',
  'dynamodb:UpdateItem on table',
  'dynamodb:ConditionCheckItem on table',
];
// Powertools idempotency deletes its in-progress record when the handler fails; a lease is deleted when given back.
const idempotency = ['dynamodb:DeleteItem on table'];
const leases = ['dynamodb:DeleteItem on table'];
// The per-process stock view reads a product's buckets in one BatchGetItem.
const stockView = ['dynamodb:BatchGetItem on table'];

const expected: Record<FunctionId, string[]> = {
  // Liveness only: touches no table, so it may not read one.
  health: [...logs, ...tracing],
  'get-product': [...read, ...stockView, ...logs, ...tracing],
  'get-order': [...read, ...logs, ...tracing],
  'put-product': [...write, ...stockView, ...logs, ...tracing],
  'create-order': [...write, ...logs, ...tracing],
  'create-hold': [
    ...write,
    ...idempotency,
    ...stockView,
    'dynamodb:Query on index holdsOfProduct',
    ...logs,
    ...tracing,
  ],
  'payment-webhook': [
    ...write,
    ...idempotency,
    'secretsmanager:GetSecretValue on webhook secret',
    ...logs,
    ...tracing,
  ],
  'expire-holds': [
    ...write,
    ...leases,
    'dynamodb:Query on index byDeadline',
    'sqs:SendMessage on sweeper DLQ',
    'sqs:GetQueueAttributes on sweeper DLQ',
    'sqs:GetQueueUrl on sweeper DLQ',
    ...logs,
    ...tracing,
  ],
};

interface PolicyStatementJson {
  Action: string | string[];
  Resource: unknown;
}

/** Every statement of every inline and managed-by-CDK policy in the template. */
function allStatements(built: BuiltStage): PolicyStatementJson[] {
  return [built.dataTemplate, built.apiTemplate].flatMap((template) =>
    Object.values(templateJson(template).Resources).flatMap((resource) => {
      if (resource.Type === 'AWS::IAM::Policy') {
        return (resource.Properties.PolicyDocument as { Statement: PolicyStatementJson[] }).Statement;
      }
      if (resource.Type === 'AWS::IAM::Role') {
        const policies = (resource.Properties.Policies ?? []) as {
          PolicyDocument: { Statement: PolicyStatementJson[] };
        }[];
        return policies.flatMap((policy) => policy.PolicyDocument.Statement);
      }
      return [];
    }),
  );
}

const actionsOf = (statement: PolicyStatementJson) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

describe('function permissions', () => {
  let built: BuiltStage;
  beforeAll(() => {
    built = buildStage({ stage: 'prod' });
  });

  it('GIVEN the route table WHEN the expectations below are read THEN they cover every function, no more', () => {
    expect(Object.keys(expected).sort()).toEqual([...routes.map((route) => route.id), sweeper.id].sort());
  });

  it.each(Object.entries(expected) as [FunctionId, string[]][])(
    'GIVEN %s WHEN its role is read THEN it holds exactly its permissions',
    (id, permissions) => {
      expect([...permissionsOf(built, id)].sort()).toEqual([...permissions].sort());
    },
  );

  it('GIVEN a read route WHEN its role is read THEN it can only GetItem, BatchGetItem and Query the base table', () => {
    const readRoutes = routes.filter((route) => route.access === 'read');
    expect(readRoutes.map((route) => route.id)).toContain('get-product');
    for (const route of readRoutes) {
      const dynamo = [...permissionsOf(built, route.id)].filter((permission) =>
        permission.startsWith('dynamodb:'),
      );
      const reads = ['dynamodb:GetItem on table', 'dynamodb:Query on table'];
      const view = 'readsStockView' in route && route.readsStockView ? stockView : [];
      expect(dynamo.sort(), route.id).toEqual([...view, ...reads].sort());
    }
  });

  it('GIVEN get-product WHEN its inline policy is matched THEN the table statement is reads only and no statement puts', () => {
    built.apiTemplate.hasResourceProperties('AWS::IAM::Role', {
      Description: Match.stringLikeRegexp('^get-product:'),
      Policies: [
        {
          PolicyName: 'access',
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Sid: 'Table',
                Effect: 'Allow',
                Action: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query'],
              }),
            ]),
          },
        },
      ],
    });
    built.apiTemplate.hasResourceProperties('AWS::IAM::Role', {
      Description: Match.stringLikeRegexp('^get-product:'),
      Policies: Match.not(
        Match.arrayWith([
          Match.objectLike({
            PolicyDocument: {
              Statement: Match.arrayWith([
                Match.objectLike({ Action: Match.arrayWith(['dynamodb:PutItem']) }),
              ]),
            },
          }),
        ]),
      ),
    });
  });

  it('GIVEN the webhook secret WHEN every role is read THEN only payment-webhook may read it', () => {
    for (const id of built.api.functions.keys()) {
      const readsSecret = [...permissionsOf(built, id)].some((permission) =>
        permission.startsWith('secretsmanager:'),
      );
      expect(readsSecret, id).toBe(id === 'payment-webhook');
    }
  });

  it('GIVEN every policy in both stacks WHEN actions are read THEN none is a wildcard (no dynamodb:*, no *)', () => {
    const actions = allStatements(built).flatMap(actionsOf);
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((action) => action.includes('*'))).toEqual([]);
  });

  it('GIVEN every policy in both stacks WHEN resources are read THEN only the X-Ray actions use Resource "*"', () => {
    const onAnyResource = allStatements(built)
      .filter(
        (statement) =>
          statement.Resource === '*' ||
          (Array.isArray(statement.Resource) && statement.Resource.includes('*')),
      )
      .flatMap(actionsOf);
    expect([...new Set(onAnyResource)].sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  it('GIVEN the functions WHEN their roles are read THEN no role carries a managed policy', () => {
    const roles = Object.values(templateJson(built.apiTemplate).Resources).filter(
      (resource) => resource.Type === 'AWS::IAM::Role',
    );
    expect(roles).toHaveLength(routes.length + 1);
    for (const role of roles) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });
});
