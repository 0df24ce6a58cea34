// The API stack: a function and an integration per route, the throttled and logged stage, buyer identity,
// concurrency isolation, the schedule, the alarms and the dashboard.

import type { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FunctionId } from '../../infra/api-stack.ts';
import { routes, sweeper } from '../../infra/routes.ts';
import { SERVICE_NAME, SHOPPER_FUNCTIONS } from '../../infra/stage.ts';
import { METRICS_NAMESPACE, Metric } from '../../shared/metric-names.ts';
import {
  type BuiltStage,
  buildStage,
  type CfnResource,
  environmentOf,
  functionLogicalId,
  logGroupLogicalId,
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
    expect(routeKeys).toContain('POST /api/payments/stripe/webhook');
    expect(routeKeys).toContain('POST /api/payments/adyen/webhook');
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

  it('GIVEN no jwtIssuer WHEN synthesized THEN the admin route needs IAM (SigV4) authorization and every other route none', () => {
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

describe('buyer identity (jwtIssuer)', () => {
  const issuer = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example';
  const buyerRoutes = routes.filter((route) => 'identity' in route && route.identity === 'buyer');
  const routeResource = (built: BuiltStage, route: (typeof routes)[number]) =>
    resourcesOfType(built, 'AWS::ApiGatewayV2::Route').find(
      ([, resource]) => resource.Properties.RouteKey === `${route.method} ${route.path}`,
    )?.[1];

  it('GIVEN the route table WHEN read THEN the buyer routes are create-hold, create-order and get-order', () => {
    expect(buyerRoutes.map((route) => route.id).sort()).toEqual(['create-hold', 'create-order', 'get-order']);
  });

  it('GIVEN jwtIssuer and two audiences WHEN synthesized THEN one JWT authorizer reads the Authorization header for them', () => {
    const built = buildStage({ context: { jwtIssuer: issuer, jwtAudience: 'web-client, app-client' } });
    built.apiTemplate.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    built.apiTemplate.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: issuer, Audience: ['web-client', 'app-client'] },
    });
  });

  it('GIVEN jwtIssuer WHEN synthesized THEN exactly the buyer routes use the JWT authorizer; admin keeps IAM, the rest none', () => {
    const built = buildStage({ context: { jwtIssuer: issuer, jwtAudience: ['web-client'] } });
    const [[authorizerId] = ['']] = resourcesOfType(built, 'AWS::ApiGatewayV2::Authorizer');
    for (const route of routes) {
      const properties = routeResource(built, route)?.Properties;
      if (buyerRoutes.includes(route)) {
        expect(properties, route.id).toMatchObject({
          AuthorizationType: 'JWT',
          AuthorizerId: { Ref: authorizerId },
        });
      } else {
        expect(properties?.AuthorizationType, route.id).toBe(route.auth === 'iam' ? 'AWS_IAM' : 'NONE');
        expect(properties?.AuthorizerId, route.id).toBeUndefined();
      }
    }
  });

  it('GIVEN jwtIssuer WHEN synthesized THEN every function (put-product too) gets JWT_ISSUER and the audiences comma-separated', () => {
    const built = buildStage({ context: { jwtIssuer: issuer, jwtAudience: 'web-client,app-client' } });
    for (const id of functionIds) {
      expect(environmentOf(built, id), id).toMatchObject({
        JWT_ISSUER: issuer,
        JWT_AUDIENCE: 'web-client,app-client',
      });
    }
  });

  it.each(['dev', 'prod'])(
    'GIVEN stage %s without jwtIssuer WHEN synthesized THEN no authorizer but IAM, and no JWT variable anywhere',
    (stage) => {
      const built = buildStage({ stage });
      built.apiTemplate.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 0);
      for (const route of buyerRoutes) {
        expect(routeResource(built, route)?.Properties.AuthorizationType, route.id).toBe('NONE');
      }
      for (const id of functionIds) {
        const names = Object.keys(environmentOf(built, id));
        expect(
          names.filter((name) => name.startsWith('JWT_')),
          id,
        ).toEqual([]);
      }
    },
  );
});

