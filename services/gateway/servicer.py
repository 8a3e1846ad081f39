"""The Lenet servicer: one short method per RPC, turning the gRPC call into a LenetService call."""
import time

from lenet_protos.lenet.v1 import lenet_pb2_grpc as pb_grpc
from lenet_services.gateway.auth import Auth
from lenet_services.gateway.service import Caller, LenetService
from lenet_services.gateway.stream_limits import StreamLimits


NO_DEADLINE = 10 * 365 * 24 * 3600.0   # seconds left beyond which a call is taken to have no deadline


def caller_of(auth: Auth, context) -> Caller:
    """Who makes a gRPC call (its `authorization: Bearer` token) and its deadline."""
    remaining = context.time_remaining()    # about 9.2e18 s (gRPC's "infinite future") when the call has none
    user = auth.user(context.invocation_metadata())
    return Caller(user, auth.secured, auth.is_admin(user),
                  deadline=None if remaining is None or remaining > NO_DEADLINE else time.monotonic() + remaining,
                  active=context.is_active)


class LenetServicer(pb_grpc.LenetServicer):
    def __init__(self, service: LenetService, auth: Auth, streams: StreamLimits):
        self.service, self.auth, self.streams = service, auth, streams

    def caller(self, context) -> Caller:
        return caller_of(self.auth, context)

    def client(self, caller: Caller, context) -> str:
        """Whom the stream limits count: the token's user, else the peer's address without its port."""
        return caller.user or context.peer().rsplit(":", 1)[0]

    def SubmitTraining(self, request, context):
        return self.service.submit_training(request, self.caller(context))

    def SubmitEvaluation(self, request, context):
        return self.service.submit_evaluation(request, self.caller(context))

    def GetJob(self, request, context):
        return self.service.get_job(request, self.caller(context))

    def DeleteJob(self, request, context):
        return self.service.delete_job(request, self.caller(context))

    def ListJobs(self, request, context):
        return self.service.list_jobs(request, self.caller(context))

    def CancelJob(self, request, context):
        return self.service.cancel_job(request, self.caller(context))

    def WatchJob(self, request, context):
        caller = self.caller(context)
        with self.streams.slot(self.client(caller, context)):
            yield from self.service.watch_job(request, caller)

    def GetEvaluation(self, request, context):
        return self.service.get_evaluation(request, self.caller(context))

    def Predict(self, request, context):
        return self.service.predict(request, self.caller(context))

    def Inspect(self, request, context):
        caller = self.caller(context)
        with self.streams.slot(self.client(caller, context)):
            yield from self.service.inspect(request, caller)

    def GetSamples(self, request, context):
        return self.service.get_samples(request, self.caller(context))

    def GetModel(self, request, context):
        return self.service.get_model(request, self.caller(context))

    def ListModels(self, request, context):
        return self.service.list_models(request, self.caller(context))

    def DeleteModel(self, request, context):
        return self.service.delete_model(request, self.caller(context))

    def ShareModel(self, request, context):
        return self.service.share_model(request, self.caller(context))

    def SetModelAlias(self, request, context):
        return self.service.set_model_alias(request, self.caller(context))

    def DeleteModelAlias(self, request, context):
        return self.service.delete_model_alias(request, self.caller(context))

    def ExportModel(self, request, context):
        return self.service.export_model(request, self.caller(context))

    def GetGraph(self, request, context):
        return self.service.get_graph(request, self.caller(context))

    def ListWorkers(self, request, context):
        return self.service.list_workers(request, self.caller(context))

    def SubmitSweep(self, request, context):
        return self.service.sweeps.submit(request, self.caller(context))

    def GetSweep(self, request, context):
        return self.service.sweeps.get(request, self.caller(context))

    def ListSweeps(self, request, context):
        return self.service.sweeps.list(request, self.caller(context))

    def WatchSweep(self, request, context):
        caller = self.caller(context)
        with self.streams.slot(self.client(caller, context)):
            yield from self.service.sweeps.watch(request, caller)

    def CancelSweep(self, request, context):
        return self.service.sweeps.cancel(request, self.caller(context))

    def DeleteSweep(self, request, context):
        return self.service.sweeps.delete(request, self.caller(context))
