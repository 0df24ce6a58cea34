// The API stack: a function and an integration per route, the throttled and logged stage, the schedule, the alarms.

import type { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FunctionId } from '../../infra/api-stack.ts';
import { routes, sweeper } from '../../infra/routes.ts';
import {
  type BuiltStage,
  buildStage,
  type CfnResource,
  functionLogicalId,
  logicalId,
  published,
  resourceOf,
  templateJson,
} from './fixture.ts';

const functionIds: FunctionId[] = [...routes.map((route) => route.id), sweeper.id];

const resourcesOfType = (built: BuiltStage, type: string): [string, CfnResource][] =>
  Object.entries(templateJson(built.apiTemplate).Resources).filter(([, resource]) => resource.Type === type);

const idOf = (built: BuiltStage, element: { node: { defaultChild?: unknown } }) =>
  logicalId(built.api, element.node.defaultChild as CfnElement);

describe('routes and integrations', () => {
  let built: BuiltStage;
  beforeAll(() => {
    built = buildStage();
  });

  it('GIVEN the route table WHEN the API is synthesized THEN it has exactly those route keys', () => {
    const routeKeys = resourcesOfType(built, 'AWS::ApiGatewayV2::Route').map(
      ([, route]) => route.Properties.RouteKey,
    );
    expect(routeKeys.sort()).toEqual(routes.map((route) => `${route.method} ${route.path}`).sort());
    expect(routeKeys).toContain('GET /api/health');
    expect(routeKeys).toContain('POST /api/payments/webhook');
  });

  it.each(routes.map((route) => [`${route.method} ${route.path}`, route] as const))(
    'GIVEN %s WHEN its integration is followed THEN it invokes its own function with payload 2.0',
    (routeKey, route) => {
      const [, routeResource] = resourcesOfType(built, 'AWS::ApiGatewayV2::Route').find(
        ([, resource]) => resource.Properties.RouteKey === routeKey,
      ) ?? [undefined, undefined];
      const target = routeResource?.Properties.Target as { 'Fn::Join': [string, [string, { Ref: string }]] };
      const integration = resourceOf(built.apiTemplate, target['Fn::Join'][1][1].Ref);
      expect(integration.Properties).toMatchObject({
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
        IntegrationUri: { 'Fn::GetAtt': [functionLogicalId(built, route.id), 'Arn'] },
      });
    },
  );

  it('GIVEN the route table WHEN counted THEN one integration per route and one function per route plus the sweeper', () => {
    built.apiTemplate.resourceCountIs('AWS::ApiGatewayV2::Integration', routes.length);
    built.apiTemplate.resourceCountIs('AWS::Lambda::Function', routes.length + 1);
    const targets = resourcesOfType(built, 'AWS::ApiGatewayV2::Integration').map(
      ([, integration]) =>
        (integration.Properties.IntegrationUri as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0],
    );
    expect(new Set(targets).size).toBe(routes.length);
  });

  it('GIVEN the admin route WHEN synthesized THEN it needs IAM (SigV4) authorization and every other route none', () => {
    built.apiTemplate.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'PUT /api/admin/products/{id}',
      AuthorizationType: 'AWS_IAM',
    });
    for (const route of routes) {
      built.apiTemplate.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: `${route.method} ${route.path}`,
        AuthorizationType: route.auth === 'iam' ? 'AWS_IAM' : 'NONE',
      });
    }
  });
});