describe('functions', () => {
  let built: BuiltStage;
  beforeAll(() => {
    built = buildStage();
  });

  const fn = (id: FunctionId) => resourceOf(built.apiTemplate, functionLogicalId(built, id));
  const env = (id: FunctionId) => environmentOf(built, id);

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
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'DEBUG',
        // Declared for `sam local` to override; empty means unset (the cloud talks to DynamoDB itself).
        DYNAMODB_ENDPOINT: '',
      });
      // Source maps ship with the bundle but are not loaded at run time (README, "Bundle size, cold start").
      expect(variables.NODE_OPTIONS).toBeUndefined();
      expect(published(built, variables.TABLE_NAME)).toEqual({
        Ref: logicalId(built.data, built.data.table.node.defaultChild as CfnElement),
      });
    },
  );

  it.each([
    ['payment-webhook', 'webhook', 'WEBHOOK_SECRET_ID', 'WEBHOOK_SECRET'],
    ['stripe-webhook', 'stripe', 'STRIPE_WEBHOOK_SECRET_ID', 'STRIPE_WEBHOOK_SECRET'],
    ['adyen-webhook', 'adyen', 'ADYEN_HMAC_KEY_ID', 'ADYEN_HMAC_KEY'],
  ] as const)(
    'GIVEN the %s secret WHEN environments are read THEN only %s gets %s, as the ARN',
    (owner, source, idVariable, valueVariable) => {
      const secretId = logicalId(
        built.data,
        built.data.signingSecrets[source].node.defaultChild as CfnElement,
      );
      for (const id of functionIds) {
        const variables = env(id);
        if (id === owner) {
          // `Ref` of a secret is its ARN; a value would be a literal or a {{resolve:secretsmanager:...}} string.
          expect(published(built, variables[idVariable])).toEqual({ Ref: secretId });
          // Declared empty, only for `sam local` to put a local secret in.
          expect(variables[valueVariable]).toBe('');
        } else {
          expect(variables[idVariable], id).toBeUndefined();
          expect(variables[valueVariable], id).toBeUndefined();
        }
      }
      expect(JSON.stringify(built.apiTemplate.toJSON())).not.toContain('resolve:secretsmanager');
    },
  );

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

  it.each(['dev', 'prod'])(
    'GIVEN stage %s WHEN synthesized THEN every function has a stable name and logs to its data-stack group /aws/lambda/<name>',
    (stage) => {
      const staged = buildStage({ stage });
      for (const id of functionIds) {
        const properties = resourceOf(staged.apiTemplate, functionLogicalId(staged, id)).Properties;
        expect(properties.FunctionName).toBe(`${SERVICE_NAME}-${stage}-${id}`);
        const group = published(staged, (properties.LoggingConfig as { LogGroup: unknown }).LogGroup);
        expect(group, id).toEqual({ Ref: logGroupLogicalId(staged, id) });
        expect(resourceOf(staged.dataTemplate, logGroupLogicalId(staged, id)).Properties.LogGroupName).toBe(
          `/aws/lambda/${properties.FunctionName}`,
        );
      }
    },
  );
});

