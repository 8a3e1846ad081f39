"""MLServer's side of the OIP benchmark: a custom runtime serving the project's ONNX export with onnxruntime.

It runs inside MLServer's own venv (made by bench/oip_bench.py), never in the project's: MLServer pins its own
protobuf and numpy. Input: one tensor of pixels 0–255 ([N,28,28] or [N,1,28,28], UINT8 or FP32), as the gateway
takes them; output SoftM FP32 [N,10]. MLServer's adaptive batching (model-settings.json) joins requests along N.
"""
import numpy as np
import onnxruntime
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri


class LenetOnnx(MLModel):
    async def load(self) -> bool:
        self.session = onnxruntime.InferenceSession(await get_model_uri(self._settings),
                                                    providers=["CPUExecutionProvider"])
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        images = NumpyCodec.decode_input(payload.inputs[0]).astype(np.float32).reshape(-1, 1, 28, 28)
        (probabilities,) = self.session.run(["SoftM"], {"data": images})
        return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output("SoftM", probabilities)])
