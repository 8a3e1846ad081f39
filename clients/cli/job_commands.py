"""Jobs and models: `lenet train|job|jobs|watch|cancel|models`."""
from clients.cli.output import as_dict, client_options, connect, console, follow, job_line, print_json
from protos.contract import HYPER_PARAMETERS
from protos.lenet.v1 import lenet_pb2 as pb


def register(commands) -> None:
    train = commands.add_parser("train", help="submit a training job (defaults: the seed's hyper-parameters)")
    client_options(train)
    for spec in HYPER_PARAMETERS:
        flag = "--" + spec.name.replace("_", "-")
        if spec.type is bool:
            train.add_argument(flag, action="store_true", default=None, help=f"{spec.help} [{spec.default}]")
        else:
            train.add_argument(flag, type=spec.type, default=None,
                               help=f"{spec.help}, {spec.bounds()} [{spec.default}]")
    train.add_argument("--limit", type=int, default=0, help="train on the first N training images [all 60,000]")
    train.add_argument("--eval-limit", type=int, default=0, help="evaluate each epoch on the first N test images")
    train.add_argument("--device", choices=["cpu", "gpu", "any"], default="cpu")
    train.add_argument("--name", default="", help="model name [lenet]")
    train.add_argument("--idempotency-key", default="", help="a retried submit with this key returns the same job")
    train.add_argument("--wait", action="store_true", help="follow the job to its end with a progress bar")
    train.set_defaults(run=run_train)

    for name, helptext, run in [("job", "show one job", run_job), ("watch", "follow a job's progress", run_watch),
                                ("cancel", "cancel a job", run_cancel)]:
        command = commands.add_parser(name, help=helptext)
        client_options(command)
        command.add_argument("job_id")
        command.set_defaults(run=run)

    jobs = commands.add_parser("jobs", help="list jobs, newest first")
    client_options(jobs)
    jobs.add_argument("--limit", type=int, default=20)
    jobs.set_defaults(run=run_jobs)

    models = commands.add_parser("models", help="list trained models, newest first")
    client_options(models)
    models.add_argument("--limit", type=int, default=20)
    models.set_defaults(run=run_models)


def run_train(args) -> int:
    with connect(args) as client:
        job = client.train(limit=args.limit, eval_limit=args.eval_limit, device=args.device, model_name=args.name,
                           idempotency_key=args.idempotency_key,
                           **{spec.name: getattr(args, spec.name) for spec in HYPER_PARAMETERS})
        if not args.json:
            console.print(f"submitted {job_line(job)}")
        if args.wait:
            job = follow(client, job, quiet=args.json)
        return report(job, args.json, wait=args.wait)


def run_job(args) -> int:
    with connect(args) as client:
        return report(client.job(args.job_id), args.json)


def run_watch(args) -> int:
    with connect(args) as client:
        job = client.job(args.job_id)
        return report(follow(client, job, quiet=args.json), args.json, wait=True)


def run_cancel(args) -> int:
    with connect(args) as client:
        return report(client.cancel(args.job_id), args.json)


def report(job: pb.Job, as_json: bool, wait: bool = False) -> int:
    if as_json:
        print_json(as_dict(job))
    else:
        console.print(job_line(job))
    return 1 if wait and job.state != pb.SUCCEEDED else 0


def run_jobs(args) -> int:
    with connect(args) as client:
        jobs = client.jobs(args.limit)
    if args.json:
        print_json([as_dict(job) for job in jobs])
    for job in [] if args.json else jobs:
        console.print(job_line(job))
    return 0


def run_models(args) -> int:
    with connect(args) as client:
        models = client.models(args.limit)
    if args.json:
        print_json([as_dict(model) for model in models])
        return 0
    for model in models:
        console.print(f"{model.id}  {model.name:<12} {model.created_at}  {model.train_samples} images, "
                      f"{model.hyper_parameters.epochs} epochs, test accuracy {model.metrics.test_accuracy:.4f}")
    return 0
