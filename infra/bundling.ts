// How every function is bundled (local esbuild, never Docker): the one place bundle size and format are decided.
import { type BundlingOptions, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';

export const BUNDLING: BundlingOptions = {
  // Local esbuild only: synth must never need Docker.
  forceDockerBundling: false,
  format: OutputFormat.CJS,
  target: 'node24',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  // The SDK ships inside the bundle at the lockfile's version instead of whatever the runtime carries.
  bundleAwsSDK: true,
};
