package dev.cadenza.orchestrator.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * The public edge of Cadenza. Every call carries "authorization: Bearer &lt;JWT&gt;".
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class OrchestratorServiceGrpc {

  private OrchestratorServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "cadenza.orchestrator.v1.OrchestratorService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.SubmitGenerationRequest,
      dev.cadenza.orchestrator.v1.SubmitGenerationResponse> getSubmitGenerationMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "SubmitGeneration",
      requestType = dev.cadenza.orchestrator.v1.SubmitGenerationRequest.class,
      responseType = dev.cadenza.orchestrator.v1.SubmitGenerationResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.SubmitGenerationRequest,
      dev.cadenza.orchestrator.v1.SubmitGenerationResponse> getSubmitGenerationMethod() {
    io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.SubmitGenerationRequest, dev.cadenza.orchestrator.v1.SubmitGenerationResponse> getSubmitGenerationMethod;
    if ((getSubmitGenerationMethod = OrchestratorServiceGrpc.getSubmitGenerationMethod) == null) {
      synchronized (OrchestratorServiceGrpc.class) {
        if ((getSubmitGenerationMethod = OrchestratorServiceGrpc.getSubmitGenerationMethod) == null) {
          OrchestratorServiceGrpc.getSubmitGenerationMethod = getSubmitGenerationMethod =
              io.grpc.MethodDescriptor.<dev.cadenza.orchestrator.v1.SubmitGenerationRequest, dev.cadenza.orchestrator.v1.SubmitGenerationResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "SubmitGeneration"))
              .setIdempotent(true)
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.SubmitGenerationRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.SubmitGenerationResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OrchestratorServiceMethodDescriptorSupplier("SubmitGeneration"))
              .build();
        }
      }
    }
    return getSubmitGenerationMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.WatchJobRequest,
      dev.cadenza.orchestrator.v1.WatchJobResponse> getWatchJobMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "WatchJob",
      requestType = dev.cadenza.orchestrator.v1.WatchJobRequest.class,
      responseType = dev.cadenza.orchestrator.v1.WatchJobResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.WatchJobRequest,
      dev.cadenza.orchestrator.v1.WatchJobResponse> getWatchJobMethod() {
    io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.WatchJobRequest, dev.cadenza.orchestrator.v1.WatchJobResponse> getWatchJobMethod;
    if ((getWatchJobMethod = OrchestratorServiceGrpc.getWatchJobMethod) == null) {
      synchronized (OrchestratorServiceGrpc.class) {
        if ((getWatchJobMethod = OrchestratorServiceGrpc.getWatchJobMethod) == null) {
          OrchestratorServiceGrpc.getWatchJobMethod = getWatchJobMethod =
              io.grpc.MethodDescriptor.<dev.cadenza.orchestrator.v1.WatchJobRequest, dev.cadenza.orchestrator.v1.WatchJobResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "WatchJob"))
              .setSafe(true)
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.WatchJobRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.WatchJobResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OrchestratorServiceMethodDescriptorSupplier("WatchJob"))
              .build();
        }
      }
    }
    return getWatchJobMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.GenerateRequest,
      dev.cadenza.orchestrator.v1.GenerateResponse> getGenerateMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Generate",
      requestType = dev.cadenza.orchestrator.v1.GenerateRequest.class,
      responseType = dev.cadenza.orchestrator.v1.GenerateResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.GenerateRequest,
      dev.cadenza.orchestrator.v1.GenerateResponse> getGenerateMethod() {
    io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.GenerateRequest, dev.cadenza.orchestrator.v1.GenerateResponse> getGenerateMethod;
    if ((getGenerateMethod = OrchestratorServiceGrpc.getGenerateMethod) == null) {
      synchronized (OrchestratorServiceGrpc.class) {
        if ((getGenerateMethod = OrchestratorServiceGrpc.getGenerateMethod) == null) {
          OrchestratorServiceGrpc.getGenerateMethod = getGenerateMethod =
              io.grpc.MethodDescriptor.<dev.cadenza.orchestrator.v1.GenerateRequest, dev.cadenza.orchestrator.v1.GenerateResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Generate"))
              .setIdempotent(true)
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.GenerateRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.GenerateResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OrchestratorServiceMethodDescriptorSupplier("Generate"))
              .build();
        }
      }
    }
    return getGenerateMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.CancelJobRequest,
      dev.cadenza.orchestrator.v1.CancelJobResponse> getCancelJobMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CancelJob",
      requestType = dev.cadenza.orchestrator.v1.CancelJobRequest.class,
      responseType = dev.cadenza.orchestrator.v1.CancelJobResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.CancelJobRequest,
      dev.cadenza.orchestrator.v1.CancelJobResponse> getCancelJobMethod() {
    io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.CancelJobRequest, dev.cadenza.orchestrator.v1.CancelJobResponse> getCancelJobMethod;
    if ((getCancelJobMethod = OrchestratorServiceGrpc.getCancelJobMethod) == null) {
      synchronized (OrchestratorServiceGrpc.class) {
        if ((getCancelJobMethod = OrchestratorServiceGrpc.getCancelJobMethod) == null) {
          OrchestratorServiceGrpc.getCancelJobMethod = getCancelJobMethod =
              io.grpc.MethodDescriptor.<dev.cadenza.orchestrator.v1.CancelJobRequest, dev.cadenza.orchestrator.v1.CancelJobResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CancelJob"))
              .setIdempotent(true)
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.CancelJobRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.CancelJobResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OrchestratorServiceMethodDescriptorSupplier("CancelJob"))
              .build();
        }
      }
    }
    return getCancelJobMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.GetJobRequest,
      dev.cadenza.orchestrator.v1.GetJobResponse> getGetJobMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetJob",
      requestType = dev.cadenza.orchestrator.v1.GetJobRequest.class,
      responseType = dev.cadenza.orchestrator.v1.GetJobResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.GetJobRequest,
      dev.cadenza.orchestrator.v1.GetJobResponse> getGetJobMethod() {
    io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.GetJobRequest, dev.cadenza.orchestrator.v1.GetJobResponse> getGetJobMethod;
    if ((getGetJobMethod = OrchestratorServiceGrpc.getGetJobMethod) == null) {
      synchronized (OrchestratorServiceGrpc.class) {
        if ((getGetJobMethod = OrchestratorServiceGrpc.getGetJobMethod) == null) {
          OrchestratorServiceGrpc.getGetJobMethod = getGetJobMethod =
              io.grpc.MethodDescriptor.<dev.cadenza.orchestrator.v1.GetJobRequest, dev.cadenza.orchestrator.v1.GetJobResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetJob"))
              .setSafe(true)
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.GetJobRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.GetJobResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OrchestratorServiceMethodDescriptorSupplier("GetJob"))
              .build();
        }
      }
    }
    return getGetJobMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.ListJobsRequest,
      dev.cadenza.orchestrator.v1.ListJobsResponse> getListJobsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListJobs",
      requestType = dev.cadenza.orchestrator.v1.ListJobsRequest.class,
      responseType = dev.cadenza.orchestrator.v1.ListJobsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.ListJobsRequest,
      dev.cadenza.orchestrator.v1.ListJobsResponse> getListJobsMethod() {
    io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.ListJobsRequest, dev.cadenza.orchestrator.v1.ListJobsResponse> getListJobsMethod;
    if ((getListJobsMethod = OrchestratorServiceGrpc.getListJobsMethod) == null) {
      synchronized (OrchestratorServiceGrpc.class) {
        if ((getListJobsMethod = OrchestratorServiceGrpc.getListJobsMethod) == null) {
          OrchestratorServiceGrpc.getListJobsMethod = getListJobsMethod =
              io.grpc.MethodDescriptor.<dev.cadenza.orchestrator.v1.ListJobsRequest, dev.cadenza.orchestrator.v1.ListJobsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListJobs"))
              .setSafe(true)
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.ListJobsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.ListJobsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OrchestratorServiceMethodDescriptorSupplier("ListJobs"))
              .build();
        }
      }
    }
    return getListJobsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.GetTrackRequest,
      dev.cadenza.orchestrator.v1.GetTrackResponse> getGetTrackMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetTrack",
      requestType = dev.cadenza.orchestrator.v1.GetTrackRequest.class,
      responseType = dev.cadenza.orchestrator.v1.GetTrackResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.GetTrackRequest,
      dev.cadenza.orchestrator.v1.GetTrackResponse> getGetTrackMethod() {
    io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.GetTrackRequest, dev.cadenza.orchestrator.v1.GetTrackResponse> getGetTrackMethod;
    if ((getGetTrackMethod = OrchestratorServiceGrpc.getGetTrackMethod) == null) {
      synchronized (OrchestratorServiceGrpc.class) {
        if ((getGetTrackMethod = OrchestratorServiceGrpc.getGetTrackMethod) == null) {
          OrchestratorServiceGrpc.getGetTrackMethod = getGetTrackMethod =
              io.grpc.MethodDescriptor.<dev.cadenza.orchestrator.v1.GetTrackRequest, dev.cadenza.orchestrator.v1.GetTrackResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetTrack"))
              .setSafe(true)
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.GetTrackRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.GetTrackResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OrchestratorServiceMethodDescriptorSupplier("GetTrack"))
              .build();
        }
      }
    }
    return getGetTrackMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.ListTracksRequest,
      dev.cadenza.orchestrator.v1.ListTracksResponse> getListTracksMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListTracks",
      requestType = dev.cadenza.orchestrator.v1.ListTracksRequest.class,
      responseType = dev.cadenza.orchestrator.v1.ListTracksResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.ListTracksRequest,
      dev.cadenza.orchestrator.v1.ListTracksResponse> getListTracksMethod() {
    io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.ListTracksRequest, dev.cadenza.orchestrator.v1.ListTracksResponse> getListTracksMethod;
    if ((getListTracksMethod = OrchestratorServiceGrpc.getListTracksMethod) == null) {
      synchronized (OrchestratorServiceGrpc.class) {
        if ((getListTracksMethod = OrchestratorServiceGrpc.getListTracksMethod) == null) {
          OrchestratorServiceGrpc.getListTracksMethod = getListTracksMethod =
              io.grpc.MethodDescriptor.<dev.cadenza.orchestrator.v1.ListTracksRequest, dev.cadenza.orchestrator.v1.ListTracksResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListTracks"))
              .setSafe(true)
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.ListTracksRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.ListTracksResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OrchestratorServiceMethodDescriptorSupplier("ListTracks"))
              .build();
        }
      }
    }
    return getListTracksMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.CreateVariationRequest,
      dev.cadenza.orchestrator.v1.CreateVariationResponse> getCreateVariationMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CreateVariation",
      requestType = dev.cadenza.orchestrator.v1.CreateVariationRequest.class,
      responseType = dev.cadenza.orchestrator.v1.CreateVariationResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.CreateVariationRequest,
      dev.cadenza.orchestrator.v1.CreateVariationResponse> getCreateVariationMethod() {
    io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.CreateVariationRequest, dev.cadenza.orchestrator.v1.CreateVariationResponse> getCreateVariationMethod;
    if ((getCreateVariationMethod = OrchestratorServiceGrpc.getCreateVariationMethod) == null) {
      synchronized (OrchestratorServiceGrpc.class) {
        if ((getCreateVariationMethod = OrchestratorServiceGrpc.getCreateVariationMethod) == null) {
          OrchestratorServiceGrpc.getCreateVariationMethod = getCreateVariationMethod =
              io.grpc.MethodDescriptor.<dev.cadenza.orchestrator.v1.CreateVariationRequest, dev.cadenza.orchestrator.v1.CreateVariationResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CreateVariation"))
              .setIdempotent(true)
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.CreateVariationRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.CreateVariationResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OrchestratorServiceMethodDescriptorSupplier("CreateVariation"))
              .build();
        }
      }
    }
    return getCreateVariationMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.SearchSimilarTracksRequest,
      dev.cadenza.orchestrator.v1.SearchSimilarTracksResponse> getSearchSimilarTracksMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "SearchSimilarTracks",
      requestType = dev.cadenza.orchestrator.v1.SearchSimilarTracksRequest.class,
      responseType = dev.cadenza.orchestrator.v1.SearchSimilarTracksResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.SearchSimilarTracksRequest,
      dev.cadenza.orchestrator.v1.SearchSimilarTracksResponse> getSearchSimilarTracksMethod() {
    io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.SearchSimilarTracksRequest, dev.cadenza.orchestrator.v1.SearchSimilarTracksResponse> getSearchSimilarTracksMethod;
    if ((getSearchSimilarTracksMethod = OrchestratorServiceGrpc.getSearchSimilarTracksMethod) == null) {
      synchronized (OrchestratorServiceGrpc.class) {
        if ((getSearchSimilarTracksMethod = OrchestratorServiceGrpc.getSearchSimilarTracksMethod) == null) {
          OrchestratorServiceGrpc.getSearchSimilarTracksMethod = getSearchSimilarTracksMethod =
              io.grpc.MethodDescriptor.<dev.cadenza.orchestrator.v1.SearchSimilarTracksRequest, dev.cadenza.orchestrator.v1.SearchSimilarTracksResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "SearchSimilarTracks"))
              .setSafe(true)
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.SearchSimilarTracksRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.SearchSimilarTracksResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OrchestratorServiceMethodDescriptorSupplier("SearchSimilarTracks"))
              .build();
        }
      }
    }
    return getSearchSimilarTracksMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.GetLineageRequest,
      dev.cadenza.orchestrator.v1.GetLineageResponse> getGetLineageMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetLineage",
      requestType = dev.cadenza.orchestrator.v1.GetLineageRequest.class,
      responseType = dev.cadenza.orchestrator.v1.GetLineageResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.GetLineageRequest,
      dev.cadenza.orchestrator.v1.GetLineageResponse> getGetLineageMethod() {
    io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.GetLineageRequest, dev.cadenza.orchestrator.v1.GetLineageResponse> getGetLineageMethod;
    if ((getGetLineageMethod = OrchestratorServiceGrpc.getGetLineageMethod) == null) {
      synchronized (OrchestratorServiceGrpc.class) {
        if ((getGetLineageMethod = OrchestratorServiceGrpc.getGetLineageMethod) == null) {
          OrchestratorServiceGrpc.getGetLineageMethod = getGetLineageMethod =
              io.grpc.MethodDescriptor.<dev.cadenza.orchestrator.v1.GetLineageRequest, dev.cadenza.orchestrator.v1.GetLineageResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetLineage"))
              .setSafe(true)
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.GetLineageRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.GetLineageResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OrchestratorServiceMethodDescriptorSupplier("GetLineage"))
              .build();
        }
      }
    }
    return getGetLineageMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.DeleteTrackRequest,
      dev.cadenza.orchestrator.v1.DeleteTrackResponse> getDeleteTrackMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "DeleteTrack",
      requestType = dev.cadenza.orchestrator.v1.DeleteTrackRequest.class,
      responseType = dev.cadenza.orchestrator.v1.DeleteTrackResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.DeleteTrackRequest,
      dev.cadenza.orchestrator.v1.DeleteTrackResponse> getDeleteTrackMethod() {
    io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.DeleteTrackRequest, dev.cadenza.orchestrator.v1.DeleteTrackResponse> getDeleteTrackMethod;
    if ((getDeleteTrackMethod = OrchestratorServiceGrpc.getDeleteTrackMethod) == null) {
      synchronized (OrchestratorServiceGrpc.class) {
        if ((getDeleteTrackMethod = OrchestratorServiceGrpc.getDeleteTrackMethod) == null) {
          OrchestratorServiceGrpc.getDeleteTrackMethod = getDeleteTrackMethod =
              io.grpc.MethodDescriptor.<dev.cadenza.orchestrator.v1.DeleteTrackRequest, dev.cadenza.orchestrator.v1.DeleteTrackResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "DeleteTrack"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.DeleteTrackRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.DeleteTrackResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OrchestratorServiceMethodDescriptorSupplier("DeleteTrack"))
              .build();
        }
      }
    }
    return getDeleteTrackMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.ListCommunitiesRequest,
      dev.cadenza.orchestrator.v1.ListCommunitiesResponse> getListCommunitiesMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListCommunities",
      requestType = dev.cadenza.orchestrator.v1.ListCommunitiesRequest.class,
      responseType = dev.cadenza.orchestrator.v1.ListCommunitiesResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.ListCommunitiesRequest,
      dev.cadenza.orchestrator.v1.ListCommunitiesResponse> getListCommunitiesMethod() {
    io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.ListCommunitiesRequest, dev.cadenza.orchestrator.v1.ListCommunitiesResponse> getListCommunitiesMethod;
    if ((getListCommunitiesMethod = OrchestratorServiceGrpc.getListCommunitiesMethod) == null) {
      synchronized (OrchestratorServiceGrpc.class) {
        if ((getListCommunitiesMethod = OrchestratorServiceGrpc.getListCommunitiesMethod) == null) {
          OrchestratorServiceGrpc.getListCommunitiesMethod = getListCommunitiesMethod =
              io.grpc.MethodDescriptor.<dev.cadenza.orchestrator.v1.ListCommunitiesRequest, dev.cadenza.orchestrator.v1.ListCommunitiesResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListCommunities"))
              .setSafe(true)
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.ListCommunitiesRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.ListCommunitiesResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OrchestratorServiceMethodDescriptorSupplier("ListCommunities"))
              .build();
        }
      }
    }
    return getListCommunitiesMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.ListCentralTracksRequest,
      dev.cadenza.orchestrator.v1.ListCentralTracksResponse> getListCentralTracksMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListCentralTracks",
      requestType = dev.cadenza.orchestrator.v1.ListCentralTracksRequest.class,
      responseType = dev.cadenza.orchestrator.v1.ListCentralTracksResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.ListCentralTracksRequest,
      dev.cadenza.orchestrator.v1.ListCentralTracksResponse> getListCentralTracksMethod() {
    io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.ListCentralTracksRequest, dev.cadenza.orchestrator.v1.ListCentralTracksResponse> getListCentralTracksMethod;
    if ((getListCentralTracksMethod = OrchestratorServiceGrpc.getListCentralTracksMethod) == null) {
      synchronized (OrchestratorServiceGrpc.class) {
        if ((getListCentralTracksMethod = OrchestratorServiceGrpc.getListCentralTracksMethod) == null) {
          OrchestratorServiceGrpc.getListCentralTracksMethod = getListCentralTracksMethod =
              io.grpc.MethodDescriptor.<dev.cadenza.orchestrator.v1.ListCentralTracksRequest, dev.cadenza.orchestrator.v1.ListCentralTracksResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListCentralTracks"))
              .setSafe(true)
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.ListCentralTracksRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.ListCentralTracksResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OrchestratorServiceMethodDescriptorSupplier("ListCentralTracks"))
              .build();
        }
      }
    }
    return getListCentralTracksMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.ListCentralTagsRequest,
      dev.cadenza.orchestrator.v1.ListCentralTagsResponse> getListCentralTagsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListCentralTags",
      requestType = dev.cadenza.orchestrator.v1.ListCentralTagsRequest.class,
      responseType = dev.cadenza.orchestrator.v1.ListCentralTagsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.ListCentralTagsRequest,
      dev.cadenza.orchestrator.v1.ListCentralTagsResponse> getListCentralTagsMethod() {
    io.grpc.MethodDescriptor<dev.cadenza.orchestrator.v1.ListCentralTagsRequest, dev.cadenza.orchestrator.v1.ListCentralTagsResponse> getListCentralTagsMethod;
    if ((getListCentralTagsMethod = OrchestratorServiceGrpc.getListCentralTagsMethod) == null) {
      synchronized (OrchestratorServiceGrpc.class) {
        if ((getListCentralTagsMethod = OrchestratorServiceGrpc.getListCentralTagsMethod) == null) {
          OrchestratorServiceGrpc.getListCentralTagsMethod = getListCentralTagsMethod =
              io.grpc.MethodDescriptor.<dev.cadenza.orchestrator.v1.ListCentralTagsRequest, dev.cadenza.orchestrator.v1.ListCentralTagsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListCentralTags"))
              .setSafe(true)
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.ListCentralTagsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.cadenza.orchestrator.v1.ListCentralTagsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OrchestratorServiceMethodDescriptorSupplier("ListCentralTags"))
              .build();
        }
      }
    }
    return getListCentralTagsMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static OrchestratorServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<OrchestratorServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<OrchestratorServiceStub>() {
        @java.lang.Override
        public OrchestratorServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new OrchestratorServiceStub(channel, callOptions);
        }
      };
    return OrchestratorServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static OrchestratorServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<OrchestratorServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<OrchestratorServiceBlockingV2Stub>() {
        @java.lang.Override
        public OrchestratorServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new OrchestratorServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return OrchestratorServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static OrchestratorServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<OrchestratorServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<OrchestratorServiceBlockingStub>() {
        @java.lang.Override
        public OrchestratorServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new OrchestratorServiceBlockingStub(channel, callOptions);
        }
      };
    return OrchestratorServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static OrchestratorServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<OrchestratorServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<OrchestratorServiceFutureStub>() {
        @java.lang.Override
        public OrchestratorServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new OrchestratorServiceFutureStub(channel, callOptions);
        }
      };
    return OrchestratorServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * The public edge of Cadenza. Every call carries "authorization: Bearer &lt;JWT&gt;".
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Queues a generation; the same (user, request_id) returns the same job.
     * </pre>
     */
    default void submitGeneration(dev.cadenza.orchestrator.v1.SubmitGenerationRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.SubmitGenerationResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getSubmitGenerationMethod(), responseObserver);
    }

    /**
     * <pre>
     * Streams a job: its current state first, then progress and phase events, ending with the final state.
     * </pre>
     */
    default void watchJob(dev.cadenza.orchestrator.v1.WatchJobRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.WatchJobResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getWatchJobMethod(), responseObserver);
    }

    /**
     * <pre>
     * SubmitGeneration + WatchJob in one stream. A new job's stream starts with the job as created
     * (PENDING) and PHASE_QUEUED and carries every phase and step, however soon a worker claims it; a
     * repeated request_id streams the earlier job from where it stands.
     * </pre>
     */
    default void generate(dev.cadenza.orchestrator.v1.GenerateRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.GenerateResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGenerateMethod(), responseObserver);
    }

    /**
     */
    default void cancelJob(dev.cadenza.orchestrator.v1.CancelJobRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.CancelJobResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCancelJobMethod(), responseObserver);
    }

    /**
     */
    default void getJob(dev.cadenza.orchestrator.v1.GetJobRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.GetJobResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetJobMethod(), responseObserver);
    }

    /**
     */
    default void listJobs(dev.cadenza.orchestrator.v1.ListJobsRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.ListJobsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListJobsMethod(), responseObserver);
    }

    /**
     * <pre>
     * The track with a presigned URL for its audio.
     * </pre>
     */
    default void getTrack(dev.cadenza.orchestrator.v1.GetTrackRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.GetTrackResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetTrackMethod(), responseObserver);
    }

    /**
     */
    default void listTracks(dev.cadenza.orchestrator.v1.ListTracksRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.ListTracksResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListTracksMethod(), responseObserver);
    }

    /**
     * <pre>
     * Queues a retake, variation, extend, repaint or remix of a track.
     * </pre>
     */
    default void createVariation(dev.cadenza.orchestrator.v1.CreateVariationRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.CreateVariationResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCreateVariationMethod(), responseObserver);
    }

    /**
     */
    default void searchSimilarTracks(dev.cadenza.orchestrator.v1.SearchSimilarTracksRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.SearchSimilarTracksResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getSearchSimilarTracksMethod(), responseObserver);
    }

    /**
     */
    default void getLineage(dev.cadenza.orchestrator.v1.GetLineageRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.GetLineageResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetLineageMethod(), responseObserver);
    }

    /**
     * <pre>
     * Removes a track from every store.
     * </pre>
     */
    default void deleteTrack(dev.cadenza.orchestrator.v1.DeleteTrackRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.DeleteTrackResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getDeleteTrackMethod(), responseObserver);
    }

    /**
     * <pre>
     * Communities of your tracks (an admin: of one user's, or of every track), or of the tags they
     * carry. Computed by the graph service off the request path and cached until the graph changes;
     * RESOURCE_EXHAUSTED (with a google.rpc.RetryInfo) while it is busy.
     * </pre>
     */
    default void listCommunities(dev.cadenza.orchestrator.v1.ListCommunitiesRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.ListCommunitiesResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListCommunitiesMethod(), responseObserver);
    }

    /**
     * <pre>
     * Your most central tracks (degree, PageRank or betweenness), scoped like ListCommunities.
     * </pre>
     */
    default void listCentralTracks(dev.cadenza.orchestrator.v1.ListCentralTracksRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.ListCentralTracksResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListCentralTracksMethod(), responseObserver);
    }

    /**
     * <pre>
     * The most central tags of your tracks, scoped like ListCommunities.
     * </pre>
     */
    default void listCentralTags(dev.cadenza.orchestrator.v1.ListCentralTagsRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.ListCentralTagsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListCentralTagsMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service OrchestratorService.
   * <pre>
   * The public edge of Cadenza. Every call carries "authorization: Bearer &lt;JWT&gt;".
   * </pre>
   */
  public static abstract class OrchestratorServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return OrchestratorServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service OrchestratorService.
   * <pre>
   * The public edge of Cadenza. Every call carries "authorization: Bearer &lt;JWT&gt;".
   * </pre>
   */
  public static final class OrchestratorServiceStub
      extends io.grpc.stub.AbstractAsyncStub<OrchestratorServiceStub> {
    private OrchestratorServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected OrchestratorServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new OrchestratorServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Queues a generation; the same (user, request_id) returns the same job.
     * </pre>
     */
    public void submitGeneration(dev.cadenza.orchestrator.v1.SubmitGenerationRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.SubmitGenerationResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getSubmitGenerationMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Streams a job: its current state first, then progress and phase events, ending with the final state.
     * </pre>
     */
    public void watchJob(dev.cadenza.orchestrator.v1.WatchJobRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.WatchJobResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getWatchJobMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * SubmitGeneration + WatchJob in one stream. A new job's stream starts with the job as created
     * (PENDING) and PHASE_QUEUED and carries every phase and step, however soon a worker claims it; a
     * repeated request_id streams the earlier job from where it stands.
     * </pre>
     */
    public void generate(dev.cadenza.orchestrator.v1.GenerateRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.GenerateResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getGenerateMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     */
    public void cancelJob(dev.cadenza.orchestrator.v1.CancelJobRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.CancelJobResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCancelJobMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     */
    public void getJob(dev.cadenza.orchestrator.v1.GetJobRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.GetJobResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetJobMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     */
    public void listJobs(dev.cadenza.orchestrator.v1.ListJobsRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.ListJobsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListJobsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * The track with a presigned URL for its audio.
     * </pre>
     */
    public void getTrack(dev.cadenza.orchestrator.v1.GetTrackRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.GetTrackResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetTrackMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     */
    public void listTracks(dev.cadenza.orchestrator.v1.ListTracksRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.ListTracksResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListTracksMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Queues a retake, variation, extend, repaint or remix of a track.
     * </pre>
     */
    public void createVariation(dev.cadenza.orchestrator.v1.CreateVariationRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.CreateVariationResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCreateVariationMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     */
    public void searchSimilarTracks(dev.cadenza.orchestrator.v1.SearchSimilarTracksRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.SearchSimilarTracksResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getSearchSimilarTracksMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     */
    public void getLineage(dev.cadenza.orchestrator.v1.GetLineageRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.GetLineageResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetLineageMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Removes a track from every store.
     * </pre>
     */
    public void deleteTrack(dev.cadenza.orchestrator.v1.DeleteTrackRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.DeleteTrackResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getDeleteTrackMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Communities of your tracks (an admin: of one user's, or of every track), or of the tags they
     * carry. Computed by the graph service off the request path and cached until the graph changes;
     * RESOURCE_EXHAUSTED (with a google.rpc.RetryInfo) while it is busy.
     * </pre>
     */
    public void listCommunities(dev.cadenza.orchestrator.v1.ListCommunitiesRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.ListCommunitiesResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListCommunitiesMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Your most central tracks (degree, PageRank or betweenness), scoped like ListCommunities.
     * </pre>
     */
    public void listCentralTracks(dev.cadenza.orchestrator.v1.ListCentralTracksRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.ListCentralTracksResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListCentralTracksMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * The most central tags of your tracks, scoped like ListCommunities.
     * </pre>
     */
    public void listCentralTags(dev.cadenza.orchestrator.v1.ListCentralTagsRequest request,
        io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.ListCentralTagsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListCentralTagsMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service OrchestratorService.
   * <pre>
   * The public edge of Cadenza. Every call carries "authorization: Bearer &lt;JWT&gt;".
   * </pre>
   */
  public static final class OrchestratorServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<OrchestratorServiceBlockingV2Stub> {
    private OrchestratorServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected OrchestratorServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new OrchestratorServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Queues a generation; the same (user, request_id) returns the same job.
     * </pre>
     */
    public dev.cadenza.orchestrator.v1.SubmitGenerationResponse submitGeneration(dev.cadenza.orchestrator.v1.SubmitGenerationRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getSubmitGenerationMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams a job: its current state first, then progress and phase events, ending with the final state.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<?, dev.cadenza.orchestrator.v1.WatchJobResponse>
        watchJob(dev.cadenza.orchestrator.v1.WatchJobRequest request) {
      return io.grpc.stub.ClientCalls.blockingV2ServerStreamingCall(
          getChannel(), getWatchJobMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * SubmitGeneration + WatchJob in one stream. A new job's stream starts with the job as created
     * (PENDING) and PHASE_QUEUED and carries every phase and step, however soon a worker claims it; a
     * repeated request_id streams the earlier job from where it stands.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<?, dev.cadenza.orchestrator.v1.GenerateResponse>
        generate(dev.cadenza.orchestrator.v1.GenerateRequest request) {
      return io.grpc.stub.ClientCalls.blockingV2ServerStreamingCall(
          getChannel(), getGenerateMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.cadenza.orchestrator.v1.CancelJobResponse cancelJob(dev.cadenza.orchestrator.v1.CancelJobRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCancelJobMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.cadenza.orchestrator.v1.GetJobResponse getJob(dev.cadenza.orchestrator.v1.GetJobRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetJobMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.cadenza.orchestrator.v1.ListJobsResponse listJobs(dev.cadenza.orchestrator.v1.ListJobsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListJobsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * The track with a presigned URL for its audio.
     * </pre>
     */
    public dev.cadenza.orchestrator.v1.GetTrackResponse getTrack(dev.cadenza.orchestrator.v1.GetTrackRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetTrackMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.cadenza.orchestrator.v1.ListTracksResponse listTracks(dev.cadenza.orchestrator.v1.ListTracksRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListTracksMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Queues a retake, variation, extend, repaint or remix of a track.
     * </pre>
     */
    public dev.cadenza.orchestrator.v1.CreateVariationResponse createVariation(dev.cadenza.orchestrator.v1.CreateVariationRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCreateVariationMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.cadenza.orchestrator.v1.SearchSimilarTracksResponse searchSimilarTracks(dev.cadenza.orchestrator.v1.SearchSimilarTracksRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getSearchSimilarTracksMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.cadenza.orchestrator.v1.GetLineageResponse getLineage(dev.cadenza.orchestrator.v1.GetLineageRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetLineageMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Removes a track from every store.
     * </pre>
     */
    public dev.cadenza.orchestrator.v1.DeleteTrackResponse deleteTrack(dev.cadenza.orchestrator.v1.DeleteTrackRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getDeleteTrackMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Communities of your tracks (an admin: of one user's, or of every track), or of the tags they
     * carry. Computed by the graph service off the request path and cached until the graph changes;
     * RESOURCE_EXHAUSTED (with a google.rpc.RetryInfo) while it is busy.
     * </pre>
     */
    public dev.cadenza.orchestrator.v1.ListCommunitiesResponse listCommunities(dev.cadenza.orchestrator.v1.ListCommunitiesRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListCommunitiesMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Your most central tracks (degree, PageRank or betweenness), scoped like ListCommunities.
     * </pre>
     */
    public dev.cadenza.orchestrator.v1.ListCentralTracksResponse listCentralTracks(dev.cadenza.orchestrator.v1.ListCentralTracksRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListCentralTracksMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * The most central tags of your tracks, scoped like ListCommunities.
     * </pre>
     */
    public dev.cadenza.orchestrator.v1.ListCentralTagsResponse listCentralTags(dev.cadenza.orchestrator.v1.ListCentralTagsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListCentralTagsMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service OrchestratorService.
   * <pre>
   * The public edge of Cadenza. Every call carries "authorization: Bearer &lt;JWT&gt;".
   * </pre>
   */
  public static final class OrchestratorServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<OrchestratorServiceBlockingStub> {
    private OrchestratorServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected OrchestratorServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new OrchestratorServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Queues a generation; the same (user, request_id) returns the same job.
     * </pre>
     */
    public dev.cadenza.orchestrator.v1.SubmitGenerationResponse submitGeneration(dev.cadenza.orchestrator.v1.SubmitGenerationRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getSubmitGenerationMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams a job: its current state first, then progress and phase events, ending with the final state.
     * </pre>
     */
    public java.util.Iterator<dev.cadenza.orchestrator.v1.WatchJobResponse> watchJob(
        dev.cadenza.orchestrator.v1.WatchJobRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getWatchJobMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * SubmitGeneration + WatchJob in one stream. A new job's stream starts with the job as created
     * (PENDING) and PHASE_QUEUED and carries every phase and step, however soon a worker claims it; a
     * repeated request_id streams the earlier job from where it stands.
     * </pre>
     */
    public java.util.Iterator<dev.cadenza.orchestrator.v1.GenerateResponse> generate(
        dev.cadenza.orchestrator.v1.GenerateRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getGenerateMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.cadenza.orchestrator.v1.CancelJobResponse cancelJob(dev.cadenza.orchestrator.v1.CancelJobRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCancelJobMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.cadenza.orchestrator.v1.GetJobResponse getJob(dev.cadenza.orchestrator.v1.GetJobRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetJobMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.cadenza.orchestrator.v1.ListJobsResponse listJobs(dev.cadenza.orchestrator.v1.ListJobsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListJobsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * The track with a presigned URL for its audio.
     * </pre>
     */
    public dev.cadenza.orchestrator.v1.GetTrackResponse getTrack(dev.cadenza.orchestrator.v1.GetTrackRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetTrackMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.cadenza.orchestrator.v1.ListTracksResponse listTracks(dev.cadenza.orchestrator.v1.ListTracksRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListTracksMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Queues a retake, variation, extend, repaint or remix of a track.
     * </pre>
     */
    public dev.cadenza.orchestrator.v1.CreateVariationResponse createVariation(dev.cadenza.orchestrator.v1.CreateVariationRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCreateVariationMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.cadenza.orchestrator.v1.SearchSimilarTracksResponse searchSimilarTracks(dev.cadenza.orchestrator.v1.SearchSimilarTracksRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getSearchSimilarTracksMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.cadenza.orchestrator.v1.GetLineageResponse getLineage(dev.cadenza.orchestrator.v1.GetLineageRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetLineageMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Removes a track from every store.
     * </pre>
     */
    public dev.cadenza.orchestrator.v1.DeleteTrackResponse deleteTrack(dev.cadenza.orchestrator.v1.DeleteTrackRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getDeleteTrackMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Communities of your tracks (an admin: of one user's, or of every track), or of the tags they
     * carry. Computed by the graph service off the request path and cached until the graph changes;
     * RESOURCE_EXHAUSTED (with a google.rpc.RetryInfo) while it is busy.
     * </pre>
     */
    public dev.cadenza.orchestrator.v1.ListCommunitiesResponse listCommunities(dev.cadenza.orchestrator.v1.ListCommunitiesRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListCommunitiesMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Your most central tracks (degree, PageRank or betweenness), scoped like ListCommunities.
     * </pre>
     */
    public dev.cadenza.orchestrator.v1.ListCentralTracksResponse listCentralTracks(dev.cadenza.orchestrator.v1.ListCentralTracksRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListCentralTracksMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * The most central tags of your tracks, scoped like ListCommunities.
     * </pre>
     */
    public dev.cadenza.orchestrator.v1.ListCentralTagsResponse listCentralTags(dev.cadenza.orchestrator.v1.ListCentralTagsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListCentralTagsMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service OrchestratorService.
   * <pre>
   * The public edge of Cadenza. Every call carries "authorization: Bearer &lt;JWT&gt;".
   * </pre>
   */
  public static final class OrchestratorServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<OrchestratorServiceFutureStub> {
    private OrchestratorServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected OrchestratorServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new OrchestratorServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Queues a generation; the same (user, request_id) returns the same job.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.cadenza.orchestrator.v1.SubmitGenerationResponse> submitGeneration(
        dev.cadenza.orchestrator.v1.SubmitGenerationRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getSubmitGenerationMethod(), getCallOptions()), request);
    }

    /**
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.cadenza.orchestrator.v1.CancelJobResponse> cancelJob(
        dev.cadenza.orchestrator.v1.CancelJobRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCancelJobMethod(), getCallOptions()), request);
    }

    /**
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.cadenza.orchestrator.v1.GetJobResponse> getJob(
        dev.cadenza.orchestrator.v1.GetJobRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetJobMethod(), getCallOptions()), request);
    }

    /**
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.cadenza.orchestrator.v1.ListJobsResponse> listJobs(
        dev.cadenza.orchestrator.v1.ListJobsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListJobsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * The track with a presigned URL for its audio.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.cadenza.orchestrator.v1.GetTrackResponse> getTrack(
        dev.cadenza.orchestrator.v1.GetTrackRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetTrackMethod(), getCallOptions()), request);
    }

    /**
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.cadenza.orchestrator.v1.ListTracksResponse> listTracks(
        dev.cadenza.orchestrator.v1.ListTracksRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListTracksMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Queues a retake, variation, extend, repaint or remix of a track.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.cadenza.orchestrator.v1.CreateVariationResponse> createVariation(
        dev.cadenza.orchestrator.v1.CreateVariationRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCreateVariationMethod(), getCallOptions()), request);
    }

    /**
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.cadenza.orchestrator.v1.SearchSimilarTracksResponse> searchSimilarTracks(
        dev.cadenza.orchestrator.v1.SearchSimilarTracksRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getSearchSimilarTracksMethod(), getCallOptions()), request);
    }

    /**
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.cadenza.orchestrator.v1.GetLineageResponse> getLineage(
        dev.cadenza.orchestrator.v1.GetLineageRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetLineageMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Removes a track from every store.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.cadenza.orchestrator.v1.DeleteTrackResponse> deleteTrack(
        dev.cadenza.orchestrator.v1.DeleteTrackRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getDeleteTrackMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Communities of your tracks (an admin: of one user's, or of every track), or of the tags they
     * carry. Computed by the graph service off the request path and cached until the graph changes;
     * RESOURCE_EXHAUSTED (with a google.rpc.RetryInfo) while it is busy.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.cadenza.orchestrator.v1.ListCommunitiesResponse> listCommunities(
        dev.cadenza.orchestrator.v1.ListCommunitiesRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListCommunitiesMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Your most central tracks (degree, PageRank or betweenness), scoped like ListCommunities.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.cadenza.orchestrator.v1.ListCentralTracksResponse> listCentralTracks(
        dev.cadenza.orchestrator.v1.ListCentralTracksRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListCentralTracksMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * The most central tags of your tracks, scoped like ListCommunities.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.cadenza.orchestrator.v1.ListCentralTagsResponse> listCentralTags(
        dev.cadenza.orchestrator.v1.ListCentralTagsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListCentralTagsMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_SUBMIT_GENERATION = 0;
  private static final int METHODID_WATCH_JOB = 1;
  private static final int METHODID_GENERATE = 2;
  private static final int METHODID_CANCEL_JOB = 3;
  private static final int METHODID_GET_JOB = 4;
  private static final int METHODID_LIST_JOBS = 5;
  private static final int METHODID_GET_TRACK = 6;
  private static final int METHODID_LIST_TRACKS = 7;
  private static final int METHODID_CREATE_VARIATION = 8;
  private static final int METHODID_SEARCH_SIMILAR_TRACKS = 9;
  private static final int METHODID_GET_LINEAGE = 10;
  private static final int METHODID_DELETE_TRACK = 11;
  private static final int METHODID_LIST_COMMUNITIES = 12;
  private static final int METHODID_LIST_CENTRAL_TRACKS = 13;
  private static final int METHODID_LIST_CENTRAL_TAGS = 14;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final AsyncService serviceImpl;
    private final int methodId;

    MethodHandlers(AsyncService serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_SUBMIT_GENERATION:
          serviceImpl.submitGeneration((dev.cadenza.orchestrator.v1.SubmitGenerationRequest) request,
              (io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.SubmitGenerationResponse>) responseObserver);
          break;
        case METHODID_WATCH_JOB:
          serviceImpl.watchJob((dev.cadenza.orchestrator.v1.WatchJobRequest) request,
              (io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.WatchJobResponse>) responseObserver);
          break;
        case METHODID_GENERATE:
          serviceImpl.generate((dev.cadenza.orchestrator.v1.GenerateRequest) request,
              (io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.GenerateResponse>) responseObserver);
          break;
        case METHODID_CANCEL_JOB:
          serviceImpl.cancelJob((dev.cadenza.orchestrator.v1.CancelJobRequest) request,
              (io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.CancelJobResponse>) responseObserver);
          break;
        case METHODID_GET_JOB:
          serviceImpl.getJob((dev.cadenza.orchestrator.v1.GetJobRequest) request,
              (io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.GetJobResponse>) responseObserver);
          break;
        case METHODID_LIST_JOBS:
          serviceImpl.listJobs((dev.cadenza.orchestrator.v1.ListJobsRequest) request,
              (io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.ListJobsResponse>) responseObserver);
          break;
        case METHODID_GET_TRACK:
          serviceImpl.getTrack((dev.cadenza.orchestrator.v1.GetTrackRequest) request,
              (io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.GetTrackResponse>) responseObserver);
          break;
        case METHODID_LIST_TRACKS:
          serviceImpl.listTracks((dev.cadenza.orchestrator.v1.ListTracksRequest) request,
              (io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.ListTracksResponse>) responseObserver);
          break;
        case METHODID_CREATE_VARIATION:
          serviceImpl.createVariation((dev.cadenza.orchestrator.v1.CreateVariationRequest) request,
              (io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.CreateVariationResponse>) responseObserver);
          break;
        case METHODID_SEARCH_SIMILAR_TRACKS:
          serviceImpl.searchSimilarTracks((dev.cadenza.orchestrator.v1.SearchSimilarTracksRequest) request,
              (io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.SearchSimilarTracksResponse>) responseObserver);
          break;
        case METHODID_GET_LINEAGE:
          serviceImpl.getLineage((dev.cadenza.orchestrator.v1.GetLineageRequest) request,
              (io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.GetLineageResponse>) responseObserver);
          break;
        case METHODID_DELETE_TRACK:
          serviceImpl.deleteTrack((dev.cadenza.orchestrator.v1.DeleteTrackRequest) request,
              (io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.DeleteTrackResponse>) responseObserver);
          break;
        case METHODID_LIST_COMMUNITIES:
          serviceImpl.listCommunities((dev.cadenza.orchestrator.v1.ListCommunitiesRequest) request,
              (io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.ListCommunitiesResponse>) responseObserver);
          break;
        case METHODID_LIST_CENTRAL_TRACKS:
          serviceImpl.listCentralTracks((dev.cadenza.orchestrator.v1.ListCentralTracksRequest) request,
              (io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.ListCentralTracksResponse>) responseObserver);
          break;
        case METHODID_LIST_CENTRAL_TAGS:
          serviceImpl.listCentralTags((dev.cadenza.orchestrator.v1.ListCentralTagsRequest) request,
              (io.grpc.stub.StreamObserver<dev.cadenza.orchestrator.v1.ListCentralTagsResponse>) responseObserver);
          break;
        default:
          throw new AssertionError();
      }
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public io.grpc.stub.StreamObserver<Req> invoke(
        io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        default:
          throw new AssertionError();
      }
    }
  }

  public static final io.grpc.ServerServiceDefinition bindService(AsyncService service) {
    return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
        .addMethod(
          getSubmitGenerationMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.cadenza.orchestrator.v1.SubmitGenerationRequest,
              dev.cadenza.orchestrator.v1.SubmitGenerationResponse>(
                service, METHODID_SUBMIT_GENERATION)))
        .addMethod(
          getWatchJobMethod(),
          io.grpc.stub.ServerCalls.asyncServerStreamingCall(
            new MethodHandlers<
              dev.cadenza.orchestrator.v1.WatchJobRequest,
              dev.cadenza.orchestrator.v1.WatchJobResponse>(
                service, METHODID_WATCH_JOB)))
        .addMethod(
          getGenerateMethod(),
          io.grpc.stub.ServerCalls.asyncServerStreamingCall(
            new MethodHandlers<
              dev.cadenza.orchestrator.v1.GenerateRequest,
              dev.cadenza.orchestrator.v1.GenerateResponse>(
                service, METHODID_GENERATE)))
        .addMethod(
          getCancelJobMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.cadenza.orchestrator.v1.CancelJobRequest,
              dev.cadenza.orchestrator.v1.CancelJobResponse>(
                service, METHODID_CANCEL_JOB)))
        .addMethod(
          getGetJobMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.cadenza.orchestrator.v1.GetJobRequest,
              dev.cadenza.orchestrator.v1.GetJobResponse>(
                service, METHODID_GET_JOB)))
        .addMethod(
          getListJobsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.cadenza.orchestrator.v1.ListJobsRequest,
              dev.cadenza.orchestrator.v1.ListJobsResponse>(
                service, METHODID_LIST_JOBS)))
        .addMethod(
          getGetTrackMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.cadenza.orchestrator.v1.GetTrackRequest,
              dev.cadenza.orchestrator.v1.GetTrackResponse>(
                service, METHODID_GET_TRACK)))
        .addMethod(
          getListTracksMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.cadenza.orchestrator.v1.ListTracksRequest,
              dev.cadenza.orchestrator.v1.ListTracksResponse>(
                service, METHODID_LIST_TRACKS)))
        .addMethod(
          getCreateVariationMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.cadenza.orchestrator.v1.CreateVariationRequest,
              dev.cadenza.orchestrator.v1.CreateVariationResponse>(
                service, METHODID_CREATE_VARIATION)))
        .addMethod(
          getSearchSimilarTracksMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.cadenza.orchestrator.v1.SearchSimilarTracksRequest,
              dev.cadenza.orchestrator.v1.SearchSimilarTracksResponse>(
                service, METHODID_SEARCH_SIMILAR_TRACKS)))
        .addMethod(
          getGetLineageMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.cadenza.orchestrator.v1.GetLineageRequest,
              dev.cadenza.orchestrator.v1.GetLineageResponse>(
                service, METHODID_GET_LINEAGE)))
        .addMethod(
          getDeleteTrackMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.cadenza.orchestrator.v1.DeleteTrackRequest,
              dev.cadenza.orchestrator.v1.DeleteTrackResponse>(
                service, METHODID_DELETE_TRACK)))
        .addMethod(
          getListCommunitiesMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.cadenza.orchestrator.v1.ListCommunitiesRequest,
              dev.cadenza.orchestrator.v1.ListCommunitiesResponse>(
                service, METHODID_LIST_COMMUNITIES)))
        .addMethod(
          getListCentralTracksMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.cadenza.orchestrator.v1.ListCentralTracksRequest,
              dev.cadenza.orchestrator.v1.ListCentralTracksResponse>(
                service, METHODID_LIST_CENTRAL_TRACKS)))
        .addMethod(
          getListCentralTagsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.cadenza.orchestrator.v1.ListCentralTagsRequest,
              dev.cadenza.orchestrator.v1.ListCentralTagsResponse>(
                service, METHODID_LIST_CENTRAL_TAGS)))
        .build();
  }

  private static abstract class OrchestratorServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    OrchestratorServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.cadenza.orchestrator.v1.OrchestratorProto.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("OrchestratorService");
    }
  }

  private static final class OrchestratorServiceFileDescriptorSupplier
      extends OrchestratorServiceBaseDescriptorSupplier {
    OrchestratorServiceFileDescriptorSupplier() {}
  }

  private static final class OrchestratorServiceMethodDescriptorSupplier
      extends OrchestratorServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    OrchestratorServiceMethodDescriptorSupplier(java.lang.String methodName) {
      this.methodName = methodName;
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.MethodDescriptor getMethodDescriptor() {
      return getServiceDescriptor().findMethodByName(methodName);
    }
  }

  private static volatile io.grpc.ServiceDescriptor serviceDescriptor;

  public static io.grpc.ServiceDescriptor getServiceDescriptor() {
    io.grpc.ServiceDescriptor result = serviceDescriptor;
    if (result == null) {
      synchronized (OrchestratorServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new OrchestratorServiceFileDescriptorSupplier())
              .addMethod(getSubmitGenerationMethod())
              .addMethod(getWatchJobMethod())
              .addMethod(getGenerateMethod())
              .addMethod(getCancelJobMethod())
              .addMethod(getGetJobMethod())
              .addMethod(getListJobsMethod())
              .addMethod(getGetTrackMethod())
              .addMethod(getListTracksMethod())
              .addMethod(getCreateVariationMethod())
              .addMethod(getSearchSimilarTracksMethod())
              .addMethod(getGetLineageMethod())
              .addMethod(getDeleteTrackMethod())
              .addMethod(getListCommunitiesMethod())
              .addMethod(getListCentralTracksMethod())
              .addMethod(getListCentralTagsMethod())
              .build();
        }
      }
    }
    return result;
  }
}
