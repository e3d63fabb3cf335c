"""Run by gertty's own Python (its venv): load a gertty config the way gertty does
and report what gertty's change view would make of one comment.

    gertty_commentlinks.py CONFIG MESSAGE_FILE AUTHOR...

Prints JSON: ``results`` (gertty's test-results box: job -> [[colour, text]]),
``hidden`` (author -> folded by hide-comments) and ``palette_ok``.
"""

import json
import sys

import urwid
from gertty.config import Config
from gertty.mywid import Link


def describe(widget):
    if isinstance(widget, Link):
        return ["link", widget.text]
    if isinstance(widget, tuple):
        return list(widget)
    return [None, widget]


def main(path, message_path, *authors):
    config = Config(path=path)
    with open(message_path) as f:
        message = f.read()
    results = {}
    for link in config.commentlinks:
        for job, parts in link.getTestResults(None, message).items():
            results[job] = [describe(p) for p in parts if p != "\n"]
    hidden = {a: any(r.match(a) for r in config.hide_comments) for a in authors}
    # urwid rejects unknown colour names when a palette is registered.
    urwid.raw_display.Screen().register_palette(config.palette.getPalette())
    json.dump({"results": results, "hidden": hidden, "palette_ok": True}, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:])
