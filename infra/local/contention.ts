// Cloud-faithful contention for DynamoDB Local: busy items under transactions and per-partition throughput limits,
// as one DynamoDB-compatible endpoint that every client shares (the parts live in infra/local/contention/).
export {
  type ContentionEndpoint,
  type ContentionEndpointOptions,
  isContentionEndpoint,
  PARAMS_PATH,
  RESET_PATH,
  STATS_PATH,
  startContentionEndpoint,
} from './contention/endpoint.ts';
export { CLOUD, CLOUD_SCALED, type ContentionParams, parseContentionSpec } from './contention/params.ts';
export type { ContentionStats, PartitionUsage } from './contention/state.ts';
