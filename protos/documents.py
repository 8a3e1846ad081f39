"""Messages and results as plain JSON documents, by one set of rules: the CLI's --json output and the dashboard's
pages both use them, so a field reads the same everywhere."""
import base64
import math
from pathlib import Path

import numpy as np
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message


def jsonable(value):
    """Any result as plain JSON values, by one set of rules: messages as dicts with the proto's field
    names, every field without presence included (zero and empty too), enums by name, integers (int64 too) as
    numbers, floats as numbers (float32 and float16 in their shortest form), NaN and ±Infinity as null, bytes as
    base64, paths as strings."""
    if isinstance(value, Message):
        return message_dict(value)
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(item) for item in value]
    if isinstance(value, np.floating):
        return jsonable(float(str(value)))   # str: the shortest decimal that reads back as the same value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Path):
        return str(value)
    return value


def message_dict(message: Message) -> dict:
    """proto3 JSON with the proto's field names and every field without presence (as protobuf's
    always_print_fields_with_no_presence), but int64 as numbers and NaN as null."""
    return {field.name: _field_value(field, getattr(message, field.name)) for field in message.DESCRIPTOR.fields
            if not field.has_presence or message.HasField(field.name)}


def _field_value(field: FieldDescriptor, value):
    if field.is_repeated:
        return [_single_value(field, item) for item in value]
    return _single_value(field, value)


def _single_value(field: FieldDescriptor, value):
    if field.type == FieldDescriptor.TYPE_ENUM:
        known = field.enum_type.values_by_number.get(value)
        return known.name if known else value
    if field.type == FieldDescriptor.TYPE_FLOAT:
        return jsonable(np.float32(value))
    return jsonable(value)



BRIEF_ITEMS = 10        # brief(): longer lists show their length only
BRIEF_CHARACTERS = 60   # brief(): longer strings are cut


def brief(message: Message) -> str:
    """A message in one short line, for repr(): its set fields, long lists as their length, bytes as their size,
    long strings cut, e.g. `Cell(prediction=3, reference=5, count=11, indices=[11 values])`. str() stays
    protobuf's text format."""
    return f"{message.DESCRIPTOR.name}({', '.join(f'{f.name}={_brief_value(f, v)}' for f, v in message.ListFields())})"


def _brief_value(field: FieldDescriptor, value) -> str:
    if field.is_repeated:
        if field.message_type or len(value) > BRIEF_ITEMS:
            return f"[{len(value)} {field.message_type.name if field.message_type else 'values'}]"
        return "[" + ", ".join(_brief_single(field, item) for item in value) + "]"
    return _brief_single(field, value)


def _brief_single(field: FieldDescriptor, value) -> str:
    if field.message_type:
        return brief(value)
    if field.type == FieldDescriptor.TYPE_ENUM:
        return str(_single_value(field, value))
    if field.type == FieldDescriptor.TYPE_BYTES:
        return f"<{len(value):,} bytes>"
    if field.type == FieldDescriptor.TYPE_STRING and len(value) > BRIEF_CHARACTERS:
        return repr(value[:BRIEF_CHARACTERS] + "…")
    return repr(_single_value(field, value))
