"""The Lenet servicer: one short method per RPC, translating gRPC to validation + dispatch calls."""
from protos.lenet.v1 import lenet_pb2 as pb
from protos.lenet.v1 import lenet_pb2_grpc as pb_grpc
from services.gateway import validation as check
from services.gateway.auth import Auth
from services.gateway.dispatch import Dispatcher


class LenetServicer(pb_grpc.LenetServicer):
    def __init__(self, dispatcher: Dispatcher, auth: Auth):
        self.dispatch, self.auth = dispatcher, auth
        self.store = dispatcher.store

    def user(self, context) -> str:
        return self.auth.user(context.invocation_metadata())

    def SubmitTraining(self, request, context):
        return self.dispatch.submit_training(check.train(request), owner=self.user(context))

    def SubmitEvaluation(self, request, context):
        return self.dispatch.submit_evaluation(check.evaluation(request), owner=self.user(context))

    def GetJob(self, request, context):
        return self.store.jobs.get(check.required_id(request.job_id, "job_id"))

    def ListJobs(self, request, context):
        return pb.ListJobsResponse(jobs=self.store.jobs.list(request.kind, request.state, request.limit or 100))

    def CancelJob(self, request, context):
        job = self.store.jobs.get(check.required_id(request.job_id, "job_id"))
        self.auth.check_owner(self.user(context), job.owner, f"job {job.id}")
        return self.store.jobs.request_cancel(job.id)

    def WatchJob(self, request, context):
        yield from self.dispatch.watch(check.required_id(request.job_id, "job_id"), request.after_event_id,
                                       context.is_active)

    def GetEvaluation(self, request, context):
        return self.store.jobs.evaluation(check.required_id(request.job_id, "job_id"))

    def Predict(self, request, context):
        return self.dispatch.predict(check.predict(request))

    def Inspect(self, request, context):
        yield from self.dispatch.inspect(check.inspect(request), context.is_active)

    def GetSamples(self, request, context):
        return self.dispatch.samples(check.samples(request))

    def GetModel(self, request, context):
        return self.store.models.get(check.required_id(request.model_id, "model_id"))

    def ListModels(self, request, context):
        return pb.ListModelsResponse(models=self.store.models.list(request.limit or 100))

    def ExportModel(self, request, context):
        return self.dispatch.export(check.export(request))

    def GetGraph(self, request, context):
        return self.store.models.graph(check.required_id(request.model_id, "model_id"))
