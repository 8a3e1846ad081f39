from lenet_protos.lenet.v1 import lenet_pb2 as _lenet_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class Relayed(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
