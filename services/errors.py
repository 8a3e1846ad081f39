"""Domain errors shared by the store, the gateway and the workers.

Each carries the gRPC status code name it maps to, so the gateway translates them in one place
(services/gateway/status_codes.py) and a worker can send them back by name in a WorkerReply.
"""


class ServiceError(Exception):
    code = "INTERNAL"


class InvalidArgument(ServiceError):
    """A request field is wrong; the message starts with the field's name."""
    code = "INVALID_ARGUMENT"

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field


class NotFound(ServiceError):
    code = "NOT_FOUND"


class FailedPrecondition(ServiceError):
    code = "FAILED_PRECONDITION"


class ResourceExhausted(ServiceError):
    code = "RESOURCE_EXHAUSTED"


class PermissionDenied(ServiceError):
    code = "PERMISSION_DENIED"


class Unauthenticated(ServiceError):
    code = "UNAUTHENTICATED"


class Unavailable(ServiceError):
    code = "UNAVAILABLE"


class DeadlineExceeded(ServiceError):
    code = "DEADLINE_EXCEEDED"


BY_CODE = {cls.code: cls for cls in (InvalidArgument, NotFound, FailedPrecondition, ResourceExhausted,
                                     PermissionDenied, Unauthenticated, Unavailable, DeadlineExceeded, ServiceError)}


def from_code(code: str, message: str) -> ServiceError:
    """Rebuild the error a worker reported by code name."""
    cls = BY_CODE.get(code, ServiceError)
    error = ServiceError.__new__(cls)
    Exception.__init__(error, message)
    return error
