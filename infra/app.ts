// CDK entry: one stage (context `stage`, default dev) as a data stack and an API stack, checked by cdk-nag.
import { App } from 'aws-cdk-lib';
import { quietBundlingOutput } from './bundling.ts';
import { addNagChecks } from './nag.ts';
import { addCheckoutStage } from './stage.ts';

quietBundlingOutput();
const app = new App();
addCheckoutStage(app);
addNagChecks(app);
app.synth();
