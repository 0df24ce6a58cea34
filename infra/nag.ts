// cdk-nag (v3): the AWS Solutions rules run as a CDK validation plugin; an unacknowledged finding fails synth.
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

/** Checks every stack in the app at synth. Acknowledgements (`Validations.of(x).acknowledge`) sit next to their resource. */
export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}