describe('functions', () => {
  let built: BuiltStage;
  beforeAll(() => {
    built = buildStage();
  });

  const fn = (id: FunctionId) => resourceOf(built.apiTemplate, functionLogicalId(built, id));
  const env = (id: FunctionId) =>
    (fn(id).Properties.Environment as { Variables: Record<string, unknown> }).Variables;

  it.each(functionIds)(
    'GIVEN %s WHEN synthesized THEN it runs Node.js >= 22 on arm64 with active tracing',
    (id) => {
      const properties = fn(id).Properties;
      const major = Number(/^nodejs(\d+)\.x$/.exec(String(properties.Runtime))?.[1]);
      expect(major).toBeGreaterThanOrEqual(22);
      expect(properties).toMatchObject({
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        Handler: 'index.handler',
        MemorySize: 512,
        Timeout: id === sweeper.id ? 60 : 10,
      });
    },
  );

  it.each(functionIds)(
    'GIVEN %s WHEN synthesized THEN its environment carries the table and the settings',
    (id) => {
      const variables = env(id);
      expect(variables).toMatchObject({
        HOLD_TTL_SECONDS: '120',
        MAX_QTY_PER_HOLD: '10',
        PAYMENT_WINDOW_SECONDS: '900',
        POWERTOOLS_SERVICE_NAME: 'flash-sale-checkout',
        POWERTOOLS_LOG_LEVEL: 'DEBUG',
        NODE_OPTIONS: expect.stringContaining('--enable-source-maps'),
      });
      expect(published(built, variables.TABLE_NAME)).toEqual({
        Ref: logicalId(built.data, built.data.table.node.defaultChild as CfnElement),
      });
    },
  );

  it('GIVEN the webhook secret WHEN environments are read THEN only payment-webhook gets WEBHOOK_SECRET_ID, as the ARN', () => {
    const secretId = logicalId(built.data, built.data.webhookSecret.node.defaultChild as CfnElement);
    for (const id of functionIds) {
      const variables = env(id);
      if (id === 'payment-webhook') {
        // `Ref` of a secret is its ARN; a value would be a literal or a {{resolve:secretsmanager:...}} string.
        expect(published(built, variables.WEBHOOK_SECRET_ID)).toEqual({ Ref: secretId });
      } else {
        expect(variables.WEBHOOK_SECRET_ID, id).toBeUndefined();
      }
    }
    expect(JSON.stringify(built.apiTemplate.toJSON())).not.toContain('resolve:secretsmanager');
  });

  it('GIVEN stage settings from context WHEN synthesized THEN the environment follows them', () => {
    const tuned = buildStage({ context: { holdTtlSeconds: '300', maxQtyPerHold: 2, logLevel: 'WARN' } });
    const variables = (
      resourceOf(tuned.apiTemplate, functionLogicalId(tuned, 'create-hold')).Properties.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    expect(variables).toMatchObject({
      HOLD_TTL_SECONDS: '300',
      MAX_QTY_PER_HOLD: '2',
      POWERTOOLS_LOG_LEVEL: 'WARN',
    });
  });

  it.each([
    ['dev', 7],
    ['prod', 90],
  ] as const)(
    'GIVEN stage %s WHEN synthesized THEN every function logs to its own group kept %i days',
    (stage, days) => {
      const staged = buildStage({ stage });
      const groups = functionIds.map(
        (id) =>
          (
            resourceOf(staged.apiTemplate, functionLogicalId(staged, id)).Properties.LoggingConfig as {
              LogGroup: { Ref: string };
            }
          ).LogGroup.Ref,
      );
      expect(new Set(groups).size).toBe(functionIds.length);
      for (const group of groups) {
        const logGroup = resourceOf(staged.apiTemplate, group);
        expect(logGroup.Type).toBe('AWS::Logs::LogGroup');
        expect(logGroup.Properties.RetentionInDays).toBe(days);
      }
    },
  );
});

describe('the $default stage', () => {
  it('GIVEN dev defaults WHEN synthesized THEN the stage throttles at 50 rps with bursts of 100', () => {
    buildStage().apiTemplate.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
    });
  });

  it('GIVEN prod (cdk.json) and a context override WHEN synthesized THEN the throttling follows them', () => {
    buildStage({ stage: 'prod' }).apiTemplate.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 },
    });
    buildStage({
      stage: 'prod',
      context: { throttleRateLimit: '7', throttleBurstLimit: '9' },
    }).apiTemplate.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 7, ThrottlingBurstLimit: 9 },
    });
  });

  it('GIVEN the stage WHEN synthesized THEN it writes JSON access logs to a log group', () => {
    const built = buildStage();
    const [[, stage] = ['', undefined]] = resourcesOfType(built, 'AWS::ApiGatewayV2::Stage');
    const settings = stage?.Properties.AccessLogSettings as {
      DestinationArn: { 'Fn::GetAtt': [string, string] };
      Format: string;
    };
    expect(resourceOf(built.apiTemplate, settings.DestinationArn['Fn::GetAtt'][0]).Type).toBe(
      'AWS::Logs::LogGroup',
    );
    expect(JSON.parse(settings.Format)).toMatchObject({
      requestId: '$context.requestId',
      routeKey: '$context.routeKey',
      status: '$context.status',
      integrationError: '$context.integrationErrorMessage',
    });
  });

  it('GIVEN no CORS origins WHEN synthesized THEN the API answers no preflight', () => {
    const built = buildStage({ stage: 'prod' });
    built.apiTemplate.hasResourceProperties('AWS::ApiGatewayV2::Api', { CorsConfiguration: Match.absent() });
  });

  it('GIVEN CORS origins in context WHEN synthesized THEN exactly those origins and the route methods are allowed', () => {
    const built = buildStage({ context: { corsAllowOrigins: 'https://shop.example.com' } });
    built.apiTemplate.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: {
        AllowOrigins: ['https://shop.example.com'],
        AllowMethods: Match.arrayEquals(['GET', 'PUT', 'POST']),
      },
    });
  });

  it('GIVEN the stage WHEN synthesized THEN the API URL is an output', () => {
    const built = buildStage();
    built.apiTemplate.hasOutput('ApiUrl', {
      Value: { 'Fn::Join': ['', Match.arrayWith(['https://', { Ref: idOf(built, built.api.httpApi) }])] },
    });
  });
});

