// Builds one stage in memory with cdk.json's context, and reads its templates in the terms the tests speak.
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { App, type AppProps, type CfnElement, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { afterAll, expect, vi } from 'vitest';
import type { FunctionId } from '../../infra/api-stack.ts';
import { addCheckoutStage, type CheckoutStage } from '../../infra/stage.ts';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

// Synth output. An App without `outdir` synthesizes into a fresh `cdk.out*` folder in the OS temp dir that nothing
// removes (15-28 per run before). Every app built here writes under one temp folder per test file instead (still in
// the OS temp dir: no package.json with "type": "module" above a bundle, as in Lambda), removed after the file.
const osTemp = realpathSync(tmpdir());
const outRoot = mkdtempSync(join(osTemp, 'checkout-infra-'));
// Watches the temp folders CDK makes (it calls the CommonJS `fs`), to prove none is a stray `cdk.out*`.
const commonJsFs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');
const madeTempDirs = vi.spyOn(commonJsFs, 'mkdtempSync');

afterAll(() => {
  const made = madeTempDirs.mock.results.flatMap((result) =>
    result.type === 'return' ? [String(result.value)] : [],
  );
  madeTempDirs.mockRestore();
  rmSync(outRoot, { recursive: true, force: true });
  const strays = made.filter((dir) => dirname(dir) === osTemp && basename(dir).startsWith('cdk.out'));
  expect(strays, 'cdk.out* folders synthesized into the OS temp dir').toEqual([]);
  expect(existsSync(outRoot)).toBe(false);
});

/** An App whose synth output goes under this file's temp folder (`new App()` alone makes a `cdk.out*` in the OS temp dir). */
export const newApp = (props: AppProps = {}): App =>
  new App({ outdir: mkdtempSync(join(outRoot, 'cdk.out-')), ...props });

export interface BuiltStage extends CheckoutStage {
  readonly app: App;
  readonly dataTemplate: Template;
  readonly apiTemplate: Template;
}

/**
 * The stage as `cdk synth -c stage=<stage>` builds it (same feature flags and per-stage settings).
 * Bundling is skipped unless asked for: asset contents do not change a template's shape.
 */
export function buildStage(
  options: { stage?: string; context?: Record<string, unknown>; bundle?: boolean } = {},
): BuiltStage {
  const app = newApp({
    context: {
      ...cdkJson.context,
      ...(options.stage ? { stage: options.stage } : {}),
      // Bundled: record each asset's path in the template metadata, as the CLI does.
      ...(options.bundle ? { 'aws:cdk:enable-asset-metadata': true } : { 'aws:cdk:bundling-stacks': [] }),
      ...options.context,
    },
  });
  const stage = addCheckoutStage(app);
  return {
    ...stage,
    app,
    dataTemplate: Template.fromStack(stage.data),
    apiTemplate: Template.fromStack(stage.api),
  };
}

export interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Metadata?: Record<string, unknown>;
}

interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown }>;
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

export const templateJson = (template: Template) => template.toJSON() as CfnTemplate;

export const logicalId = (stack: Stack, element: CfnElement) => stack.getLogicalId(element);

export function functionLogicalId(built: BuiltStage, id: FunctionId): string {
  const fn = built.api.functions.get(id);
  if (!fn) throw new Error(`No function ${id}`);
  return logicalId(built.api, fn.node.defaultChild as CfnFunction);
}

export function resourceOf(template: Template, id: string): CfnResource {
  const resource = templateJson(template).Resources[id];
  if (!resource) throw new Error(`No resource ${id}`);
  return resource;
}

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/**
 * Follows a weak cross-stack reference (`Fn::GetStackOutput`) from the API stack to what the data stack
 * publishes, e.g. `{ Ref: <secret> }`; anything else is returned as is.
 */
