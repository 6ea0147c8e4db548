// Every Cadenza error status carries exactly one google.rpc.ErrorInfo in grpc-status-details-bin:
// `reason` is the stable cause to branch on, `metadata` names the resource or field.
import { Code, ConnectError } from "@connectrpc/connect";
import { type ErrorInfo, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";

/** The ErrorInfo of an error thrown by a call, undefined when it has none. */
export function errorInfo(error: unknown): ErrorInfo | undefined {
  return ConnectError.from(error).findDetails(ErrorInfoSchema)[0];
}

/** The gRPC status code of an error thrown by a call (Code.Unknown for anything else). */
export function errorCode(error: unknown): Code {
  return ConnectError.from(error).code;
}
