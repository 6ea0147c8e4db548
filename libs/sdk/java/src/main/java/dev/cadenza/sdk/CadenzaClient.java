package dev.cadenza.sdk;

import dev.cadenza.common.v1.GenerationParams;
import dev.cadenza.common.v1.Job;
import dev.cadenza.common.v1.JobState;
import dev.cadenza.orchestrator.v1.GenerateRequest;
import dev.cadenza.orchestrator.v1.GenerateResponse;
import dev.cadenza.orchestrator.v1.GetTrackRequest;
import dev.cadenza.orchestrator.v1.GetTrackResponse;
import dev.cadenza.orchestrator.v1.OrchestratorServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One connection to the Cadenza orchestrator with a bearer token: Generate (blocking or streaming,
 * each event to a {@link GenerateListener}), track download with its SHA-256 checked, health.
 * {@link #orchestrator()} is the generated blocking stub for every other RPC. Thread-safe.
 *
 * <pre>{@code
 * try (CadenzaClient client = CadenzaClient.connect("127.0.0.1:50050", System.getenv("CADENZA_TOKEN"))) {
 *   Job job = client.generate(GenerationParams.newBuilder().setPrompt("organ in c major").build(),
 *       new GenerateListener() {
 *         public void onProgress(ProgressEvent p) { System.out.println(p.getStep() + "/" + p.getTotalSteps()); }
 *       });
 *   client.downloadTrack(job.getTrack(), Path.of("out.wav"));
 * }
 * }</pre>
 *
 * <p>Seeds are uint64 in the protos and a signed {@code long} in Java: values from 2^63 up read as
 * negative. Use {@link Seeds} (Long.parseUnsignedLong / toUnsignedString) to read and print them.
 */
public final class CadenzaClient implements AutoCloseable {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final ManagedChannel channel;
  private final OrchestratorServiceGrpc.OrchestratorServiceBlockingStub blocking;
  private final OrchestratorServiceGrpc.OrchestratorServiceStub async;
  private final HealthGrpc.HealthBlockingStub health;
  private final HttpClient http = HttpClient.newHttpClient();

  private CadenzaClient(ManagedChannel channel, String token) {
    this.channel = channel;
    OrchestratorServiceGrpc.OrchestratorServiceBlockingStub blockingStub =
        OrchestratorServiceGrpc.newBlockingStub(channel);
    OrchestratorServiceGrpc.OrchestratorServiceStub asyncStub = OrchestratorServiceGrpc.newStub(channel);
    if (token != null && !token.isEmpty()) {
      Metadata headers = new Metadata();
      headers.put(AUTHORIZATION, "Bearer " + token);
      blockingStub = blockingStub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
      asyncStub = asyncStub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }
    this.blocking = blockingStub;
    this.async = asyncStub;
    this.health = HealthGrpc.newBlockingStub(channel);
  }

  /** Plaintext connection to "host:port" (as the local suite serves); a null or empty token sends none. */
  public static CadenzaClient connect(String target, String token) {
    return new CadenzaClient(ManagedChannelBuilder.forTarget(target).usePlaintext().build(), token);
  }

  /** A client over a channel you built (TLS, deadlines, interceptors); closing the client shuts it down. */
  public static CadenzaClient of(ManagedChannel channel, String token) {
    return new CadenzaClient(channel, token);
  }

  /** The generated blocking stub, with the token. */
  public OrchestratorServiceGrpc.OrchestratorServiceBlockingStub orchestrator() {
    return blocking;
  }

  /** The generated async stub, with the token. */
  public OrchestratorServiceGrpc.OrchestratorServiceStub orchestratorAsync() {
    return async;
  }

  /** grpc.health.v1 status of the server ("") or of one service. */
  public HealthCheckResponse.ServingStatus health(String service) {
    return health.check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus();
  }

  /** A random idempotency key. */
  public static String newRequestId() {
    return "java-" + UUID.randomUUID();
  }

  /** {@link #generate(GenerationParams, String, GenerateListener)} with a random request id. */
  public Job generate(GenerationParams params, GenerateListener listener) {
    return generate(params, newRequestId(), listener);
  }

  /**
   * Runs one generation on this thread: every stream event goes to the listener in order, then its
   * onCompleted. Returns the final job; throws {@link JobFailedException} when it did not succeed
   * and {@link io.grpc.StatusRuntimeException} on an error status (see {@link CadenzaErrors}).
   */
  public Job generate(GenerationParams params, String requestId, GenerateListener listener) {
    Iterator<GenerateResponse> stream = blocking.generate(request(params, requestId));
    Job job = null;
    while (stream.hasNext()) {
      job = dispatch(stream.next(), job, listener);
    }
    return finish(job, listener);
  }

  /**
   * The same without blocking: events go to the listener on gRPC's executor; the future completes
   * with the final job, or exceptionally (also reported to listener.onError).
   */
  public CompletableFuture<Job> generateAsync(GenerationParams params, String requestId, GenerateListener listener) {
    CompletableFuture<Job> result = new CompletableFuture<>();
    async.generate(request(params, requestId), new StreamObserver<>() {
      private Job job;

      @Override
      public void onNext(GenerateResponse event) {
        job = dispatch(event, job, listener);
      }

      @Override
      public void onError(Throwable error) {
        listener.onError(error);
        result.completeExceptionally(error);
      }

      @Override
      public void onCompleted() {
        try {
          result.complete(finish(job, listener));
        } catch (RuntimeException error) {
          listener.onError(error);
          result.completeExceptionally(error);
        }
      }
    });
    return result;
  }

  private static GenerateRequest request(GenerationParams params, String requestId) {
    return GenerateRequest.newBuilder().setRequestId(requestId).setParams(params).build();
  }

  private static Job dispatch(GenerateResponse event, Job job, GenerateListener listener) {
    switch (event.getEventCase()) {
      case JOB -> {
        listener.onJob(event.getJob());
        return event.getJob();
      }
      case PROGRESS -> listener.onProgress(event.getProgress());
      case PHASE -> listener.onPhase(event.getPhase());
      case NOTICE -> listener.onNotice(event.getNotice());
      default -> { } // an event kind newer than this SDK
    }
    return job;
  }

  private static Job finish(Job job, GenerateListener listener) {
    if (job == null) {
      throw new IllegalStateException("the Generate stream ended without a job");
    }
    if (job.getState() != JobState.JOB_STATE_SUCCEEDED) {
      throw new JobFailedException(job);
    }
    listener.onCompleted(job);
    return job;
  }

  /**
   * GetTrack, then its presigned audio URL into path, checked against the track's audio_sha256
   * (the file is deleted on a mismatch).
   */
  public GetTrackResponse downloadTrack(String name, Path path) throws IOException, InterruptedException {
    GetTrackResponse got = blocking.getTrack(GetTrackRequest.newBuilder().setName(name).build());
    if (got.getAudioUrl().isEmpty()) {
      throw new IOException(name + " has no audio URL");
    }
    HttpResponse<InputStream> response = http.send(
        HttpRequest.newBuilder(URI.create(got.getAudioUrl())).GET().build(),
        HttpResponse.BodyHandlers.ofInputStream());
    MessageDigest digest;
    try {
      digest = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    try (InputStream body = response.body()) {
      if (response.statusCode() != 200) {
        throw new IOException("download of " + name + ": HTTP " + response.statusCode());
      }
      try (OutputStream out = new DigestOutputStream(Files.newOutputStream(path), digest)) {
        body.transferTo(out);
      }
      String sha256 = HexFormat.of().formatHex(digest.digest());
      String expected = got.getTrack().getAudioSha256();
      if (!sha256.equals(expected)) {
        throw new IOException("download of " + name + ": sha256 " + sha256 + ", the track says " + expected);
      }
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(path);
      throw e;
    }
    return got;
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdown();
    if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
      channel.shutdownNow();
    }
  }
}
