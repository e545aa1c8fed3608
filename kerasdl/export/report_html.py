"""report.html: report.md as one self-contained web page (its pictures
inlined), for opening from a file manager or attaching to an email."""

import base64
import html
import re
from pathlib import Path

import markdown

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
th { background: #f3f5f8; }
img { max-width: 100%; border: 1px solid #eee; }
code { background: #f3f3f3; padding: 0 0.2em; }
"""


def html_report(report_markdown, folder):
    """The page for `report_markdown`, whose `![title](plots/NAME.png)`
    pictures are read from `folder` (the run directory or its staging copy)
    and inlined as data URIs."""
    body = markdown.markdown(report_markdown, extensions=["tables"])

    def inline(match):
        path = Path(folder) / html.unescape(match.group(1))
        if not path.is_file():
            return match.group(0)
        return f'src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode("ascii")}"'

    body = re.sub(r'src="([^"]+\.png)"', inline, body)
    title = html.escape(report_markdown.splitlines()[0].lstrip("# ") if report_markdown else "report")
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
        f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
