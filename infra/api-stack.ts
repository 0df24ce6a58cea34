// Stateless stack: one function per route (plus the sweeper), the HTTP API, the sweep schedule, alarms and dashboard.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArnFormat, CfnOutput, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  CorsHttpMethod,
  type CorsPreflightOptions,
  HttpApi,
  HttpMethod,
  HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
  PayloadFormatVersion,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { type ITable, Operation } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyDocument, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { table as tableDefinition } from '../shared/db/table.ts';
import {
  METRICS_NAMESPACE,
  Metric as MetricName,
  type MetricName as MetricNameType,
} from '../shared/metric-names.ts';
import { BUNDLING } from './bundling.ts';
import { type Access, type IndexName, routes, sweeper } from './routes.ts';
import { type SigningSecret, signingSecrets } from './signing-secrets.ts';
import { functionNameOf, pascalCase, SERVICE_NAME, SHOPPER_FUNCTIONS, type StageSettings } from './stage.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export type FunctionId = (typeof routes)[number]['id'] | typeof sweeper.id;

// TransactWriteItems has no IAM action of its own: it is authorised per contained Put/Update/ConditionCheck. Each
// action below is one the function's code sends (test/infra/iam.test.ts reads it from the bundled code both ways:
// no call without its grant, no grant without a call).
const TABLE_ACTIONS: Record<Access, readonly string[]> = {
  none: [],
  // Consistent GetItem by key. A query always names an index (`queries`), never the base table.
  read: ['dynamodb:GetItem'],
  // No DeleteItem: the domain never deletes (settled items carry the TTL attribute and DynamoDB removes them);
  // only a lease is deleted when given back (`takesLeases`).
  write: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
};

/** Powertools idempotency records: read, conditional put, update on completion, delete when the handler fails. */
const IDEMPOTENCY_ACTIONS = [
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
];

/** The operations the functions send; the table's throttling and system-error alarms sum over them. */
const TABLE_OPERATIONS = [
  Operation.GET_ITEM,
  Operation.BATCH_GET_ITEM,
  Operation.QUERY,
  Operation.PUT_ITEM,
  Operation.UPDATE_ITEM,
  Operation.DELETE_ITEM,
  Operation.TRANSACT_WRITE_ITEMS,
];

const RUNTIME = Runtime.NODEJS_24_X;

interface FunctionSpec {
  readonly id: FunctionId;
  readonly entry: string;
  readonly access: Access;
  readonly description: string;
  readonly timeout: Duration;
  readonly idempotent?: boolean;
  readonly signingSecret?: SigningSecret;
  /** From the route table; a function without it reads the base table only and gets no index ARN at all. */
  readonly queries?: readonly IndexName[];
  readonly readsStockView?: boolean;
  readonly takesLeases?: boolean;
  readonly checksConditions?: boolean;
}

export interface ApiStackProps extends StackProps {
  readonly settings: StageSettings;
  readonly table: ITable;
  /** Per source, the secret its payment route verifies signatures with (owned by the data stack). */
  readonly signingSecrets: Readonly<Record<SigningSecret, ISecret>>;
  /** Each function's log group (owned by the data stack: stable names, kept with the data). */
  readonly logGroups: ReadonlyMap<FunctionId, ILogGroup>;
  readonly apiAccessLogs: ILogGroup;
}

/** A business or health metric the functions emit (EMF, shared/metric-names.ts), by its one dimension. */
const emitted = (metricName: MetricNameType, statistic = 'Sum', period = Duration.minutes(1)) =>
  new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: SERVICE_NAME },
    statistic,
    period,
  });

interface AlarmOptions {
  readonly threshold?: number;
  readonly comparisonOperator?: ComparisonOperator;
  readonly evaluationPeriods?: number;
  readonly datapointsToAlarm?: number;
  readonly treatMissingData?: TreatMissingData;
}

export class ApiStack extends Stack {
  readonly functions = new Map<FunctionId, NodejsFunction>();
  readonly httpApi: HttpApi;
  readonly apiStage: HttpStage;
  readonly sweeperDeadLetterQueue: Queue;
  readonly alarmTopic: Topic;
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;
  /** Verifies buyers' bearer tokens on the `identity: 'buyer'` routes; only when the stage sets `jwtIssuer`. */
  readonly buyerAuthorizer?: HttpJwtAuthorizer;

