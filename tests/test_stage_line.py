"""Progress of long steps outside fit(): a transient line on a terminal, nothing elsewhere."""

import io

from kerasdl.stage_line import StageLine


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_sees_the_step_then_a_clean_line():
    stream = _Terminal()
    with StageLine("export", stream=stream) as line:
        line.say("float16: converting")
        line.count("images", 5000, 5000)  # the last count always shows
    written = stream.getvalue()
    assert "\rexport: float16: converting (0.0 s)" in written and "export: images 5000/5000" in written
    # Erased at the end: what follows starts at the beginning of a blank line.
    assert written.endswith("\r") and written.rsplit("\r", 2)[-2].strip() == ""


def test_counts_are_throttled():
    stream = _Terminal()
    line = StageLine("reading", stream=stream)
    for done in range(1, 1001):
        line.count("images", done, 1000)
    assert stream.getvalue().count("\r") < 20  # not a thousand rewrites


def test_a_log_file_and_a_quiet_run_get_nothing():
    for stream, enabled in ((io.StringIO(), True), (_Terminal(), False)):
        with StageLine("export", stream=stream, enabled=enabled) as line:
            line.say("float32: converting")
        assert stream.getvalue() == ""
