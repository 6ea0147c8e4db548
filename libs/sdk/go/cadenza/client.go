// Package cadenza is the Go client of the Cadenza orchestrator: a connection with a bearer token,
// Generate with a callback per stream event, track download with its SHA-256 checked, and the
// google.rpc.ErrorInfo of an error status.
//
// The generated messages and stubs are in cadenza.dev/sdk/gen/cadenza/{orchestrator,common}/v1;
// Client.Orchestrator is the raw stub for every other RPC.
//
//	client, err := cadenza.Dial("127.0.0.1:50050", os.Getenv("CADENZA_TOKEN"))
//	job, err := client.Generate(ctx, &commonv1.GenerationParams{Prompt: "organ in c major"}, "",
//		func(e *orchestratorv1.GenerateResponse) { fmt.Println(e.GetProgress().GetStep()) })
//	track, err := client.DownloadTrack(ctx, job.GetTrack(), "out.wav")
package cadenza

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	commonv1 "cadenza.dev/sdk/gen/cadenza/common/v1"
	orchestratorv1 "cadenza.dev/sdk/gen/cadenza/orchestrator/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// Client is one connection to the orchestrator. Safe for concurrent use.
type Client struct {
	conn *grpc.ClientConn
	// Orchestrator is the generated stub; calls on it carry the bearer token too.
	Orchestrator orchestratorv1.OrchestratorServiceClient
	// Health is grpc.health.v1 on the same connection (no token needed).
	Health healthpb.HealthClient
	// HTTP downloads presigned audio URLs.
	HTTP *http.Client
}

// bearer attaches "authorization: Bearer <token>" to every call. Plaintext is allowed because the
// local suite serves without TLS; pass grpc.WithTransportCredentials(...) for a TLS endpoint.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// Dial connects to the orchestrator at target ("host:port"). An empty token sends none (every
// orchestrator RPC then fails UNAUTHENTICATED). Without options the connection is plaintext.
func Dial(target, token string, opts ...grpc.DialOption) (*Client, error) {
	all := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if token != "" {
		all = append(all, grpc.WithPerRPCCredentials(bearer(token)))
	}
	conn, err := grpc.NewClient(target, append(all, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("cadenza: connect to %s: %w", target, err)
	}
	return &Client{
		conn:         conn,
		Orchestrator: orchestratorv1.NewOrchestratorServiceClient(conn),
		Health:       healthpb.NewHealthClient(conn),
		HTTP:         http.DefaultClient,
	}, nil
}

// Close releases the connection.
func (c *Client) Close() error { return c.conn.Close() }

// JobError is a generation that ended in another state than SUCCEEDED.
type JobError struct{ Job *commonv1.Job }

func (e *JobError) Error() string {
	return fmt.Sprintf("cadenza: job %s ended %s: %s %s", e.Job.GetName(), e.Job.GetState(),
		e.Job.GetFailureReason(), e.Job.GetFailureMessage())
}

// NewRequestID is a random idempotency key for Generate / SubmitGeneration.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "go-" + hex.EncodeToString(b[:])
}

// Generate runs one generation over the Generate stream. onEvent (may be nil) sees every event in
// order: job snapshots, one progress event per denoising step, each phase once as the job enters
// it, notices within a phase (the model accepted the job, a retry). It returns the last
// job snapshot; a job that did not succeed is returned with a *JobError. An empty requestID gets
// a random one; reuse one to resume the same job after a dropped stream.
func (c *Client) Generate(
	ctx context.Context, params *commonv1.GenerationParams, requestID string,
	onEvent func(*orchestratorv1.GenerateResponse),
) (*commonv1.Job, error) {
	if requestID == "" {
		requestID = NewRequestID()
	}
	stream, err := c.Orchestrator.Generate(ctx, &orchestratorv1.GenerateRequest{RequestId: requestID, Params: params})
	if err != nil {
		return nil, err
	}
	var job *commonv1.Job
	for {
		event, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return job, err
		}
		if j := event.GetJob(); j != nil {
			job = j
		}
		if onEvent != nil {
			onEvent(event)
		}
	}
	if job == nil {
		return nil, errors.New("cadenza: Generate stream ended without a job")
	}
	if job.GetState() != commonv1.JobState_JOB_STATE_SUCCEEDED {
		return job, &JobError{Job: job}
	}
	return job, nil
}

// DownloadTrack fetches the track's presigned audio URL into path and checks the bytes against
// the track's audio_sha256; on a mismatch the file is removed and an error returned.
func (c *Client) DownloadTrack(ctx context.Context, name, path string) (*orchestratorv1.GetTrackResponse, error) {
	got, err := c.Orchestrator.GetTrack(ctx, &orchestratorv1.GetTrackRequest{Name: name})
	if err != nil {
		return nil, err
	}
	if got.GetAudioUrl() == "" {
		return got, fmt.Errorf("cadenza: %s has no audio URL", name)
	}
	if err := c.download(ctx, got.GetAudioUrl(), path, got.GetTrack().GetAudioSha256()); err != nil {
		return got, err
	}
	return got, nil
}

func (c *Client) download(ctx context.Context, url, path, wantSHA256 string) (err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("cadenza: download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cadenza: download: HTTP %s", resp.Status)
	}
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if closeErr := file.Close(); err == nil {
			err = closeErr
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	digest := sha256.New()
	if _, err = io.Copy(io.MultiWriter(file, digest), resp.Body); err != nil {
		return fmt.Errorf("cadenza: download: %w", err)
	}
	if got := hex.EncodeToString(digest.Sum(nil)); got != wantSHA256 {
		return fmt.Errorf("cadenza: download: sha256 %s, the track says %s", got, wantSHA256)
	}
	return nil
}

// ErrorInfo returns the google.rpc.ErrorInfo in an error status's details (Cadenza sends exactly
// one with every error: Reason is the stable machine-readable cause, Metadata names the resource).
func ErrorInfo(err error) (*errdetails.ErrorInfo, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return nil, false
	}
	for _, detail := range st.Details() {
		if info, ok := detail.(*errdetails.ErrorInfo); ok {
			return info, true
		}
	}
	return nil, false
}

// RetryDelay returns how long the server asks to wait before retrying, from the google.rpc.RetryInfo
// in an error status's details (sent with RESOURCE_EXHAUSTED and UNAVAILABLE when the server knows).
func RetryDelay(err error) (time.Duration, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return 0, false
	}
	for _, detail := range st.Details() {
		if retry, ok := detail.(*errdetails.RetryInfo); ok {
			return retry.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}