export function published(built: BuiltStage, value: unknown): unknown {
  const reference = (value as { 'Fn::GetStackOutput'?: { OutputName: string } })['Fn::GetStackOutput'];
  if (!reference) return value;
  const output = templateJson(built.dataTemplate).Outputs?.[reference.OutputName];
  if (!output) throw new Error(`The data stack publishes no output ${reference.OutputName}`);
  return output.Value;
}

/** The data stack's logical id of the function's log group. */
export function logGroupLogicalId(built: BuiltStage, id: FunctionId): string {
  const group = built.data.logGroups.get(id);
  if (!group) throw new Error(`No log group for ${id}`);
  return logicalId(built.data, group.node.defaultChild as CfnElement);
}

/** The function's environment variables as synthesized (values may be intrinsics). */
export function environmentOf(built: BuiltStage, id: FunctionId): Record<string, unknown> {
  const fn = resourceOf(built.apiTemplate, functionLogicalId(built, id));
  return (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
}

/**
 * Names what a policy resource points at: `table`, `index <name>`, `webhook secret` (`stripe secret`, `adyen secret`), `own log group`,
 * `sweeper DLQ`, `*`; anything unrecognised comes back as JSON so an unexpected grant shows in the diff.
 */
export function describeResource(built: BuiltStage, resource: unknown, ownLogGroup: string): string {
  const tableId = logicalId(built.data, built.data.table.node.defaultChild as CfnElement);
  const secretIds = Object.entries(built.data.signingSecrets).map(
    ([source, secret]) => [source, logicalId(built.data, secret.node.defaultChild as CfnElement)] as const,
  );
  const queueId = logicalId(built.api, built.api.sweeperDeadLetterQueue.node.defaultChild as CfnElement);
  const json = (value: unknown) => JSON.stringify(value);
  const target = json(published(built, resource));
  if (resource === '*') return '*';
  if (target === json({ 'Fn::GetAtt': [tableId, 'Arn'] })) return 'table';
  for (const [source, secretId] of secretIds)
    if (target === json({ Ref: secretId })) return `${source} secret`;
  // The data stack owns the log groups (stable names, kept with the data).
  if (target === json({ 'Fn::GetAtt': [ownLogGroup, 'Arn'] })) return 'own log group';
  if (target === json({ 'Fn::GetAtt': [queueId, 'Arn'] })) return 'sweeper DLQ';
  const join = (resource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join && join[0] === '' && join[1].length === 2) {
    const [base, suffix] = join[1];
    if (
      json(published(built, base)) === json({ 'Fn::GetAtt': [tableId, 'Arn'] }) &&
      typeof suffix === 'string'
    ) {
      const index = /^\/index\/(.+)$/.exec(suffix)?.[1];
      if (index) return `index ${index}`;
    }
  }
  return target;
}

/**
 * Every permission the function's role holds, as `<action> on <resource>`: the inline policies and every
 * AWS::IAM::Policy attached to the role (CDK's DefaultPolicy). Only Allow statements exist in this app.
 */
export function permissionsOf(built: BuiltStage, id: FunctionId): Set<string> {
  const template = templateJson(built.apiTemplate);
  const fn = resourceOf(built.apiTemplate, functionLogicalId(built, id));
  const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  const logGroupId = logGroupLogicalId(built, id);
  const role = resourceOf(built.apiTemplate, roleId);
  const inline = (
    (role.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]
  ).flatMap((policy) => policy.PolicyDocument.Statement);
  const attached = Object.values(template.Resources)
    .filter(
      (resource) =>
        resource.Type === 'AWS::IAM::Policy' &&
        (resource.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === roleId),
    )
    .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  const permissions = new Set<string>();
  for (const statement of [...inline, ...attached]) {
    if (statement.Effect !== 'Allow') throw new Error(`Unexpected ${statement.Effect} statement`);
    for (const action of asArray(statement.Action)) {
      for (const resource of asArray(statement.Resource)) {
        permissions.add(`${action} on ${describeResource(built, resource, logGroupId)}`);
      }
    }
  }
  return permissions;
}