  private readonly settings: StageSettings;
  private readonly table: ITable;
  private readonly signingSecrets: Readonly<Record<SigningSecret, ISecret>>;
  private readonly logGroups: ReadonlyMap<FunctionId, ILogGroup>;
  private readonly apiAccessLogs: ILogGroup;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    const { settings, table, signingSecrets, logGroups, apiAccessLogs, ...stackProps } = props;
    super(scope, id, stackProps);
    this.settings = settings;
    this.table = table;
    this.signingSecrets = signingSecrets;
    this.logGroups = logGroups;
    this.apiAccessLogs = apiAccessLogs;
    if (settings.jwtIssuer) {
      this.buyerAuthorizer = new HttpJwtAuthorizer('BuyerAuthorizer', settings.jwtIssuer, {
        authorizerName: 'buyer-jwt',
        jwtAudience: [...settings.jwtAudience],
        identitySource: ['$request.header.Authorization'],
      });
    }

    for (const route of routes) {
      this.addFunction({
        ...route,
        description: `${route.method} ${route.path}`,
        timeout: Duration.seconds(10),
      });
    }
    const sweeperFn = this.addFunction({
      ...sweeper,
      description: `Sweeper (${sweeper.schedule}): releases expired holds, expires unpaid orders`,
      timeout: Duration.seconds(60),
    });

    const { api, stage } = this.addHttpApi();
    this.httpApi = api;
    this.apiStage = stage;
    this.sweeperDeadLetterQueue = this.addSweepSchedule(sweeperFn);
    this.alarmTopic = this.addAlarmTopic();
    this.addAlarms();
    this.dashboard = this.addDashboard();