describe('sweep schedule', () => {
  let built: BuiltStage;
  beforeAll(() => {
    built = buildStage();
  });

  it('GIVEN the sweeper definition WHEN synthesized THEN a rule runs it every minute with retries and a DLQ', () => {
    expect(sweeper.schedule).toBe('rate(1 minute)');
    built.apiTemplate.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: sweeper.schedule,
      State: 'ENABLED',
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [functionLogicalId(built, sweeper.id), 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 120 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [idOf(built, built.api.sweeperDeadLetterQueue), 'Arn'] } },
        },
      ],
    });
  });

  it('GIVEN a sweep that fails WHEN Lambda gives up THEN it goes to the same DLQ without Lambda retries', () => {
    built.apiTemplate.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: functionLogicalId(built, sweeper.id) },
      MaximumRetryAttempts: 0,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [idOf(built, built.api.sweeperDeadLetterQueue), 'Arn'] } },
      },
    });
  });

  it('GIVEN the DLQ WHEN synthesized THEN it is encrypted and refuses non-TLS access', () => {
    const queueId = idOf(built, built.api.sweeperDeadLetterQueue);
    expect(resourceOf(built.apiTemplate, queueId).Properties).toMatchObject({ SqsManagedSseEnabled: true });
    built.apiTemplate.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('alarms', () => {
  let built: BuiltStage;
  beforeAll(() => {
    built = buildStage();
  });

  const alarms = () => resourcesOfType(built, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
  const metricStats = (alarm: Record<string, unknown>) =>
    (
      (alarm.Metrics ?? []) as {
        MetricStat?: { Metric: { MetricName: string; Namespace: string; Dimensions: unknown[] } };
      }[]
    ).flatMap((query) => (query.MetricStat ? [query.MetricStat.Metric] : []));

  it('GIVEN every function WHEN synthesized THEN each has an Errors and a Throttles alarm on its own name', () => {
    for (const id of functionIds) {
      for (const metric of ['Errors', 'Throttles']) {
        built.apiTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/Lambda',
          MetricName: metric,
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionLogicalId(built, id) } }],
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        });
      }
    }
  });

  it('GIVEN the API WHEN synthesized THEN a 5xx-rate alarm divides 5xx by Count for this API', () => {
    const apiId = idOf(built, built.api.httpApi);
    const rate = alarms().find((alarm) => metricStats(alarm).some((metric) => metric.MetricName === '5xx'));
    expect(rate).toBeDefined();
    const metrics = metricStats(rate ?? {});
    expect(metrics.map((metric) => metric.MetricName).sort()).toEqual(['5xx', 'Count']);
    for (const metric of metrics) {
      expect(metric.Namespace).toBe('AWS/ApiGateway');
      expect(metric.Dimensions).toEqual([{ Name: 'ApiId', Value: { Ref: apiId } }]);
    }
  });

  it.each(['ThrottledRequests', 'SystemErrors'])(
    'GIVEN the table WHEN synthesized THEN a %s alarm watches it across operations',
    (metricName) => {
      const tableRef = { Ref: logicalId(built.data, built.data.table.node.defaultChild as CfnElement) };
      const alarm = alarms().find((candidate) =>
        metricStats(candidate).some((metric) => metric.MetricName === metricName),
      );
      const metrics = metricStats(alarm ?? {});
      const operations = metrics.map(
        (metric) =>
          (metric.Dimensions as { Name: string; Value: unknown }[]).find((d) => d.Name === 'Operation')
            ?.Value,
      );
      expect(operations.sort()).toEqual(
        [
          'BatchGetItem',
          'DeleteItem',
          'GetItem',
          'PutItem',
          'Query',
          'TransactWriteItems',
          'UpdateItem',
        ].sort(),
      );
      for (const metric of metrics) {
        expect(metric.Namespace).toBe('AWS/DynamoDB');
        const table = (metric.Dimensions as { Name: string; Value: unknown }[]).find(
          (d) => d.Name === 'TableName',
        );
        expect(published(built, table?.Value)).toEqual(tableRef);
      }
    },
  );

  it('GIVEN the sweeper DLQ WHEN synthesized THEN any visible message raises an alarm', () => {
    built.apiTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [idOf(built, built.api.sweeperDeadLetterQueue), 'QueueName'] },
        },
      ],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('GIVEN all alarms WHEN counted THEN each notifies the alarm topic (and when it clears)', () => {
    const topic = { Ref: idOf(built, built.api.alarmTopic) };
    expect(alarms()).toHaveLength(1 + 2 * functionIds.length + 2 + 1);
    for (const alarm of alarms()) {
      expect(alarm.AlarmActions).toEqual([topic]);
      expect(alarm.OKActions).toEqual([topic]);
    }
  });

  it('GIVEN alarmEmail in context WHEN synthesized THEN the topic mails it; without it no subscription exists', () => {
    built.apiTemplate.resourceCountIs('AWS::SNS::Subscription', 0);
    const mailed = buildStage({ context: { alarmEmail: 'oncall@example.com' } });
    mailed.apiTemplate.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: { Ref: idOf(mailed, mailed.api.alarmTopic) },
    });
  });
});
