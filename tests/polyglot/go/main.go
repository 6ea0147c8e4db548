// Command goclient calls a running Cadenza suite through Go code generated from protos/
// (tests/polyglot/buf.gen.go.yaml), to show that a non-Python client works end to end.
//
// It prints one JSON object per line on stdout: the orchestrator's health, the status of a
// metadata GetJob on a job that does not exist, first without a credential (an internal service
// refuses anonymous callers) and then with the operator's service token (code and
// google.rpc.ErrorInfo from the status details), every event of an orchestrator Generate stream,
// the final job and its track. The end user's bearer token comes from $CADENZA_TOKEN and the
// operator's (`cadenza token --operator`) from $CADENZA_OPERATOR_TOKEN, so that both stay out of
// the process list.
// Any unexpected failure is one {"event":"error"} line on stderr and exit status 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	commonv1 "cadenza.dev/polyglot/gen/cadenza/common/v1"
	metadatav1 "cadenza.dev/polyglot/gen/cadenza/metadata/v1"
	orchestratorv1 "cadenza.dev/polyglot/gen/cadenza/orchestrator/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	grpcmetadata "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

type options struct {
	orchestrator string
	metadata     string
	missingJob   string
	requestID    string
	prompt       string
	seconds      float64
	steps        int
	timeout      time.Duration
}

func main() {
	var opts options
	flag.StringVar(&opts.orchestrator, "orchestrator", "127.0.0.1:50050", "orchestrator address")
	flag.StringVar(&opts.metadata, "metadata", "127.0.0.1:50051", "metadata service address")
	flag.StringVar(&opts.missingJob, "missing-job", "jobs/00000000-0000-0000-0000-000000000000",
		"a job name that does not exist, for GetJob")
	flag.StringVar(&opts.requestID, "request-id", "", "Generate idempotency key (required)")
	flag.StringVar(&opts.prompt, "prompt", "organ in c major at 90 bpm, with drums", "generation prompt")
	flag.Float64Var(&opts.seconds, "seconds", 2, "clip length in seconds")
	flag.IntVar(&opts.steps, "steps", 4, "denoising steps")
	flag.DurationVar(&opts.timeout, "timeout", 5*time.Minute, "deadline for the whole run")
	flag.Parse()

	if err := run(opts, os.Getenv("CADENZA_TOKEN"), os.Getenv("CADENZA_OPERATOR_TOKEN")); err != nil {
		line, _ := json.Marshal(map[string]string{"event": "error", "error": err.Error()})
		fmt.Fprintln(os.Stderr, string(line))
		os.Exit(1)
	}
}

func emit(fields map[string]any) {
	line, err := json.Marshal(fields)
	if err != nil {
		panic(err) // only plain values are emitted
	}
	fmt.Println(string(line))
}

func run(opts options, token string, operatorToken string) error {
	if token == "" {
		return errors.New("CADENZA_TOKEN is empty: set it to a bearer token for the orchestrator")
	}
	if operatorToken == "" {
		return errors.New("CADENZA_OPERATOR_TOKEN is empty: set it to `cadenza token --operator`")
	}
	if opts.requestID == "" {
		return errors.New("-request-id is required (the idempotency key of the Generate call)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.timeout)
	defer cancel()

	orchestrator, err := grpc.NewClient(opts.orchestrator, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("orchestrator client: %w", err)
	}
	defer orchestrator.Close()
	metadata, err := grpc.NewClient(opts.metadata, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("metadata client: %w", err)
	}
	defer metadata.Close()

	if err := checkHealth(ctx, orchestrator); err != nil {
		return err
	}
	if err := getMissingJob(ctx, metadata, opts.missingJob, "get_job_anonymous"); err != nil {
		return err
	}
	operator := grpcmetadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+operatorToken)
	if err := getMissingJob(operator, metadata, opts.missingJob, "get_job"); err != nil {
		return err
	}
	authed := grpcmetadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	return generate(authed, orchestratorv1.NewOrchestratorServiceClient(orchestrator), opts)
}

// checkHealth asks grpc.health.v1 for the server as a whole ("") and for the generated service's
// own name, which comes from the generated service descriptor.
func checkHealth(ctx context.Context, conn *grpc.ClientConn) error {
	health := healthpb.NewHealthClient(conn)
	for _, service := range []string{"", orchestratorv1.OrchestratorService_ServiceDesc.ServiceName} {
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return fmt.Errorf("health check of %q: %w", service, err)
		}
		emit(map[string]any{"event": "health", "service": service, "status": resp.GetStatus().String()})
	}
	return nil
}