    // The endpoint of the $default stage, without the trailing slash `stage.url` has: `$ApiUrl/api/health`.
    new CfnOutput(this, 'ApiUrl', {
      value: this.httpApi.apiEndpoint,
      description: 'Base URL of the HTTP API (no trailing slash)',
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.alarmTopic.topicArn,
      description: 'Alarm notifications',
    });
    new CfnOutput(this, 'DashboardName', {
      value: this.dashboard.dashboardName,
      description: 'CloudWatch dashboard',
    });
  }

  private addFunction(spec: FunctionSpec): NodejsFunction {
    const name = pascalCase(spec.id);
    const logGroup = this.logGroups.get(spec.id);
    if (!logGroup) throw new Error(`No log group for ${spec.id}`);
    const role = new Role(this, `${name}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${spec.id}: least-privilege access to the checkout table`,
      // The explicit grants live in one inline policy; CDK adds X-Ray (and the sweeper's DLQ) to DefaultPolicy.
      inlinePolicies: { access: new PolicyDocument({ statements: this.statementsFor(spec, logGroup) }) },
    });
    const fn = new NodejsFunction(this, `${name}Function`, {
      functionName: functionNameOf(this.settings.stage, spec.id),
      description: spec.description,
      entry: path.join(repoRoot, spec.entry),
      handler: 'handler',
      projectRoot: repoRoot,
      depsLockFilePath: path.join(repoRoot, 'package-lock.json'),
      runtime: RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: this.settings.lambdaMemoryMb,
      timeout: spec.timeout,
      reservedConcurrentExecutions: this.reservedConcurrencyOf(spec.id),
      role,
      logGroup,
      tracing: Tracing.ACTIVE,
      bundling: BUNDLING,
      environment: this.environmentOf(spec),
    });
    const defaultPolicy = role.node.tryFindChild('DefaultPolicy');
    if (defaultPolicy) {
      Validations.of(defaultPolicy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.',
      });
    }
    this.functions.set(spec.id, fn);
    return fn;
  }

  /**
   * What `sam local` and the cloud both pass to the function. SAM passes only the variables a template declares, so
   * the ones a local run must override are declared here empty (`''` means unset, shared/config.ts): DynamoDB Local's
   * endpoint and, for the payment routes, a local signing secret. `npm run sam:env` writes the overrides.
   */
  private environmentOf(spec: FunctionSpec): Record<string, string> {
    const { settings } = this;
    return {
      TABLE_NAME: this.table.tableName,
      HOLD_TTL_SECONDS: String(settings.holdTtlSeconds),
      MAX_QTY_PER_HOLD: String(settings.maxQtyPerHold),
      PAYMENT_WINDOW_SECONDS: String(settings.paymentWindowSeconds),
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: settings.logLevel,
      DYNAMODB_ENDPOINT: '',
      // The secret's ARN, never its value: the function reads it at run time (cached by Powertools).
      ...(spec.signingSecret
        ? {
            [signingSecrets[spec.signingSecret].idVariable]:
              this.signingSecrets[spec.signingSecret].secretArn,
            [signingSecrets[spec.signingSecret].valueVariable]: '',
          }
        : {}),
      // Every function, not only the buyer routes: put-product refuses per-customer limits while identity is off.
      ...(settings.jwtIssuer
        ? { JWT_ISSUER: settings.jwtIssuer, JWT_AUDIENCE: settings.jwtAudience.join(',') }
        : {}),
    };
  }

  /** Reserved concurrency by role (README, Concurrency); undefined (none) for the others and for a setting of 0. */
  private reservedConcurrencyOf(id: FunctionId): number | undefined {
    const { settings } = this;
    const shopper = (SHOPPER_FUNCTIONS as readonly string[]).includes(id);
    const reserved =
      id === 'payment-webhook'
        ? settings.webhookReservedConcurrency
        : id === sweeper.id
          ? settings.sweeperReservedConcurrency
          : shopper
            ? settings.shopperReservedConcurrency
            : 0;
    return reserved > 0 ? reserved : undefined;
  }

  /** Exactly what the function's code sends: table actions by access, index queries, its own logs, the secret. */
  private statementsFor(spec: FunctionSpec, logGroup: ILogGroup): PolicyStatement[] {
    const tableActions = new Set([
      ...TABLE_ACTIONS[spec.access],
      ...(spec.idempotent ? IDEMPOTENCY_ACTIONS : []),
      ...(spec.readsStockView ? ['dynamodb:BatchGetItem'] : []),
      ...(spec.takesLeases ? ['dynamodb:DeleteItem'] : []),
      ...(spec.checksConditions ? ['dynamodb:ConditionCheckItem'] : []),
    ]);
    const statements = [
      ...(tableActions.size > 0
        ? [
            new PolicyStatement({
              sid: 'Table',
              actions: [...tableActions].sort(),
              resources: [this.table.tableArn],
            }),
          ]
        : []),
      new PolicyStatement({
        sid: 'Logs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    ];
    const indexes = spec.queries ?? [];
    if (indexes.length > 0) {
      statements.push(
        new PolicyStatement({
          sid: 'IndexQuery',
          actions: ['dynamodb:Query'],
          resources: indexes.map(
            (index) => `${this.table.tableArn}/index/${tableDefinition.indexes[index].indexName}`,
          ),
        }),
      );
    }
    if (spec.signingSecret) {
      // Its own source's secret only: a Stripe function cannot read the Adyen keys or our webhook's secret.
      statements.push(
        new PolicyStatement({
          sid: signingSecrets[spec.signingSecret].constructId,
          actions: ['secretsmanager:GetSecretValue'],
          resources: [this.signingSecrets[spec.signingSecret].secretArn],
        }),
      );
    }
    return statements;
  }

  private addHttpApi(): { api: HttpApi; stage: HttpStage } {
    const api = new HttpApi(this, 'HttpApi', {
      apiName: `${SERVICE_NAME}-${this.settings.stage}`,
      description: `Flash-sale checkout API (${this.settings.stage})`,
      // The $default stage is declared below with throttling and access logs.
      createDefaultStage: false,
      corsPreflight: this.corsPreflight(),
    });
    const stage = new HttpStage(this, 'DefaultStage', {
      httpApi: api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: this.settings.throttleRateLimit, burstLimit: this.settings.throttleBurstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.apiAccessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            caller: '$context.identity.userArn',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            protocol: '$context.protocol',
            responseLength: '$context.responseLength',
            latency: '$context.responseLatency',
            integrationLatency: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            error: '$context.error.message',
            authorizerError: '$context.authorizer.error',
            userAgent: '$context.identity.userAgent',
          }),
        ),
      },
    });

    const iamAuthorizer = new HttpIamAuthorizer();
    for (const route of routes) {
      const fn = this.functions.get(route.id);
      if (!fn) throw new Error(`No function for route ${route.id}`);
      const authorizer: IHttpRouteAuthorizer | undefined =
        route.auth === 'iam'
          ? iamAuthorizer
          : 'identity' in route && route.identity === 'buyer'
            ? this.buyerAuthorizer
            : undefined;
      const [httpRoute] = api.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration: new HttpLambdaIntegration(`${pascalCase(route.id)}Integration`, fn, {
          payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
        }),
        ...(authorizer ? { authorizer } : {}),
      });
      if (httpRoute && !authorizer) {
        Validations.of(httpRoute).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            'signingSecret' in route
              ? 'Called by the payment provider: the handler rejects any request without a valid HMAC signature.'
              : 'identity' in route
                ? 'Anonymous shoppers while the stage sets no jwtIssuer; the throttled stage bounds abuse.'
                : 'Public by design (catalogue reads, health probes); the throttled stage bounds abuse.',
        });
      }
    }
    return { api, stage };
  }

  private corsPreflight(): CorsPreflightOptions | undefined {
    const origins = this.settings.corsAllowOrigins;
    if (origins.length === 0) return undefined;
    return {
      allowOrigins: [...origins],
      allowMethods: [...new Set(routes.map((route) => CorsHttpMethod[route.method]))],
      // authorization: buyers' bearer tokens (jwtIssuer).
      allowHeaders: ['authorization', 'content-type', 'idempotency-key'],
      // A browser hides response headers from scripts unless listed: 503 and 409 REQUEST_IN_PROGRESS say when to retry.
      exposeHeaders: ['retry-after'],
      maxAge: Duration.hours(1),
    };
  }

  /** EventBridge runs the sweeper every minute; whatever cannot be delivered or keeps failing lands in a DLQ. */
  private addSweepSchedule(sweeperFn: NodejsFunction): Queue {
    const deadLetters = new Queue(this, 'SweeperDeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(deadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter queue (of the sweep schedule and of the sweeper invocations).',
    });
    const maxEventAge = Duration.minutes(2);
    new Rule(this, 'SweepSchedule', {
      description: `Runs ${sweeper.id}`,
      schedule: Schedule.expression(sweeper.schedule),
      targets: [
        new LambdaFunction(sweeperFn, { retryAttempts: 2, maxEventAge, deadLetterQueue: deadLetters }),
      ],
    });
    // EventBridge's DLQ only sees events it could not hand to Lambda. A sweep that runs and fails is an
    // async invocation failure: no Lambda retry (the next scheduled sweep is the retry), straight to the DLQ.
    sweeperFn.configureAsyncInvoke({
      retryAttempts: 0,
      maxEventAge,
      onFailure: new SqsDestination(deadLetters),
    });
    return deadLetters;
  }

  private addAlarmTopic(): Topic {
    const topic = new Topic(this, 'AlarmTopic', {
      displayName: `${SERVICE_NAME} ${this.settings.stage} alarms`,
      enforceSSL: true,
    });
    // enforceSSL gives the topic a policy of its own, which replaces SNS's default one (that let the account's
    // services publish) with a single Deny: CloudWatch must be allowed back in, for this account's alarms only.
    topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsOfThisAccount',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnLike: {
            'aws:SourceArn': this.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    if (this.settings.alarmEmail) topic.addSubscription(new EmailSubscription(this.settings.alarmEmail));
    return topic;
  }

  /** An alarm that notifies the topic when it fires and when it clears. */
  private alarm(id: string, description: string, metric: IMetric, options: AlarmOptions = {}): Alarm {
    const created = new Alarm(this, id, {
      alarmDescription: description,
      metric,
      threshold: options.threshold ?? 1,
      evaluationPeriods: options.evaluationPeriods ?? 1,
      datapointsToAlarm: options.datapointsToAlarm,
      comparisonOperator: options.comparisonOperator ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: options.treatMissingData ?? TreatMissingData.NOT_BREACHING,
    });
    const notify = new SnsAction(this.alarmTopic);
    created.addAlarmAction(notify);
    created.addOkAction(notify);
    this.alarms.push(created);
    return created;
  }

  /** API answers per period: all, 5xx (ours and API Gateway's), and our own 503s (load shedding). */
  private apiMetrics(period: Duration) {
    return {
      requests: this.httpApi.metricCount({ period, statistic: 'Sum' }),
      errors: this.httpApi.metricServerError({ period, statistic: 'Sum' }),
      // Emitted only when a 503 is answered: missing data is zero.
      shed: emitted(MetricName.ServiceUnavailable, 'Sum', period),
    };
  }

  /** 5xx that are not our 503s, in % of requests: bugs, timeouts, throttled Lambdas (API Gateway's own 500s). */
  private faultRate(period: Duration): MathExpression {
    return new MathExpression({
      expression: 'IF(requests > 0, 100 * (errors - FILL(shed, 0)) / requests, 0)',
      usingMetrics: this.apiMetrics(period),
      period,
      label: 'API 5xx rate without 503 (%)',
    });
  }

  /** Our 503 SERVICE_UNAVAILABLE answers (DynamoDB busy past the retries), in % of requests. */
  private sheddingRate(period: Duration): MathExpression {
    const { requests, shed } = this.apiMetrics(period);
    return new MathExpression({
      expression: 'IF(requests > 0, 100 * FILL(shed, 0) / requests, 0)',
      usingMetrics: { requests, shed },
      period,
      label: 'API 503 rate (%)',
    });
  }

  private addAlarms(): void {
    const fiveMinutes = Duration.minutes(5);
    const oneMinute = Duration.minutes(1);

    this.alarm(
      'Api5xxRateAlarm',
      'More than 1% of API requests answered 5xx other than our 503 (load shedding) over 5 minutes',
      this.faultRate(fiveMinutes),
      { threshold: 1 },
    );
    // A crowd meeting a hot product sheds some load by design (503 + Retry-After, clients retry). Sustained
    // shedding means DynamoDB is short: too few stock buckets for the crowd, or throttling (README, Alarms).
    this.alarm(
      'Api503RateAlarm',
      'More than 5% of API requests answered 503 SERVICE_UNAVAILABLE (load shedding) over 5 minutes',
      this.sheddingRate(fiveMinutes),
      { threshold: 5 },
    );
    for (const [id, fn] of this.functions) {
      const name = pascalCase(id);
      this.alarm(`${name}ErrorsAlarm`, `${id}: invocation errors`, fn.metricErrors({ period: fiveMinutes }));
      this.alarm(
        `${name}ThrottlesAlarm`,
        `${id}: throttled invocations`,
        fn.metricThrottles({ period: fiveMinutes }),
      );
    }
    this.alarm(
      'TableThrottlesAlarm',
      'DynamoDB throttled requests on the checkout table',
      this.table.metricThrottledRequestsForOperations({ operations: TABLE_OPERATIONS, period: fiveMinutes }),
    );
    this.alarm(
      'TableSystemErrorsAlarm',
      'DynamoDB system errors on the checkout table',
      this.table.metricSystemErrorsForOperations({ operations: TABLE_OPERATIONS, period: fiveMinutes }),
    );
    this.alarm(
      'SweeperDeadLettersAlarm',
      'Sweeper events or failed sweeps are waiting in the dead-letter queue',
      this.sweeperDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: oneMinute,
        statistic: 'Maximum',
      }),
    );
    // Money taken for units already given back: every single one needs a refund by hand.
    this.alarm(
      'PaymentsRefundRequiredAlarm',
      'A payment succeeded after its order expired and the units were gone: refund the buyer (log payment_after_expiry)',
      emitted(MetricName.PaymentsRefundRequired, 'Sum', oneMinute),
      { threshold: 1 },
    );
    // A request no configured secret signed: a forgery, a probe of the public URL, or (every delivery refused) a
    // secret rotated at the provider but not here. A stray probe does not page; a provider retrying soon does.
    this.alarm(
      'ProviderSignaturesRejectedAlarm',
      'Stripe requests or Adyen notification items refused for their signature: 5 or more in 5 minutes (logs stripe_signature_rejected, adyen_signature_rejected)',
      emitted(MetricName.ProviderSignaturesRejected, 'Sum', fiveMinutes),
      { threshold: 5 },
    );
    // A provider took a different amount or currency than the order's total: never applied as paid, each one needs a
    // person (refund, or settle by hand).
    this.alarm(
      'PaymentAmountMismatchAlarm',
      "A provider's success did not match the order's total (amount or currency): recorded, not applied (log payment_amount_mismatch)",
      emitted(MetricName.PaymentAmountMismatches, 'Sum', oneMinute),
      { threshold: 1 },
    );
    // The sweeper runs every minute and reports the age of the oldest expired hold or order it found unswept, so a
    // healthy sweep keeps it under ~60-70 s. Above 180 s for 3 minutes in a row it has fallen three runs behind.
    // Missing data breaches: the sweeper emits it on every run, so silence means the sweeper is not running.
    this.alarm(
      'SweepOverdueAlarm',
      'The oldest expired-but-unswept hold or order is over 180 s overdue for 3 minutes, or the sweeper reports nothing',
      emitted(MetricName.SweepOldestOverdueSeconds, 'Maximum', oneMinute),
      {
        threshold: 180,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        treatMissingData: TreatMissingData.BREACHING,
      },
    );
  }

  /** One page: the sale funnel on top, then the API, the functions, the table and the sweeper. */
  private addDashboard(): Dashboard {
    const minute = Duration.minutes(1);
    const sum = (names: readonly MetricNameType[]) => names.map((name) => emitted(name, 'Sum', minute));
    const perFunction = (metric: 'Errors' | 'Throttles' | 'ConcurrentExecutions') =>
      [...this.functions].map(([id, fn]) =>
        metric === 'ConcurrentExecutions'
          ? fn.metric('ConcurrentExecutions', { statistic: 'Maximum', period: minute, label: id })
          : fn.metric(metric, { statistic: 'Sum', period: minute, label: id }),
      );
    const graph = (title: string, left: IMetric[], width = 8, right: IMetric[] = []) =>
      new GraphWidget({ title, left, right, width, height: 6 });
    const { requests, errors, shed } = this.apiMetrics(minute);
    const dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `${SERVICE_NAME}-${this.settings.stage}`,
      defaultInterval: Duration.hours(3),
    });
    dashboard.addWidgets(
      new TextWidget({
        markdown: `# ${SERVICE_NAME} (${this.settings.stage})\nSale funnel (per minute), then health. Alarms notify the alarm topic.`,
        width: 24,
        height: 2,
      }),
    );
    dashboard.addWidgets(
      graph(
        'Holds',
        sum([
          MetricName.HoldsGranted,
          MetricName.HoldsRefusedSoldOut,
          MetricName.HoldsRefusedCustomerLimit,
          MetricName.HoldsReclaimed,
          MetricName.HoldsExpired,
        ]),
        6,
      ),
      graph('Orders', sum([MetricName.OrdersCreated, MetricName.OrdersExpired]), 6),
      graph(
        'Payments',
        sum([MetricName.PaymentsApplied, MetricName.PaymentsParked, MetricName.PaymentsRefundRequired]),
        6,
      ),
      graph(
        'Payment providers (Stripe, Adyen)',
        sum([
          MetricName.ProviderSignaturesRejected,
          MetricName.PaymentAmountMismatches,
          MetricName.PaymentsDeclined,
        ]),
        6,
      ),
    );
    dashboard.addWidgets(
      graph('API answers', [
        requests.with({ label: 'requests' }),
        this.httpApi.metricClientError({ period: minute, statistic: 'Sum', label: '4xx' }),
        errors.with({ label: '5xx' }),
        shed.with({ label: '503 (ours)' }),
      ]),
      graph('API error rates (%)', [this.faultRate(minute), this.sheddingRate(minute)]),
      graph('API latency p99 (ms)', [
        this.httpApi.metricLatency({ period: minute, statistic: 'p99', label: 'latency p99' }),
        this.httpApi.metricIntegrationLatency({ period: minute, statistic: 'p99', label: 'integration p99' }),
      ]),
    );
    dashboard.addWidgets(
      graph('Lambda errors', perFunction('Errors')),
      graph('Lambda throttles', perFunction('Throttles')),
      graph('Lambda concurrent executions (max)', perFunction('ConcurrentExecutions')),
    );
    dashboard.addWidgets(
      graph('Contention retries', sum([MetricName.ContentionRetries]), 6),
      // Two graphs: both sums name their per-operation metrics alike (one id space per graph).
      graph(
        'Table throttled requests',
        [this.table.metricThrottledRequestsForOperations({ operations: TABLE_OPERATIONS, period: minute })],
        6,
      ),
      graph(
        'Table system errors',
        [this.table.metricSystemErrorsForOperations({ operations: TABLE_OPERATIONS, period: minute })],
        6,
      ),
      graph(
        'Sweeper DLQ depth',
        [
          this.sweeperDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
            period: minute,
            statistic: 'Maximum',
          }),
        ],
        6,
      ),
    );
    dashboard.addWidgets(
      graph(
        'Sweep',
        [
          emitted(MetricName.SweepDurationMs, 'Maximum', minute),
          emitted(MetricName.SweepBacklog, 'Maximum', minute),
        ],
        12,
      ),
      graph(
        'Sweep: oldest overdue (s)',
        [emitted(MetricName.SweepOldestOverdueSeconds, 'Maximum', minute)],
        12,
      ),
    );
    dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }));
    return dashboard;
  }
}
