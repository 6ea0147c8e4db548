package dev.cadenza.sdk;

import dev.cadenza.common.v1.Job;
import dev.cadenza.orchestrator.v1.NoticeEvent;
import dev.cadenza.orchestrator.v1.PhaseEvent;
import dev.cadenza.orchestrator.v1.ProgressEvent;

/** Receives a generation's stream events in order; override what you need. */
public interface GenerateListener {
  /** A job snapshot (the first event, and the last one with the final state). */
  default void onJob(Job job) {}

  /** One per denoising step, steps 1..total in order. */
  default void onProgress(ProgressEvent progress) {}

  /** The job entered a phase (queued, diffusing, storing audio, indexing, linking, done...): once
   * per phase and run of the job. */
  default void onPhase(PhaseEvent phase) {}

  /** News within the current phase: the model accepted the job (queue position, steps), a retry. */
  default void onNotice(NoticeEvent notice) {}

  /** The job succeeded (after its last event). */
  default void onCompleted(Job job) {}

  /** generateAsync only: the call failed or the job did not succeed. */
  default void onError(Throwable error) {}
}
