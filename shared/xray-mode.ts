// Imported before the X-Ray SDK loads (shared/tracer.ts): outside Lambda, no X-Ray context tracking at all.
//
// On load the SDK (under Powertools Tracer) starts tracking async context with async_hooks in "automatic" mode: every
// promise in the process pays for it (about 12x slower in a promise-heavy loop here). In Lambda with active tracing
// that is the price of the traces. Outside Lambda (npm start, the tests, the scripts) the Tracer is disabled anyway
// (no AWS_EXECUTION_ENV: nothing is traced, no daemon is called), so manual mode skips the hooks.
if (!process.env.AWS_EXECUTION_ENV) process.env.AWS_XRAY_MANUAL_MODE ??= 'true';
