"""Graph analytics off the request path: snapshot, algorithms, worker process, runner."""
