package dev.cadenza.sdk;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import com.google.rpc.Status;
import io.grpc.protobuf.StatusProto;
import java.time.Duration;
import java.util.Optional;

/**
 * Every Cadenza error status carries exactly one google.rpc.ErrorInfo in grpc-status-details-bin:
 * {@code getReason()} is the stable cause to branch on, {@code getMetadataMap()} names the resource.
 * A google.rpc.RetryInfo comes with it when the server knows how long to wait before retrying.
 */
public final class CadenzaErrors {
  private CadenzaErrors() {}

  /** The ErrorInfo of a failed call's exception (StatusRuntimeException / StatusException). */
  public static Optional<ErrorInfo> errorInfo(Throwable error) {
    return detail(error, ErrorInfo.class);
  }

  /** How long the server asks to wait before retrying (its RetryInfo), when it says. */
  public static Optional<Duration> retryDelay(Throwable error) {
    return detail(error, RetryInfo.class)
        .map(r -> Duration.ofSeconds(r.getRetryDelay().getSeconds(), r.getRetryDelay().getNanos()));
  }

  private static <T extends Message> Optional<T> detail(Throwable error, Class<T> kind) {
    Status status = StatusProto.fromThrowable(error);
    if (status == null) {
      return Optional.empty();
    }
    for (Any detail : status.getDetailsList()) {
      if (detail.is(kind)) {
        try {
          return Optional.of(detail.unpack(kind));
        } catch (InvalidProtocolBufferException e) {
          return Optional.empty();
        }
      }
    }
    return Optional.empty();
  }
}
