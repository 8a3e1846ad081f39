"""One self-contained HTML report: a header (title, lead and facts: model id, date, package version), a table of
contents beside the text, sections and subsections with anchors, text, preformatted blocks, tables, figures and
downloads. Figures and downloads are embedded as data: URIs, so the single file can be moved or mailed alone."""
import base64
import html
import re
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

PACKAGE = "lenet-service"
PIXEL_RATIO = 2          # PNG pixels per CSS pixel: the figures are drawn at twice their displayed size

STYLE = """
body { margin: 0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2933; }
.page { display: grid; grid-template-columns: 14rem minmax(0, 1fr); gap: 2.5rem; max-width: 1240px;
  margin: 0 auto; padding: 0 1.5rem 4rem; }
nav.toc { position: sticky; top: 0; align-self: start; max-height: 100vh; overflow-y: auto; padding: 1.6rem 0;
  font-size: 14px; }
nav.toc h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: #616e7c; margin: 0 0 .5em; }
nav.toc ol { list-style: none; padding-left: 0; margin: 0; }
nav.toc ol ol { padding-left: 1em; font-size: 13px; }
nav.toc a { color: #1f2933; text-decoration: none; display: block; padding: .12em 0; }
nav.toc a:hover { color: #3a6ea5; }
main { min-width: 0; max-width: 980px; }
header.top { padding: 1.6rem 0 .4rem; border-bottom: 1px solid #d9e2ec; }
header.top h1 { font-size: 1.8em; margin: 0 0 .3em; line-height: 1.25; }
.lead { color: #52606d; margin: 0 0 1em; }
dl.about { display: grid; grid-template-columns: max-content 1fr; gap: .25em 1.2em; margin: 0 0 1em; }
dl.about dt { color: #616e7c; }
dl.about dd { margin: 0; font-variant-numeric: tabular-nums; }
h2 { font-size: 1.4em; margin: 2.2em 0 .6em; padding-bottom: .2em; border-bottom: 1px solid #d9e2ec; }
h3 { font-size: 1.12em; margin: 1.8em 0 .4em; }
pre { background: #f5f7fa; padding: .8em 1em; overflow-x: auto; font-size: 13px; line-height: 1.35; }
figure { margin: 1em 0 1.4em; }
figure img { display: block; width: 100%; height: auto; border: 1px solid #e4e7eb; }
figcaption { color: #52606d; font-size: .92em; margin-top: .35em; }
table { border-collapse: collapse; font-size: 14px; margin: .5em 0 1em; }
td, th { border: 1px solid #d9e2ec; padding: .25em .6em; text-align: left; }
th { background: #f5f7fa; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
a { color: #3a6ea5; }
details { margin: .5em 0 1em; }
summary { cursor: pointer; color: #3a6ea5; }
@media (max-width: 960px) {
  .page { display: block; }
  nav.toc { position: static; max-height: none; border-bottom: 1px solid #d9e2ec; }
}
"""

NUMBER = re.compile(r"[-+]?[\d.,×e]+")


def _cell(text: str) -> str:
    """A table cell; numbers (and shapes like 20×24×24) align right."""
    return f'<td class="n">{html.escape(text)}</td>' if NUMBER.fullmatch(text) else f"<td>{html.escape(text)}</td>"


def data_uri(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    return struct.unpack(">II", data[16:24])


def package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


@dataclass
class Section:
    title: str
    anchor: str
    parts: list[str] = field(default_factory=list)
    children: list["Section"] = field(default_factory=list)

    def text(self, paragraph: str) -> "Section":
        self.parts.append(f"<p>{html.escape(paragraph)}</p>")
        return self

    def pre(self, block: str) -> "Section":
        self.parts.append(f"<pre>{html.escape(block)}</pre>")
        return self

    def table(self, header: list[str], rows: list[list]) -> "Section":
        head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
        body = "".join("<tr>" + "".join(_cell(str(cell)) for cell in row) + "</tr>" for row in rows)
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        return self

    def figure(self, path: Path, caption: str, alt: str = "") -> "Section":
        """The PNG at `path`, embedded, shown at 1/PIXEL_RATIO of its pixel size; its anchor is "fig-" and the
        file's stem."""
        data = Path(path).read_bytes()
        width, height = png_size(data)
        anchor = f"fig-{Path(path).stem}"
        self.parts.append(
            f'<figure id="{html.escape(anchor)}"><img src="{data_uri(data, "image/png")}" '
            f'width="{width // PIXEL_RATIO}" height="{height // PIXEL_RATIO}" alt="{html.escape(alt or caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        return self

    def download(self, name: str, data: bytes, media_type: str, label: str) -> "Section":
        """A link that saves `data` as `name`, the data embedded in the link itself."""
        self.parts.append(f'<p><a download="{html.escape(name)}" href="{data_uri(data, media_type)}">'
                          f"{html.escape(label)}</a></p>")
        return self

    def source(self, summary: str, text: str) -> "Section":
        """A folded block of source text."""
        self.parts.append(f"<details><summary>{html.escape(summary)}</summary><pre>{html.escape(text)}</pre>"
                          "</details>")
        return self

    def subsection(self, title: str, anchor: str) -> "Section":
        self.children.append(Section(title, anchor))
        return self.children[-1]

    def render(self, level: int = 2) -> str:
        inner = "".join(child.render(level + 1) for child in self.children)
        return (f'<section id="{html.escape(self.anchor)}"><h{level}>{html.escape(self.title)}</h{level}>'
                f'{"".join(self.parts)}{inner}</section>\n')

    def contents(self) -> str:
        children = "".join(child.contents() for child in self.children)
        return (f'<li><a href="#{html.escape(self.anchor)}">{html.escape(self.title)}</a>'
                f'{f"<ol>{children}</ol>" if children else ""}</li>')


@dataclass
class Report:
    title: str
    lead: str
    sections: list[Section] = field(default_factory=list)
    about: dict[str, str] = field(default_factory=dict)   # facts for the header, e.g. {"model": id}

    def section(self, title: str, anchor: str) -> Section:
        self.sections.append(Section(title, anchor))
        return self.sections[-1]

    def write(self, path: Path, now: datetime | None = None) -> Path:
        """The report as one HTML file; the header adds the date (`now`, default: the current time) and the
        package's version to `about`."""
        now = now or datetime.now(timezone.utc)
        facts = {**self.about, "date": now.strftime("%Y-%m-%d %H:%M UTC"), PACKAGE: package_version()}
        about = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in facts.items())
        contents = "".join(section.contents() for section in self.sections)
        body = "".join(section.render() for section in self.sections)
        path = Path(path)
        path.write_text(
            f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(self.title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f'<div class="page">\n<nav class="toc" id="contents" aria-label="Contents"><h2>Contents</h2>'
            f"<ol>{contents}</ol></nav>\n<main>\n"
            f'<header class="top"><h1>{html.escape(self.title)}</h1><p class="lead">{html.escape(self.lead)}</p>'
            f'<dl class="about">{about}</dl></header>\n{body}</main>\n</div>\n</body>\n</html>\n')
        return path
