// The TypeScript SDK (libs/sdk/typescript, built into dist/) against a running suite, for
// tests/polyglot: the flags and JSON lines that tests/polyglot/clients.py describes.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";

import {
  connect,
  ConnectError,
  errorInfo,
  HealthCheckResponse_ServingStatus,
  JobState,
  OrchestratorService,
  parseSeed,
  toJsonString,
} from "../../../libs/sdk/typescript/dist/index.js";

const { values: o } = parseArgs({
  options: {
    mode: { type: "string", default: "smoke" },
    orchestrator: { type: "string", default: "127.0.0.1:50050" },
    "missing-track": { type: "string", default: "" },
    "request-id": { type: "string", default: "" },
    prompt: { type: "string", default: "steady mallet in a minor at 120 bpm, with drums" },
    seed: { type: "string", default: "" },
    out: { type: "string", default: "" },
    seconds: { type: "string", default: "2" },
    steps: { type: "string", default: "4" },
    repeat: { type: "string", default: "1" },
  },
});

const emit = (fields) => console.log(toJsonString(fields));

// bench: generate() with a callback; smoke: the events() iterator, so both forms are exercised.
async function timed(client, params, requestId, onEvent) {
  const began = performance.now();
  let firstStep;
  const seen = (event) => {
    if (event.case === "progress" && firstStep === undefined) firstStep = performance.now() - began;
  };
  let job;
  if (onEvent === undefined) {
    job = await client.generate(params, { requestId, timeoutMs: 300_000, onEvent: seen });
  } else {
    for await (const event of client.events(params, { requestId, timeoutMs: 300_000 })) {
      seen(event);
      onEvent(event);
      if (event.case === "job") job = event.value;
    }
    if (job?.state !== JobState.SUCCEEDED) throw new Error(`job ended ${job && JobState[job.state]}`);
  }
  emit({ event: "timing", first_step_ms: firstStep, total_ms: performance.now() - began });
  return job;
}

async function expectError(event, call) {
  try {
    await call();
  } catch (error) {
    const status = ConnectError.from(error);
    const info = errorInfo(error);
    emit({
      event, code: status.code, message: status.rawMessage,
      reason: info?.reason, domain: info?.domain, metadata: info?.metadata,
    });
    return;
  }
  throw new Error(`${event}: the call succeeded; expected an error status`);
}

async function main() {
  const baseUrl = `http://${o.orchestrator}`;
  const client = connect({ baseUrl, token: process.env.CADENZA_TOKEN ?? "" });
  const params = { prompt: o.prompt, durationSeconds: Number(o.seconds), steps: Number(o.steps) };
  if (o.seed) params.seed = parseSeed(o.seed);
  if (o.mode === "bench") {
    for (let i = 0; i < Number(o.repeat); i++) await timed(client, params, `${o["request-id"]}-${i}`);
    return;
  }
  for (const service of ["", OrchestratorService.typeName]) {
    const status = await client.healthStatus(service);
    emit({ event: "health", service, status: HealthCheckResponse_ServingStatus[status] });
  }
  await expectError("not_found", () => client.orchestrator.getTrack({ name: o["missing-track"] }));
  const anonymous = connect({ baseUrl, token: "" });
  await expectError("unauthenticated", () => anonymous.orchestrator.getTrack({ name: o["missing-track"] }));

  const job = await timed(client, params, o["request-id"], (event) => {
    if (event.case === "job") emit({ event: "job", name: event.value.name, state: event.value.state });
    if (event.case === "progress") emit({ event: "progress", step: event.value.step, total_steps: event.value.totalSteps });
    if (event.case === "phase") emit({ event: "phase", phase: event.value.phase });
  });
  emit({ event: "final", name: job.name, state: job.state, track: job.track, seed: job.seed });
  const got = await client.downloadTrack(job.track, o.out);
  const t = got.track;
  emit({
    event: "track", name: t.name, job: t.job, duration_seconds: t.durationSeconds,
    sample_rate: t.sampleRate, audio_sha256: t.audioSha256, seed: t.seed,
  });
  const data = await readFile(o.out);
  emit({ event: "download", path: o.out, bytes: data.length, sha256: createHash("sha256").update(data).digest("hex") });
}

main().catch((error) => {
  console.error(JSON.stringify({ event: "error", error: String(error?.stack ?? error) }));
  process.exit(1);
});
