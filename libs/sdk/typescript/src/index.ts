// @cadenza/sdk: the Cadenza orchestrator from Node. The convenience layer (connect, generate,
// downloadTrack, errorInfo, seed helpers) plus the generated messages of the public API; every
// generated module is also importable as "@cadenza/sdk/gen/<path>_pb".
export { CadenzaClient, connect, JobFailedError } from "./client.js";
export type { ConnectOptions, GenerateEvent, GenerateOptions, GenerationParamsInit } from "./client.js";
export { errorCode, errorInfo, retryDelay } from "./errors.js";
export { bigintReplacer, parseSeed, toJsonString } from "./seed.js";
export * from "./gen/cadenza/common/v1/types_pb.js";
export * from "./gen/cadenza/orchestrator/v1/orchestrator_pb.js";
export { HealthCheckResponse_ServingStatus } from "./gen/grpc/health/v1/health_pb.js";
export type { ErrorInfo, RetryInfo } from "./gen/google/rpc/error_details_pb.js";
export { Code, ConnectError } from "@connectrpc/connect";
