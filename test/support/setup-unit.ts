// Runs before each unit test file: the configuration the app modules read at import, with no DynamoDB behind it.
// The endpoint is a closed port, so a unit test that reaches DynamoDB by mistake fails at once instead of passing
// against a real table: such a test belongs in test/integration.
process.env.TABLE_NAME = 'unit-tests-have-no-table';
process.env.DYNAMODB_ENDPOINT = 'http://127.0.0.1:9';
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.AWS_REGION ??= 'us-east-1';
