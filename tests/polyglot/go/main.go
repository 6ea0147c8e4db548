// Command goclient drives the Go SDK (libs/sdk/go, module cadenza.dev/sdk) against a running
// suite for tests/polyglot. Its flags, environment and JSON-lines output are the contract that
// the TypeScript and Java clients of tests/polyglot share (see tests/polyglot/clients.py).
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"cadenza.dev/sdk/cadenza"
	commonv1 "cadenza.dev/sdk/gen/cadenza/common/v1"
	orchestratorv1 "cadenza.dev/sdk/gen/cadenza/orchestrator/v1"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

type options struct {
	mode, orchestrator, missingTrack, requestID, prompt, seed, out string
	seconds                                                        float64
	steps, repeat                                                  int
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "smoke", "smoke (every check) or bench (timed generations only)")
	flag.StringVar(&o.orchestrator, "orchestrator", "127.0.0.1:50050", "orchestrator address")
	flag.StringVar(&o.missingTrack, "missing-track", "", "a track name that does not exist")
	flag.StringVar(&o.requestID, "request-id", "", "Generate idempotency key (bench: a prefix)")
	flag.StringVar(&o.prompt, "prompt", "steady mallet in a minor at 120 bpm, with drums", "prompt")
	flag.StringVar(&o.seed, "seed", "", "uint64 seed, decimal (empty: the server picks)")
	flag.StringVar(&o.out, "out", "", "where to download the track (smoke)")
	flag.Float64Var(&o.seconds, "seconds", 2, "clip length in seconds")
	flag.IntVar(&o.steps, "steps", 4, "denoising steps")
	flag.IntVar(&o.repeat, "repeat", 1, "generations (bench)")
	flag.Parse()
	if err := run(o, os.Getenv("CADENZA_TOKEN")); err != nil {
		line, _ := json.Marshal(map[string]string{"event": "error", "error": err.Error()})
		fmt.Fprintln(os.Stderr, string(line))
		os.Exit(1)
	}
}

func emit(fields map[string]any) {
	line, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(line))
}

func run(o options, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	client, err := cadenza.Dial(o.orchestrator, token)
	if err != nil {
		return err
	}
	defer client.Close()
	params := &commonv1.GenerationParams{Prompt: o.prompt, DurationSeconds: o.seconds, Steps: int32(o.steps)}
	if o.seed != "" {
		seed, err := strconv.ParseUint(o.seed, 10, 64)
		if err != nil {
			return fmt.Errorf("-seed: %w", err)
		}
		params.Seed = &seed
	}
	if o.mode == "bench" {
		for i := 0; i < o.repeat; i++ {
			if _, err := timed(ctx, client, params, fmt.Sprintf("%s-%d", o.requestID, i), nil); err != nil {
				return err
			}
		}
		return nil
	}
	for _, service := range []string{"", orchestratorv1.OrchestratorService_ServiceDesc.ServiceName} {
		resp, err := client.Health.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return fmt.Errorf("health %q: %w", service, err)
		}
		emit(map[string]any{"event": "health", "service": service, "status": resp.GetStatus().String()})
	}
	_, err = client.Orchestrator.GetTrack(ctx, &orchestratorv1.GetTrackRequest{Name: o.missingTrack})
	if err := emitError("not_found", err); err != nil {
		return err
	}
	anonymous, err := cadenza.Dial(o.orchestrator, "")
	if err != nil {
		return err
	}
	defer anonymous.Close()
	_, err = anonymous.Orchestrator.GetTrack(ctx, &orchestratorv1.GetTrackRequest{Name: o.missingTrack})
	if err := emitError("unauthenticated", err); err != nil {
		return err
	}
	job, err := timed(ctx, client, params, o.requestID, func(e *orchestratorv1.GenerateResponse) {
		switch {
		case e.GetJob() != nil:
			emit(map[string]any{"event": "job", "name": e.GetJob().GetName(), "state": int32(e.GetJob().GetState())})
		case e.GetProgress() != nil:
			emit(map[string]any{"event": "progress", "step": e.GetProgress().GetStep(), "total_steps": e.GetProgress().GetTotalSteps()})
		case e.GetPhase() != nil:
			emit(map[string]any{"event": "phase", "phase": int32(e.GetPhase().GetPhase())})
		}
	})
	if err != nil {
		return err
	}
	emit(map[string]any{"event": "final", "name": job.GetName(), "state": int32(job.GetState()),
		"track": job.GetTrack(), "seed": strconv.FormatUint(job.GetSeed(), 10)})
	got, err := client.DownloadTrack(ctx, job.GetTrack(), o.out)
	if err != nil {
		return err
	}
	track := got.GetTrack()
	emit(map[string]any{"event": "track", "name": track.GetName(), "job": track.GetJob(),
		"duration_seconds": track.GetDurationSeconds(), "sample_rate": track.GetSampleRate(),
		"audio_sha256": track.GetAudioSha256(), "seed": strconv.FormatUint(track.GetSeed(), 10)})
	data, err := os.ReadFile(o.out)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	emit(map[string]any{"event": "download", "path": o.out, "bytes": len(data), "sha256": hex.EncodeToString(sum[:])})
	return nil
}

// timed runs one generation and emits the time to its first progress event and to its end,
// both from just before the call.
func timed(ctx context.Context, client *cadenza.Client, params *commonv1.GenerationParams, requestID string,
	onEvent func(*orchestratorv1.GenerateResponse)) (*commonv1.Job, error) {
	began := time.Now()
	var firstStep time.Duration
	job, err := client.Generate(ctx, params, requestID, func(e *orchestratorv1.GenerateResponse) {
		if e.GetProgress() != nil && firstStep == 0 {
			firstStep = time.Since(began)
		}
		if onEvent != nil {
			onEvent(e)
		}
	})
	if err != nil {
		return job, err
	}
	emit(map[string]any{"event": "timing", "first_step_ms": ms(firstStep), "total_ms": ms(time.Since(began))})
	return job, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// emitError reports an expected error status with its ErrorInfo; success is an error here.
func emitError(event string, err error) error {
	if err == nil {
		return errors.New(event + ": the call succeeded; expected an error status")
	}
	st, _ := status.FromError(err)
	fields := map[string]any{"event": event, "code": int(st.Code()), "message": st.Message()}
	if info, ok := cadenza.ErrorInfo(err); ok {
		metadata := info.GetMetadata()
		if metadata == nil {
			metadata = map[string]string{}
		}
		fields["reason"], fields["domain"], fields["metadata"] = info.GetReason(), info.GetDomain(), metadata
	}
	emit(fields)
	return nil
}
