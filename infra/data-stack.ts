// Stateful stack: the one DynamoDB table (built from shared/db/table.ts) and the webhook signing secret.
import { CfnOutput, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { table as definition } from '../shared/db/table.ts';
import { SERVICE_NAME, type StageSettings } from './stage.ts';

export interface DataStackProps extends StackProps {
  readonly settings: StageSettings;
}

const stringKey = (name: string) => ({ name, type: AttributeType.STRING });

export class DataStack extends Stack {
  readonly table: Table;
  readonly webhookSecret: Secret;

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
    });
    for (const index of Object.values(definition.indexes)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: stringKey(index.partitionKey),
        sortKey: stringKey(index.sortKey),
        projectionType: ProjectionType.INCLUDE,
        nonKeyAttributes: [...index.nonKeyAttributes],
      });
    }

    // Comma-separated signing secrets (several during a rotation); generated here, never written in code.
    this.webhookSecret = new Secret(this, 'WebhookSecret', {
      // A readable name, because rotating it is a manual step (`aws secretsmanager put-secret-value`).
      secretName: `${SERVICE_NAME}/${settings.stage}/webhook-signing-secret`,
      description: `Payment webhook signing secret(s), comma-separated (${settings.stage})`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy,
    });
    Validations.of(this.webhookSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Rotated by hand with the payment provider: both secrets are accepted (comma-separated) until it switches.',
    });

    new CfnOutput(this, 'TableName', { value: this.table.tableName, description: 'Checkout table' });
    new CfnOutput(this, 'WebhookSecretName', {
      value: this.webhookSecret.secretName,
      description: 'Secrets Manager secret with the webhook signing secret(s)',
    });
  }
}
