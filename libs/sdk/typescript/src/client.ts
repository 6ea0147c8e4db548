// The convenience layer: a client with a bearer token over Connect's gRPC transport (HTTP/2),
// Generate as an async iterator or with a callback, and downloads with their SHA-256 checked.
import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { unlink } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";

import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

import { type GenerationParamsSchema, type Job, JobState } from "./gen/cadenza/common/v1/types_pb.js";
import {
  type GenerateResponse,
  type GetTrackResponse,
  OrchestratorService,
} from "./gen/cadenza/orchestrator/v1/orchestrator_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "./gen/grpc/health/v1/health_pb.js";

export type GenerationParamsInit = MessageInitShape<typeof GenerationParamsSchema>;
/** One Generate stream event: `{case: "job" | "progress" | "phase" | "notice", value}`. */
export type GenerateEvent = Exclude<GenerateResponse["event"], { case: undefined }>;

export interface ConnectOptions {
  /** Bearer token (`cadenza token --user <id>`); without one every orchestrator call is UNAUTHENTICATED. */
  token?: string;
  /** "http://host:port" (plaintext, as the local suite serves) or "https://host:port". */
  baseUrl?: string;
  /** Milliseconds for each unary call (streams: pass `signal`/`timeoutMs` per call). */
  defaultTimeoutMs?: number;
}

export interface GenerateOptions {
  /** Idempotency key; the same one resumes the same job after a dropped stream. Default: random. */
  requestId?: string;
  /** Called for every event, in order, before it is yielded. */
  onEvent?: (event: GenerateEvent) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** A generation that ended in another state than SUCCEEDED. */
export class JobFailedError extends Error {
  constructor(readonly job: Job) {
    super(`job ${job.name} ended ${JobState[job.state]}: ${job.failureMessage}`);
    this.name = "JobFailedError";
  }
}

export class CadenzaClient {
  /** The generated client for every orchestrator RPC (calls carry the token). */
  readonly orchestrator: Client<typeof OrchestratorService>;
  readonly health: Client<typeof Health>;

  constructor(readonly transport: Transport) {
    this.orchestrator = createClient(OrchestratorService, transport);
    this.health = createClient(Health, transport);
  }

  /** grpc.health.v1 status of the server ("") or of one service. */
  async healthStatus(service = ""): Promise<HealthCheckResponse_ServingStatus> {
    return (await this.health.check({ service })).status;
  }

  /** The events of one generation, in order: job snapshots, a progress event per step, each phase
   * once as it is entered, notices within a phase. */
  async *events(params: GenerationParamsInit, options: GenerateOptions = {}): AsyncGenerator<GenerateEvent> {
    const stream = this.orchestrator.generate(
      { requestId: options.requestId ?? `ts-${randomUUID()}`, params },
      { signal: options.signal, timeoutMs: options.timeoutMs },
    );
    for await (const response of stream) {
      const event = response.event;
      if (event.case === undefined) continue; // a kind newer than this SDK
      options.onEvent?.(event);
      yield event;
    }
  }

  /** Runs one generation to its end; the final job, or JobFailedError when it did not succeed. */
  async generate(params: GenerationParamsInit, options: GenerateOptions = {}): Promise<Job> {
    let job: Job | undefined;
    for await (const event of this.events(params, options)) {
      if (event.case === "job") job = event.value;
    }
    if (job === undefined) throw new Error("the Generate stream ended without a job");
    if (job.state !== JobState.SUCCEEDED) throw new JobFailedError(job);
    return job;
  }

  /** GetTrack, then its presigned audio URL into `path`, checked against the track's audio_sha256
   * (the file is removed on a mismatch). */
  async downloadTrack(name: string, path: string): Promise<GetTrackResponse> {
    const got = await this.orchestrator.getTrack({ name });
    if (!got.audioUrl) throw new Error(`${name} has no audio URL`);
    const response = await fetch(got.audioUrl);
    if (!response.ok || response.body === null) {
      throw new Error(`download of ${name}: HTTP ${response.status} ${response.statusText}`);
    }
    const hash = createHash("sha256");
    const digest = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(response.body as WebReadableStream), digest, createWriteStream(path));
      const sha256 = hash.digest("hex");
      const expected = got.track?.audioSha256 ?? "";
      if (sha256 !== expected) throw new Error(`download of ${name}: sha256 ${sha256}, the track says ${expected}`);
    } catch (error) {
      await unlink(path).catch(() => undefined);
      throw error;
    }
    return got;
  }
}

/** A client for the orchestrator at `baseUrl` (default http://127.0.0.1:50050, or $CADENZA_ADDRESS
 * as host:port) with the token of `options.token` (default $CADENZA_TOKEN). */
export function connect(options: ConnectOptions = {}): CadenzaClient {
  const token = options.token ?? process.env.CADENZA_TOKEN;
  const interceptors: Interceptor[] = [];
  if (token) {
    interceptors.push((next) => async (request) => {
      request.header.set("authorization", `Bearer ${token}`);
      return await next(request);
    });
  }
  const address = process.env.CADENZA_ADDRESS ?? "127.0.0.1:50050";
  const transport = createGrpcTransport({
    baseUrl: options.baseUrl ?? `http://${address}`,
    interceptors,
    defaultTimeoutMs: options.defaultTimeoutMs,
  });
  return new CadenzaClient(transport);
}
