"""lenet.proto read as text: each message's fields, enum values and RPCs with the comments written beside them."""
import re
from dataclasses import dataclass, field
from pathlib import Path

PROTO = Path(__file__).resolve().parents[2] / "protos" / "lenet" / "v1" / "lenet.proto"
FIELD = re.compile(r"^\s*(optional |repeated )?([\w.]+|map<\w+, \w+>) (\w+) = \d+;\s*(?://\s*(.*))?$")
ENUM_VALUE = re.compile(r"^\s*([A-Z0-9_]+) = \d+;\s*(?://\s*(.*))?$")
BLOCK = re.compile(r"^\s*(message|enum|service|oneof) (\w+) \{")
RPC = re.compile(r"^\s*rpc (\w+)\(")


@dataclass
class Element:
    kind: str          # "message", "enum", "service", "field", "value", "rpc"
    name: str          # qualified: "Dataset.indices", "JobState.QUEUED", "Lenet.GetJob"
    optional: bool = False
    comment: str = ""  # the comment lines before it and the comment after it on its line, joined
    lines: list = field(default_factory=list)


def elements() -> dict[str, Element]:
    found, stack, leading = {}, [], []
    for line in PROTO.read_text().splitlines():
        text = line.strip()
        if text.startswith("//"):
            leading.append(text[2:].strip())
            continue
        block, rpc = BLOCK.match(line), RPC.match(line)
        if block:
            kind, name = block.groups()
            if kind != "oneof":
                found[name] = Element(kind, name, comment=" ".join(leading))
            stack.append((kind, name))
        elif rpc:
            found[f"{stack[-1][1]}.{rpc.group(1)}"] = Element("rpc", rpc.group(1), comment=" ".join(leading))
        elif text.startswith("}"):
            stack.pop()
        elif stack and (match := FIELD.match(line)) and stack[-1][0] in ("message", "oneof"):
            owner = next(name for kind, name in reversed(stack) if kind == "message")
            label, _type, name, trailing = match.groups()
            found[f"{owner}.{name}"] = Element("field", f"{owner}.{name}", optional=label == "optional ",
                                               comment=" ".join([*leading, trailing or ""]).strip())
        elif stack and (match := ENUM_VALUE.match(line)) and stack[-1][0] == "enum":
            name, trailing = match.groups()
            found[f"{stack[-1][1]}.{name}"] = Element("value", name,
                                                      comment=" ".join([*leading, trailing or ""]).strip())
        leading = [] if text else leading
    return found