describe('concurrency', () => {
  const reserved = (built: BuiltStage) =>
    Object.fromEntries(
      functionIds.map((id) => [
        id,
        resourceOf(built.apiTemplate, functionLogicalId(built, id)).Properties.ReservedConcurrentExecutions,
      ]),
    );

  it('GIVEN prod with the default settings WHEN synthesized THEN webhook 20, sweeper 2, each shopper function 100, the rest none', () => {
    expect(reserved(buildStage({ stage: 'prod' }))).toEqual({
      health: undefined,
      'put-product': undefined,
      'payment-webhook': 20,
      'expire-holds': 2,
      'get-product': 100,
      'create-hold': 100,
      'create-order': 100,
      'get-order': 100,
    });
    expect([...SHOPPER_FUNCTIONS].sort()).toEqual([
      'create-hold',
      'create-order',
      'get-order',
      'get-product',
    ]);
  });

  it('GIVEN prod defaults WHEN the reservations are added up THEN at least 100 of the default 1,000 stay unreserved', () => {
    const total = Object.values(reserved(buildStage({ stage: 'prod' }))).reduce<number>(
      (sum, value) => sum + (typeof value === 'number' ? value : 0),
      0,
    );
    expect(total).toBe(422);
    expect(1000 - total).toBeGreaterThanOrEqual(100);
  });

  it('GIVEN dev (cdk.json sets 0) WHEN synthesized THEN no function reserves anything (deploys on low-quota accounts)', () => {
    expect(
      Object.values(reserved(buildStage({ stage: 'dev' }))).filter((value) => value !== undefined),
    ).toEqual([]);
  });

  it('GIVEN -c webhookReservedConcurrency=0 -c shopperReservedConcurrency=40 WHEN synthesized THEN the webhook reserves none, shoppers 40', () => {
    const built = buildStage({
      stage: 'prod',
      context: { webhookReservedConcurrency: '0', shopperReservedConcurrency: '40' },
    });
    expect(reserved(built)).toMatchObject({
      'payment-webhook': undefined,
      'expire-holds': 2,
      'create-hold': 40,
      'get-product': 40,
    });
  });
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

  it('GIVEN the stage WHEN synthesized THEN it writes JSON access logs to the data stack access log group', () => {
    const built = buildStage();
    const [[, stage] = ['', undefined]] = resourcesOfType(built, 'AWS::ApiGatewayV2::Stage');
    const settings = stage?.Properties.AccessLogSettings as { DestinationArn: unknown; Format: string };
    const accessLogs = logicalId(built.data, built.data.apiAccessLogs.node.defaultChild as CfnElement);
    expect(published(built, settings.DestinationArn)).toEqual({ 'Fn::GetAtt': [accessLogs, 'Arn'] });
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

  it('GIVEN CORS origins WHEN synthesized THEN browsers may send a bearer token and read Retry-After', () => {
    const built = buildStage({ context: { corsAllowOrigins: 'https://shop.example.com' } });
    built.apiTemplate.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: {
        AllowHeaders: Match.arrayWith(['authorization', 'content-type', 'idempotency-key']),
        ExposeHeaders: ['retry-after'],
      },
    });
  });

  it('GIVEN the stage WHEN synthesized THEN ApiUrl is the API endpoint, without a trailing slash', () => {
    const built = buildStage();
    const value = templateJson(built.apiTemplate).Outputs?.ApiUrl?.Value;
    // ApiEndpoint is `https://<id>.execute-api.<region>.amazonaws.com`; the $default stage's url adds a `/`, and
    // the README's `$API/api/health` would then ask for `//api/health`.
    expect(value).toEqual({ 'Fn::GetAtt': [idOf(built, built.api.httpApi), 'ApiEndpoint'] });
    expect(JSON.stringify(value)).not.toMatch(/\/"\]/);
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

  /** The alarm whose math reads exactly these metrics, by id. */
  const mathAlarm = (ids: string[]) =>
    alarms().find(
      (alarm) =>
        JSON.stringify(
          ((alarm.Metrics ?? []) as { Id: string; MetricStat?: unknown }[])
            .filter((query) => query.MetricStat)
            .map((query) => query.Id)
            .sort(),
        ) === JSON.stringify([...ids].sort()),
    );
  const queries = (alarm: Record<string, unknown> | undefined) =>
    Object.fromEntries(
      ((alarm?.Metrics ?? []) as { Id: string; Expression?: string; MetricStat?: { Metric: unknown } }[]).map(
        (query) => [query.Id, query.Expression ?? query.MetricStat?.Metric],
      ),
    );

  it('GIVEN the API WHEN synthesized THEN the 5xx-rate alarm takes our 503s (ServiceUnavailable) out of 5xx, over Count', () => {
    const apiDimension = [{ Name: 'ApiId', Value: { Ref: idOf(built, built.api.httpApi) } }];
    const alarm = mathAlarm(['errors', 'requests', 'shed']);
    expect(alarm?.Threshold).toBe(1);
    expect(queries(alarm)).toEqual({
      expr_1: 'IF(requests > 0, 100 * (errors - FILL(shed, 0)) / requests, 0)',
      errors: { Namespace: 'AWS/ApiGateway', MetricName: '5xx', Dimensions: apiDimension },
      requests: { Namespace: 'AWS/ApiGateway', MetricName: 'Count', Dimensions: apiDimension },
      shed: {
        Namespace: METRICS_NAMESPACE,
        MetricName: Metric.ServiceUnavailable,
        Dimensions: [{ Name: 'service', Value: SERVICE_NAME }],
      },
    });
  });

  it('GIVEN the API WHEN synthesized THEN a separate alarm fires above 5% of answers being our 503', () => {
    const alarm = mathAlarm(['requests', 'shed']);
    expect(alarm).toMatchObject({ Threshold: 5, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    expect(queries(alarm).expr_1).toBe('IF(requests > 0, 100 * FILL(shed, 0) / requests, 0)');
  });

  it.each([
    // Money taken for units already given back: each one needs a refund by hand.
    ['a payment that needs a refund', Metric.PaymentsRefundRequired, 60, 1],
    // A provider's success whose amount or currency is not the order's total: each one needs a person.
    ["a provider's amount that is not the order's total", Metric.PaymentAmountMismatches, 60, 1],
    // Forgeries, probes, or a secret rotated at the provider but not here: a stray probe does not page.
    ['provider signatures refused', Metric.ProviderSignaturesRejected, 300, 5],
  ] as const)(
    'GIVEN %s (%s) WHEN %i s count at least %i THEN an alarm fires',
    (_, metricName, period, threshold) => {
      built.apiTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: METRICS_NAMESPACE,
        MetricName: metricName,
        Dimensions: [{ Name: 'service', Value: SERVICE_NAME }],
        Statistic: 'Sum',
        Period: period,
        Threshold: threshold,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    },
  );

  it('GIVEN the sweeper WHEN the oldest unswept item is over 180 s overdue for 3 minutes, or it reports nothing, THEN an alarm fires', () => {
    built.apiTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: Metric.SweepOldestOverdueSeconds,
      Dimensions: [{ Name: 'service', Value: SERVICE_NAME }],
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 180,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'breaching',
    });
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
    // 5xx rate, 503 rate, errors and throttles per function, table throttles and system errors, DLQ, refunds,
    // provider signatures, amount mismatches, sweep.
    expect(alarms()).toHaveLength(2 + 2 * functionIds.length + 2 + 1 + 1 + 2 + 1);
    for (const alarm of alarms()) {
      expect(alarm.AlarmActions).toEqual([topic]);
      expect(alarm.OKActions).toEqual([topic]);
    }
  });

  it('GIVEN the alarm topic WHEN its policy is read THEN CloudWatch alarms of this account may publish, and only over TLS', () => {
    const topic = { Ref: idOf(built, built.api.alarmTopic) };
    built.apiTemplate.resourceCountIs('AWS::SNS::TopicPolicy', 1);
    built.apiTemplate.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [topic],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: topic,
            Condition: {
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              ArnLike: {
                'aws:SourceArn': {
                  'Fn::Join': [
                    '',
                    [
                      'arn:',
                      { Ref: 'AWS::Partition' },
                      ':cloudwatch:',
                      { Ref: 'AWS::Region' },
                      ':',
                      { Ref: 'AWS::AccountId' },
                      ':alarm:*',
                    ],
                  ],
                },
              },
            },
          }),
        ]),
      },
    });
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

