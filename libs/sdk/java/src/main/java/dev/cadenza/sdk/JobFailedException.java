package dev.cadenza.sdk;

import dev.cadenza.common.v1.Job;

/** A generation that ended in another state than SUCCEEDED; {@link #job()} says why. */
public final class JobFailedException extends RuntimeException {
  private final transient Job job;

  public JobFailedException(Job job) {
    super("job " + job.getName() + " ended " + job.getState() + ": " + job.getFailureReason() + " "
        + job.getFailureMessage());
    this.job = job;
  }

  public Job job() {
    return job;
  }
}
