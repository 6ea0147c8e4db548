// The Java SDK (libs/sdk/java) against a running suite, for tests/polyglot: the flags and JSON
// lines that tests/polyglot/clients.py describes. Run in Java's source-file mode:
//   java -cp <sdk jar>:<target/classpath.txt> tests/polyglot/java/PolyglotClient.java --flags...
import com.google.rpc.ErrorInfo;
import dev.cadenza.common.v1.GenerationParams;
import dev.cadenza.common.v1.Job;
import dev.cadenza.common.v1.Track;
import dev.cadenza.orchestrator.v1.GetTrackRequest;
import dev.cadenza.orchestrator.v1.GetTrackResponse;
import dev.cadenza.orchestrator.v1.OrchestratorServiceGrpc;
import dev.cadenza.orchestrator.v1.PhaseEvent;
import dev.cadenza.orchestrator.v1.ProgressEvent;
import dev.cadenza.sdk.CadenzaClient;
import dev.cadenza.sdk.CadenzaErrors;
import dev.cadenza.sdk.GenerateListener;
import dev.cadenza.sdk.Seeds;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

public final class PolyglotClient {
  public static void main(String[] args) {
    Map<String, String> o = new HashMap<>(Map.of(
        "mode", "smoke", "orchestrator", "127.0.0.1:50050", "missing-track", "", "request-id", "",
        "prompt", "steady mallet in a minor at 120 bpm, with drums", "seed", "", "out", "",
        "seconds", "2", "steps", "4", "repeat", "1"));
    for (String arg : args) {
      String[] kv = arg.replaceFirst("^--?", "").split("=", 2);
      if (kv.length != 2 || !o.containsKey(kv[0])) {
        fail("unknown argument " + arg);
      }
      o.put(kv[0], kv[1]);
    }
    try {
      run(o, System.getenv().getOrDefault("CADENZA_TOKEN", ""));
    } catch (Exception e) {
      fail(e.toString());
    }
    System.exit(0); // grpc's executor threads would keep the JVM alive a moment longer
  }

  private static void fail(String error) {
    System.err.println(json(Map.of("event", "error", "error", error)));
    System.exit(1);
  }

  private static void run(Map<String, String> o, String token) throws Exception {
    GenerationParams.Builder builder = GenerationParams.newBuilder()
        .setPrompt(o.get("prompt"))
        .setDurationSeconds(Double.parseDouble(o.get("seconds")))
        .setSteps(Integer.parseInt(o.get("steps")));
    if (!o.get("seed").isEmpty()) {
      builder.setSeed(Seeds.parse(o.get("seed")));
    }
    GenerationParams params = builder.build();
    try (CadenzaClient client = CadenzaClient.connect(o.get("orchestrator"), token)) {
      if (o.get("mode").equals("bench")) {
        for (int i = 0; i < Integer.parseInt(o.get("repeat")); i++) {
          timed(client, params, o.get("request-id") + "-" + i, new GenerateListener() {}, false);
        }
        return;
      }
      for (String service : new String[] {"", OrchestratorServiceGrpc.SERVICE_NAME}) {
        emit(map("event", "health", "service", service, "status", client.health(service).name()));
      }
      GetTrackRequest missing = GetTrackRequest.newBuilder().setName(o.get("missing-track")).build();
      expectError("not_found", () -> client.orchestrator().getTrack(missing));
      try (CadenzaClient anonymous = CadenzaClient.connect(o.get("orchestrator"), null)) {
        expectError("unauthenticated", () -> anonymous.orchestrator().getTrack(missing));
      }
      Job job = timed(client, params, o.get("request-id"), new GenerateListener() {
        @Override
        public void onJob(Job j) {
          emit(map("event", "job", "name", j.getName(), "state", j.getStateValue()));
        }

        @Override
        public void onProgress(ProgressEvent p) {
          emit(map("event", "progress", "step", p.getStep(), "total_steps", p.getTotalSteps()));
        }

        @Override
        public void onPhase(PhaseEvent p) {
          emit(map("event", "phase", "phase", p.getPhaseValue()));
        }
      }, true);
      emit(map("event", "final", "name", job.getName(), "state", job.getStateValue(), "track", job.getTrack(),
          "seed", Seeds.toString(job.getSeed())));
      Path out = Path.of(o.get("out"));
      GetTrackResponse got = client.downloadTrack(job.getTrack(), out);
      Track t = got.getTrack();
      emit(map("event", "track", "name", t.getName(), "job", t.getJob(), "duration_seconds", t.getDurationSeconds(),
          "sample_rate", t.getSampleRate(), "audio_sha256", t.getAudioSha256(), "seed", Seeds.toString(t.getSeed())));
      byte[] data = Files.readAllBytes(out);
      String sha256 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
      emit(map("event", "download", "path", out.toString(), "bytes", data.length, "sha256", sha256));
    }
  }

  // smoke: generateAsync (events on gRPC's executor); bench: the blocking generate.
  private static Job timed(CadenzaClient client, GenerationParams params, String requestId, GenerateListener inner,
      boolean async) throws Exception {
    long began = System.nanoTime();
    long[] firstStep = {-1};
    GenerateListener listener = new GenerateListener() {
      @Override
      public void onJob(Job j) {
        inner.onJob(j);
      }

      @Override
      public void onProgress(ProgressEvent p) {
        if (firstStep[0] < 0) {
          firstStep[0] = System.nanoTime() - began;
        }
        inner.onProgress(p);
      }

      @Override
      public void onPhase(PhaseEvent p) {
        inner.onPhase(p);
      }
    };
    Job job = async
        ? client.generateAsync(params, requestId, listener).get(5, TimeUnit.MINUTES)
        : client.generate(params, requestId, listener);
    emit(map("event", "timing", "first_step_ms", firstStep[0] / 1e6, "total_ms", (System.nanoTime() - began) / 1e6));
    return job;
  }

  private static void expectError(String event, Runnable call) {
    try {
      call.run();
    } catch (StatusRuntimeException e) {
      Status status = e.getStatus();
      Map<String, Object> fields = map("event", event, "code", status.getCode().value(), "message",
          status.getDescription());
      CadenzaErrors.errorInfo(e).ifPresent(info -> {
        fields.put("reason", info.getReason());
        fields.put("domain", info.getDomain());
        fields.put("metadata", new LinkedHashMap<String, Object>(info.getMetadataMap()));
      });
      emit(fields);
      return;
    }
    throw new IllegalStateException(event + ": the call succeeded; expected an error status");
  }

  private static Map<String, Object> map(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  private static void emit(Map<String, Object> fields) {
    System.out.println(json(fields));
  }

  // Just enough JSON for strings, numbers and flat maps.
  private static String json(Object value) {
    if (value == null) {
      return "null";
    }
    if (value instanceof Number) {
      return value.toString();
    }
    if (value instanceof Map<?, ?> m) {
      StringBuilder b = new StringBuilder("{");
      for (Map.Entry<?, ?> e : m.entrySet()) {
        b.append(b.length() > 1 ? "," : "").append(json(e.getKey().toString())).append(':').append(json(e.getValue()));
      }
      return b.append('}').toString();
    }
    StringBuilder b = new StringBuilder("\"");
    for (char c : value.toString().toCharArray()) {
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }
}
