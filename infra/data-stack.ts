// Stateful stack: the one DynamoDB table (built from shared/db/table.ts), the payment signing secrets and the log groups.
import { CfnOutput, Fn, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { table as definition } from '../shared/db/table.ts';
import type { FunctionId } from './api-stack.ts';
import { routes, sweeper } from './routes.ts';
import { type SigningSecret, signingSecretSources, signingSecrets } from './signing-secrets.ts';
import { functionNameOf, pascalCase, SERVICE_NAME, type StageSettings } from './stage.ts';

export interface DataStackProps extends StackProps {
  readonly settings: StageSettings;
}

const stringKey = (name: string) => ({ name, type: AttributeType.STRING });

export class DataStack extends Stack {
  readonly table: Table;
  /** The signing secret of each payment route's source (infra/signing-secrets.ts). */
  readonly signingSecrets: Readonly<Record<SigningSecret, Secret>>;
  /** Our own webhook's, `signingSecrets.webhook`. */
  readonly webhookSecret: Secret;
  /** Each function's log group, `/aws/lambda/<function name>` (the API stack's functions log here). */
  readonly logGroups = new Map<FunctionId, LogGroup>();
  /** The HTTP API's access logs. */
  readonly apiAccessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    const { settings, ...stackProps } = props;
    super(scope, id, { terminationProtection: !settings.ephemeral, ...stackProps });
    const removalPolicy = settings.ephemeral ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    this.table = new Table(this, 'Table', {
      partitionKey: stringKey(definition.partitionKey),
      sortKey: stringKey(definition.sortKey),
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: definition.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Encrypted at rest with the AWS-owned key (the template's `SSEEnabled: false` means exactly that):
      // no KMS charges or KMS dependency in the request path, and no key policy to manage.
      encryption: TableEncryption.DEFAULT,
      deletionProtection: !settings.ephemeral,
      removalPolicy,
      warmThroughput: settings.warmThroughput.table,
    });
    for (const index of Object.values(definition.indexes)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: stringKey(index.partitionKey),
        sortKey: stringKey(index.sortKey),
        projectionType: ProjectionType.INCLUDE,
        nonKeyAttributes: [...index.nonKeyAttributes],
        warmThroughput: settings.warmThroughput[index.indexName],
      });
    }

    // Comma-separated signing secrets (several during a rotation), one secret per source (infra/signing-secrets.ts);
    // generated here, never written in code. Stripe's and Adyen's start as a random value that no provider signs
    // with, so their routes verify nothing until the operator puts the real secret in (docs/deploy.md).
    const stackSuffix = Fn.select(0, Fn.split('-', Fn.select(2, Fn.split('/', this.stackId))));
    const secrets: Partial<Record<SigningSecret, Secret>> = {};
    for (const source of signingSecretSources) {
      const { constructId, slug, description } = signingSecrets[source];
      const secret = new Secret(this, constructId, {
        // Readable (rotating it is a manual step) and unique to this stack: a retained secret of an earlier data stack
        // keeps its name, and a fixed name would make re-creating the stack fail with "already exists". The suffix is
        // the first part of the stack id; the <...>Name outputs give the whole names.
        secretName: `${SERVICE_NAME}/${settings.stage}/${slug}-${stackSuffix}`,
        description: `${description} (${settings.stage})`,
        // Adyen's keys are hex (shared/config.ts refuses anything else): its placeholder is one too.
        generateSecretString:
          source === 'adyen'
            ? {
                passwordLength: 64,
                excludePunctuation: true,
                excludeUppercase: true,
                excludeCharacters: 'ghijklmnopqrstuvwxyz',
              }
            : { passwordLength: 64, excludePunctuation: true },
        removalPolicy,
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'Rotated by hand with the payment provider: both secrets are accepted (comma-separated) until it switches.',
      });
      secrets[source] = secret;
    }
    this.signingSecrets = secrets as Record<SigningSecret, Secret>;
    this.webhookSecret = this.signingSecrets.webhook;

    // Log groups live here, not in the API stack: they hold what happened (kept 90 days in prod), so they outlive a
    // torn-down API, and their names are stable (`/aws/lambda/<service>-<stage>-<function>`), so logs, metric filters
    // and saved queries keep their address across API re-deploys. In the API stack a retained, named group would
    // make re-creating that stack fail with "already exists"; this stack is re-created only deliberately, and then
    // the retained groups are adopted with `cdk import` (README, Deploy).
    const retention = settings.logRetentionDays;
    for (const fnId of [...routes.map((route) => route.id), sweeper.id] as FunctionId[]) {
      this.logGroups.set(
        fnId,
        new LogGroup(this, `${pascalCase(fnId)}Logs`, {
          logGroupName: `/aws/lambda/${functionNameOf(settings.stage, fnId)}`,
          retention,
          removalPolicy,
        }),
      );
    }
    this.apiAccessLogs = new LogGroup(this, 'ApiAccessLogs', {
      logGroupName: `/${SERVICE_NAME}/${settings.stage}/api-access`,
      retention,
      removalPolicy,
    });

    new CfnOutput(this, 'TableName', { value: this.table.tableName, description: 'Checkout table' });
    for (const source of signingSecretSources) {
      const { output, description } = signingSecrets[source];
      new CfnOutput(this, output, {
        value: this.signingSecrets[source].secretName,
        description: `Secrets Manager secret: ${description}`,
      });
    }
  }
}
