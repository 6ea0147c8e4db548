package dev.cadenza.sdk;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import com.google.rpc.Status;
import io.grpc.protobuf.StatusProto;
import java.util.Optional;

/**
 * Every Cadenza error status carries exactly one google.rpc.ErrorInfo in grpc-status-details-bin:
 * {@code getReason()} is the stable cause to branch on, {@code getMetadataMap()} names the resource.
 */
public final class CadenzaErrors {
  private CadenzaErrors() {}

  /** The ErrorInfo of a failed call's exception (StatusRuntimeException / StatusException). */
  public static Optional<ErrorInfo> errorInfo(Throwable error) {
    Status status = StatusProto.fromThrowable(error);
    if (status == null) {
      return Optional.empty();
    }
    for (Any detail : status.getDetailsList()) {
      if (detail.is(ErrorInfo.class)) {
        try {
          return Optional.of(detail.unpack(ErrorInfo.class));
        } catch (InvalidProtocolBufferException e) {
          return Optional.empty();
        }
      }
    }
    return Optional.empty();
  }
}