// getMissingJob expects an error status and reports its code and the ErrorInfo in its details
// as one `event` line.
func getMissingJob(ctx context.Context, conn *grpc.ClientConn, name string, event string) error {
	_, err := metadatav1.NewMetadataServiceClient(conn).GetJob(ctx, &metadatav1.GetJobRequest{Name: name})
	if err == nil {
		return fmt.Errorf("GetJob(%s) succeeded; expected an error status", name)
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("GetJob(%s) failed without a gRPC status: %w", name, err)
	}
	fields := map[string]any{
		"event": event, "name": name, "message": st.Message(),
		"code": st.Code().String(), "code_number": uint32(st.Code()),
	}
	for _, detail := range st.Details() {
		if info, ok := detail.(*errdetails.ErrorInfo); ok {
			fields["reason"] = info.GetReason()
			fields["domain"] = info.GetDomain()
			metadata := info.GetMetadata()
			if metadata == nil {
				metadata = map[string]string{} // an object in the JSON either way
			}
			fields["metadata"] = metadata
		}
	}
	emit(fields)
	return nil
}

// generate runs the server stream to its end, then fetches the track of a job that succeeded.
func generate(ctx context.Context, client orchestratorv1.OrchestratorServiceClient, opts options) error {
	stream, err := client.Generate(ctx, &orchestratorv1.GenerateRequest{
		RequestId: opts.requestID,
		Params: &commonv1.GenerationParams{
			Prompt:          opts.prompt,
			DurationSeconds: opts.seconds,
			Steps:           int32(opts.steps),
		},
	})
	if err != nil {
		return fmt.Errorf("Generate: %w", err)
	}
	var job *commonv1.Job
	for {
		event, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("Generate stream: %w", err)
		}
		switch e := event.GetEvent().(type) {
		case *orchestratorv1.GenerateResponse_Job:
			job = e.Job
			emit(map[string]any{"event": "job", "name": job.GetName(), "state": job.GetState().String()})
		case *orchestratorv1.GenerateResponse_Progress:
			p := e.Progress
			emit(map[string]any{
				"event": "progress", "step": p.GetStep(), "total_steps": p.GetTotalSteps(),
				"sigma": p.GetSigma(), "eta_seconds": p.GetEtaSeconds(),
			})
		case *orchestratorv1.GenerateResponse_Phase:
			emit(map[string]any{
				"event": "phase", "phase": e.Phase.GetPhase().String(), "message": e.Phase.GetMessage(),
			})
		}
	}
	if job == nil {
		return errors.New("Generate stream ended without any job event")
	}
	emit(map[string]any{
		"event": "final", "name": job.GetName(), "state": job.GetState().String(), "track": job.GetTrack(),
		"failure_reason": job.GetFailureReason().String(), "failure_message": job.GetFailureMessage(),
	})
	if job.GetState() != commonv1.JobState_JOB_STATE_SUCCEEDED {
		return fmt.Errorf("job %s ended %s: %s %s", job.GetName(), job.GetState(),
			job.GetFailureReason(), job.GetFailureMessage())
	}
	got, err := client.GetTrack(ctx, &orchestratorv1.GetTrackRequest{Name: job.GetTrack()})
	if err != nil {
		return fmt.Errorf("GetTrack(%s): %w", job.GetTrack(), err)
	}
	track := got.GetTrack()
	emit(map[string]any{
		"event": "track", "name": track.GetName(), "job": track.GetJob(),
		"duration_seconds": track.GetDurationSeconds(), "sample_rate": track.GetSampleRate(),
		"audio_sha256": track.GetAudioSha256(), "has_audio_url": got.GetAudioUrl() != "",
	})
	return nil
}
