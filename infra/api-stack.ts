// Stateless stack: one function per route (plus the sweeper), the HTTP API, the sweep schedule and the alarms.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  CorsHttpMethod,
  type CorsPreflightOptions,
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
  PayloadFormatVersion,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
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
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { table as tableDefinition } from '../shared/db/table.ts';
import { BUNDLING } from './bundling.ts';
import { type Access, type IndexName, routes, sweeper } from './routes.ts';
import { SERVICE_NAME, type StageSettings } from './stage.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export type FunctionId = (typeof routes)[number]['id'] | typeof sweeper.id;

// TransactWriteItems has no IAM action of its own: it is authorised per contained Put/Update/ConditionCheck.
const TABLE_ACTIONS: Record<Access, readonly string[]> = {
  none: [],
  read: ['dynamodb:GetItem', 'dynamodb:Query'],
  // No DeleteItem: the domain never deletes (settled items carry the TTL attribute and DynamoDB removes them);
  // only a lease is deleted when given back (`takesLeases`).
  write: [
    'dynamodb:ConditionCheckItem',
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:Query',
    'dynamodb:UpdateItem',
  ],
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
  readonly usesWebhookSecret?: boolean;
  /** From the route table; a function without it reads the base table only and gets no index ARN at all. */
  readonly queries?: readonly IndexName[];
  readonly readsStockView?: boolean;
  readonly takesLeases?: boolean;
}

export interface ApiStackProps extends StackProps {
  readonly settings: StageSettings;
  readonly table: ITable;
  readonly webhookSecret: ISecret;
}

const pascalCase = (id: string) =>
  id
    .split('-')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');

export class ApiStack extends Stack {
  readonly functions = new Map<FunctionId, NodejsFunction>();
  readonly httpApi: HttpApi;
  readonly apiStage: HttpStage;
  readonly sweeperDeadLetterQueue: Queue;
  readonly alarmTopic: Topic;

  private readonly settings: StageSettings;
  private readonly table: ITable;
  private readonly webhookSecret: ISecret;
  private readonly logRemovalPolicy: RemovalPolicy;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    const { settings, table, webhookSecret, ...stackProps } = props;
    super(scope, id, stackProps);
    this.settings = settings;
    this.table = table;
    this.webhookSecret = webhookSecret;
    this.logRemovalPolicy = settings.ephemeral ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

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
    this.alarmTopic = this.addAlarms();

