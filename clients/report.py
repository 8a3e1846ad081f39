"""A self-contained HTML report: sections of text, preformatted tables and figures (PNG files beside it)."""
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.7em; margin-bottom: .2em; } h2 { border-bottom: 1px solid #ddd; margin-top: 2em; }
pre { background: #f6f8fa; padding: .8em 1em; overflow-x: auto; font-size: 13px; line-height: 1.35; }
figure { display: inline-block; vertical-align: top; margin: 1em 1em 0 0; max-width: 100%; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9em; } .lead { color: #555; }
nav a { margin-right: 1em; } table { border-collapse: collapse; font-size: 14px; }
td, th { border: 1px solid #ddd; padding: .25em .6em; text-align: left; } th { background: #f6f8fa; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
"""


NUMBER = re.compile(r"[-+]?[\d.,×e]+")


def _cell(text: str) -> str:
    """A table cell; numbers (and shapes like 20×24×24) align right."""
    return f'<td class="n">{html.escape(text)}</td>' if NUMBER.fullmatch(text) else f"<td>{html.escape(text)}</td>"


@dataclass
class Section:
    title: str
    parts: list[str] = field(default_factory=list)

    def text(self, paragraph: str) -> "Section":
        self.parts.append(f"<p>{html.escape(paragraph)}</p>")
        return self

    def pre(self, block: str) -> "Section":
        self.parts.append(f"<pre>{html.escape(block)}</pre>")
        return self

    def table(self, header: list[str], rows: list[list]) -> "Section":
        head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
        body = "".join("<tr>" + "".join(_cell(str(cell)) for cell in row) + "</tr>" for row in rows)
        self.parts.append(f"<table><tr>{head}</tr>{body}</table>")
        return self

    def figure(self, path: Path, caption: str) -> "Section":
        self.parts.append(f'<figure><img src="{html.escape(Path(path).name)}" alt="{html.escape(caption)}">'
                          f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        return self


@dataclass
class Report:
    title: str
    lead: str
    sections: list[Section] = field(default_factory=list)

    def section(self, title: str) -> Section:
        self.sections.append(Section(title))
        return self.sections[-1]

    def write(self, path: Path) -> Path:
        anchors = [f"s{i}" for i in range(len(self.sections))]
        nav = " ".join(f'<a href="#{a}">{html.escape(s.title)}</a>' for a, s in zip(anchors, self.sections))
        body = "\n".join(f'<section id="{a}"><h2>{html.escape(s.title)}</h2>{"".join(s.parts)}</section>'
                         for a, s in zip(anchors, self.sections))
        path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                        f"<style>{STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>"
                        f"<p class='lead'>{html.escape(self.lead)}</p><nav>{nav}</nav>{body}</body></html>\n")
        return path
