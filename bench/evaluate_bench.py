"""Evaluate: a confusion matrix with caret's statistics for the first N test images, end to end (submit, follow the
job, fetch the result), next to the engine's part (probabilities and statistics) in a child process.
"""
import statistics
import tempfile

from bench import harness
from bench.table import Section


def run(args, service) -> list[Section]:
    client, model_id, limit = service.client, service.model_id, args.limit
    client.evaluate_and_wait(model_id, limit=limit)  # warm-up: the worker loads the model and binds
    seconds = [harness.timed(lambda: client.evaluate_and_wait(model_id, limit=limit)) for _ in range(args.repeats)]
    with tempfile.TemporaryDirectory() as folder:
        symbol, params = client.export(model_id, folder)
        engine = harness.child("engine_evaluate", symbol=str(symbol), params=str(params), limit=limit,
                               repeats=args.repeats, cores="all")["seconds"]
    end_to_end, alone = statistics.median(seconds), statistics.median(engine)
    rows = [["end to end (client: submit, follow the job, read the evaluation)", f"{end_to_end:.2f}",
             " ".join(f"{s:.2f}" for s in seconds), "**≤ 1.5**"],
            ["engine alone (probabilities + caret's statistics)", f"{alone:.2f}",
             " ".join(f"{s:.2f}" for s in engine), ""]]
    return [Section(f"Evaluate: {limit:,} test images", ["run", "median (s)", "runs (s)", "goal (s)"], rows,
                    f"Median of {args.repeats} runs after a warm-up, one CPU worker with an OpenMP thread per core.",
                    "python -m bench evaluate", {"end_to_end": seconds, "engine": engine})]