    new CfnOutput(this, 'ApiUrl', { value: this.apiStage.url, description: 'Base URL of the HTTP API' });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.alarmTopic.topicArn,
      description: 'Alarm notifications',
    });
  }

  private addFunction(spec: FunctionSpec): NodejsFunction {
    const name = pascalCase(spec.id);
    const logGroup = new LogGroup(this, `${name}Logs`, {
      retention: this.settings.logRetentionDays,
      removalPolicy: this.logRemovalPolicy,
    });
    const role = new Role(this, `${name}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${spec.id}: least-privilege access to the checkout table`,
      // The explicit grants live in one inline policy; CDK adds X-Ray (and the sweeper's DLQ) to DefaultPolicy.
      inlinePolicies: { access: new PolicyDocument({ statements: this.statementsFor(spec, logGroup) }) },
    });
    const fn = new NodejsFunction(this, `${name}Function`, {
      description: spec.description,
      entry: path.join(repoRoot, spec.entry),
      handler: 'handler',
      projectRoot: repoRoot,
      depsLockFilePath: path.join(repoRoot, 'package-lock.json'),
      runtime: RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: this.settings.lambdaMemoryMb,
      timeout: spec.timeout,
      role,
      logGroup,
      tracing: Tracing.ACTIVE,
      bundling: BUNDLING,
      environment: {
        TABLE_NAME: this.table.tableName,
        HOLD_TTL_SECONDS: String(this.settings.holdTtlSeconds),
        MAX_QTY_PER_HOLD: String(this.settings.maxQtyPerHold),
        PAYMENT_WINDOW_SECONDS: String(this.settings.paymentWindowSeconds),
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_LOG_LEVEL: this.settings.logLevel,
        NODE_OPTIONS: '--enable-source-maps',
        // The secret's ARN, never its value: the function reads it at run time (cached by Powertools).
        ...(spec.usesWebhookSecret ? { WEBHOOK_SECRET_ID: this.webhookSecret.secretArn } : {}),
      },
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

  /** Exactly what the function's code sends: table actions by access, index queries, its own logs, the secret. */
  private statementsFor(spec: FunctionSpec, logGroup: LogGroup): PolicyStatement[] {
    const tableActions = new Set([
      ...TABLE_ACTIONS[spec.access],
      ...(spec.idempotent ? IDEMPOTENCY_ACTIONS : []),
      ...(spec.readsStockView ? ['dynamodb:BatchGetItem'] : []),
      ...(spec.takesLeases ? ['dynamodb:DeleteItem'] : []),
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
    if (spec.usesWebhookSecret) {
      statements.push(
        new PolicyStatement({
          sid: 'WebhookSecret',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [this.webhookSecret.secretArn],
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
    const accessLogs = new LogGroup(this, 'ApiAccessLogs', {
      retention: this.settings.logRetentionDays,
      removalPolicy: this.logRemovalPolicy,
    });
    const stage = new HttpStage(this, 'DefaultStage', {
      httpApi: api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: this.settings.throttleRateLimit, burstLimit: this.settings.throttleBurstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
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
            userAgent: '$context.identity.userAgent',
          }),
        ),
      },
    });

    const iamAuthorizer = new HttpIamAuthorizer();
    for (const route of routes) {
      const fn = this.functions.get(route.id);
      if (!fn) throw new Error(`No function for route ${route.id}`);
      const [httpRoute] = api.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration: new HttpLambdaIntegration(`${pascalCase(route.id)}Integration`, fn, {
          payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
        }),
        ...(route.auth === 'iam' ? { authorizer: iamAuthorizer } : {}),
      });
      if (httpRoute && route.auth === 'none') {
        Validations.of(httpRoute).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            'usesWebhookSecret' in route
              ? 'Called by the payment provider: the handler rejects any request without a valid HMAC signature.'
              : 'Public by design (anonymous shoppers, health probes); the throttled stage bounds abuse.',
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
      allowHeaders: ['content-type', 'idempotency-key'],
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

  private addAlarms(): Topic {
    const topic = new Topic(this, 'AlarmTopic', {
      displayName: `${SERVICE_NAME} ${this.settings.stage} alarms`,
      enforceSSL: true,
    });
    if (this.settings.alarmEmail) topic.addSubscription(new EmailSubscription(this.settings.alarmEmail));
    const notify = new SnsAction(topic);
    const alarm = (id: string, description: string, metric: IMetric, threshold = 1) => {
      const created = new Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(notify);
      created.addOkAction(notify);
    };
    const fiveMinutes = Duration.minutes(5);

    alarm(
      'Api5xxRateAlarm',
      'More than 1% of API requests answered 5xx over 5 minutes',
      new MathExpression({
        expression: 'IF(requests > 0, 100 * errors / requests, 0)',
        usingMetrics: {
          errors: this.httpApi.metricServerError({ period: fiveMinutes, statistic: 'Sum' }),
          requests: this.httpApi.metricCount({ period: fiveMinutes, statistic: 'Sum' }),
        },
        period: fiveMinutes,
        label: 'API 5xx rate (%)',
      }),
      1,
    );
    for (const [id, fn] of this.functions) {
      const name = pascalCase(id);
      alarm(`${name}ErrorsAlarm`, `${id}: invocation errors`, fn.metricErrors({ period: fiveMinutes }));
      alarm(
        `${name}ThrottlesAlarm`,
        `${id}: throttled invocations`,
        fn.metricThrottles({ period: fiveMinutes }),
      );
    }
    alarm(
      'TableThrottlesAlarm',
      'DynamoDB throttled requests on the checkout table',
      this.table.metricThrottledRequestsForOperations({ operations: TABLE_OPERATIONS, period: fiveMinutes }),
    );
    alarm(
      'TableSystemErrorsAlarm',
      'DynamoDB system errors on the checkout table',
      this.table.metricSystemErrorsForOperations({ operations: TABLE_OPERATIONS, period: fiveMinutes }),
    );
    alarm(
      'SweeperDeadLettersAlarm',
      'Sweeper events or failed sweeps are waiting in the dead-letter queue',
      this.sweeperDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: 'Maximum',
      }),
    );
    return topic;
  }
}
