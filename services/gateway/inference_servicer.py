"""The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`): one short method per RPC, turning
its messages into InferenceProtocol calls and the answers back. The messages come from lenet_protos.inference's private
pool; RPCs not defined here (shared memory, load/unload, tracing) answer UNIMPLEMENTED."""
import numpy as np
from google.protobuf import json_format

from lenet_protos.inference import message
from lenet_services.gateway.auth import Auth
from lenet_services.gateway.inference_protocol import OUTPUT_DATATYPE, SERVER, InferenceProtocol, InputTensor
from lenet_services.gateway.servicer import caller_of

CONTENTS = {"UINT8": "uint_contents", "FP32": "fp32_contents"}   # where each input datatype's typed values go


def parsed(name: str, values: dict):
    """The message inference.NAME holding `values` (the protocol's JSON shape)."""
    return json_format.ParseDict(values, message(name)())


class InferenceServicer:
    def __init__(self, protocol: InferenceProtocol, auth: Auth):
        self.protocol, self.auth = protocol, auth

    def caller(self, context):
        return caller_of(self.auth, context)

    def ServerLive(self, request, context):
        return message("ServerLiveResponse")(live=self.protocol.live())

    def ServerReady(self, request, context):
        return message("ServerReadyResponse")(ready=self.protocol.ready())

    def ModelReady(self, request, context):
        ready = self.protocol.model_ready(request.name, request.version, self.caller(context))
        return message("ModelReadyResponse")(ready=ready)

    def ServerMetadata(self, request, context):
        return parsed("ServerMetadataResponse", SERVER)

    def ModelMetadata(self, request, context):
        return parsed("ModelMetadataResponse",
                      self.protocol.metadata(request.name, request.version, self.caller(context)))

    def ModelConfig(self, request, context):
        config = self.protocol.config(request.name, request.version, self.caller(context))
        return parsed("ModelConfigResponse", {"config": config})

    def ModelStatistics(self, request, context):
        return parsed("ModelStatisticsResponse",
                      self.protocol.model_statistics(request.name, request.version, self.caller(context)))

    def RepositoryIndex(self, request, context):
        return parsed("RepositoryIndexResponse", {"models": self.protocol.repository_index(self.caller(context))})

    def ModelInfer(self, request, context):
        """Raw inputs (raw_input_contents, what tritonclient sends) get raw_output_contents; typed inputs get
        typed contents."""
        raw = len(request.raw_input_contents) > 0
        inputs = [InputTensor(tensor.name, tensor.datatype, list(tensor.shape),
                              raw=request.raw_input_contents[i] if i < len(request.raw_input_contents) else None,
                              values=None if raw else getattr(tensor.contents, CONTENTS.get(tensor.datatype, "")))
                  for i, tensor in enumerate(request.inputs)]
        inference = self.protocol.infer(request.model_name, request.model_version, inputs,
                                        [output.name for output in request.outputs], self.caller(context))
        response = message("ModelInferResponse")(model_name=inference.model_name,
                                                 model_version=inference.model_version, id=request.id)
        for name, array in inference.outputs:
            output = response.outputs.add(name=name, datatype=OUTPUT_DATATYPE, shape=array.shape)
            if raw:
                response.raw_output_contents.append(np.ascontiguousarray(array, "<f4").tobytes())
            else:
                output.contents.fp32_contents.extend(array.ravel().tolist())
        if inference.warnings:
            response.parameters["warnings"].string_param = "\n".join(inference.warnings)
        return response