describe('dashboard', () => {
  type MetricRow = [string, string, ...unknown[]];
  let built: BuiltStage;
  let rows: MetricRow[];
  beforeAll(() => {
    built = buildStage({ stage: 'prod' });
    const [[, dashboard] = ['', { Type: '', Properties: {} }]] = resourcesOfType(
      built,
      'AWS::CloudWatch::Dashboard',
    );
    // The body is JSON with references spliced in; a placeholder for each gives JSON to read.
    const body = (dashboard.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1]
      .map((part) => (typeof part === 'string' ? part : 'REF'))
      .join('');
    const widgets = (JSON.parse(body) as { widgets: { properties: { metrics?: unknown[][] } }[] }).widgets;
    rows = widgets
      .flatMap((widget) => widget.properties.metrics ?? [])
      .filter((row): row is MetricRow => typeof row[0] === 'string');
  });
  const has = (namespace: string, name: string, dimension?: [string, unknown]) =>
    rows.some(
      (row) =>
        row[0] === namespace &&
        row[1] === name &&
        (!dimension || (row[2] === dimension[0] && row[3] === dimension[1])),
    );

  it('GIVEN the stage WHEN synthesized THEN one dashboard is named after the service and stage', () => {
    built.apiTemplate.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    built.apiTemplate.hasResourceProperties('AWS::CloudWatch::Dashboard', {
      DashboardName: 'flash-sale-checkout-prod',
    });
  });

  it.each([
    Metric.HoldsGranted,
    Metric.HoldsRefusedSoldOut,
    Metric.HoldsRefusedCustomerLimit,
    Metric.HoldsReclaimed,
    Metric.HoldsExpired,
    Metric.OrdersCreated,
    Metric.OrdersExpired,
    Metric.PaymentsApplied,
    Metric.PaymentsParked,
    Metric.PaymentsRefundRequired,
    Metric.ProviderSignaturesRejected,
    Metric.PaymentAmountMismatches,
    Metric.PaymentsDeclined,
    Metric.ServiceUnavailable,
    Metric.ContentionRetries,
    Metric.SweepDurationMs,
    Metric.SweepBacklog,
    Metric.SweepOldestOverdueSeconds,
  ])('GIVEN the dashboard WHEN read THEN it graphs %s by its one dimension', (name) => {
    expect(has(METRICS_NAMESPACE, name, ['service', SERVICE_NAME])).toBe(true);
  });

  it('GIVEN the dashboard WHEN read THEN it graphs API 4xx/5xx/count and p99 latency, table throttles and DLQ depth', () => {
    for (const name of ['Count', '4xx', '5xx', 'Latency', 'IntegrationLatency']) {
      expect(has('AWS/ApiGateway', name, ['ApiId', 'REF']), name).toBe(true);
    }
    const latency = rows.find((row) => row[1] === 'Latency');
    expect(latency?.at(-1)).toMatchObject({ stat: 'p99' });
    expect(has('AWS/DynamoDB', 'ThrottledRequests')).toBe(true);
    expect(has('AWS/DynamoDB', 'SystemErrors')).toBe(true);
    expect(has('AWS/SQS', 'ApproximateNumberOfMessagesVisible')).toBe(true);
  });

  it.each(['Errors', 'Throttles', 'ConcurrentExecutions'])(
    'GIVEN the dashboard WHEN read THEN it graphs Lambda %s for every function',
    (name) => {
      const labels = rows
        .filter((row) => row[0] === 'AWS/Lambda' && row[1] === name)
        .map((row) => (row.at(-1) as { label?: string }).label);
      expect(labels.sort()).toEqual([...functionIds].sort());
    },
  );
});
