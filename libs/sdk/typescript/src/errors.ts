// Every Cadenza error status carries exactly one google.rpc.ErrorInfo in grpc-status-details-bin:
// `reason` is the stable cause to branch on, `metadata` names the resource or field. A
// google.rpc.RetryInfo comes with it when the server knows how long to wait before retrying.
import { Code, ConnectError } from "@connectrpc/connect";
import { type ErrorInfo, ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb.js";

/** The ErrorInfo of an error thrown by a call, undefined when it has none. */
export function errorInfo(error: unknown): ErrorInfo | undefined {
  return ConnectError.from(error).findDetails(ErrorInfoSchema)[0];
}

/** The gRPC status code of an error thrown by a call (Code.Unknown for anything else). */
export function errorCode(error: unknown): Code {
  return ConnectError.from(error).code;
}

/** Milliseconds the server asks to wait before retrying (its RetryInfo), undefined when it has none. */
export function retryDelay(error: unknown): number | undefined {
  const delay = ConnectError.from(error).findDetails(RetryInfoSchema)[0]?.retryDelay;
  return delay === undefined ? undefined : Number(delay.seconds) * 1000 + delay.nanos / 1e6;
}
