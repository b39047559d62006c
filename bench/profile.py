"""Where the server's time goes during the storm: py-spy samples, summarised by function.

`--profile` on `bench.run` records the server process with py-spy (when it is installed)
from the first vote until every socket has the final total, and writes the raw collapsed
stacks beside the report together with a summary: the functions with the most samples,
inclusive (anywhere on the stack) and self (on top of it). Only the thread holding the GIL
is sampled (`--gil`), so waiting (epoll, the SQLite worker's queue) is not counted: the
shares are of the CPU time Python spent."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path


class Profiler:
    def __init__(self, pid: int, out: Path, rate: int = 200) -> None:
        self.out = out
        binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.process: subprocess.Popen[bytes] | None = None
        if not Path(binary).exists():
            self.error = "py-spy is not installed (pip install py-spy)"
            return
        self.error = ""
        self.process = subprocess.Popen(
            [
                binary,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--output",
                str(out),
                "--nonblocking",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> str:
        """Ends the recording; answers the summary, or why there is none."""
        if self.process is None:
            return self.error
        self.process.send_signal(signal.SIGINT)
        try:
            output, _ = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        if not self.out.exists():
            return "py-spy wrote nothing: " + output.decode(errors="replace")[-500:]
        return summarise(self.out)


def _name(frame: str) -> str:
    """'fn (path/to/file.py:12)' -> 'fn (file.py)', keeping project paths readable."""
    fn, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("live/", "rooms/"):
        if path.startswith(marker):
            return f"{fn} ({path})"
        if "/" + marker in path:
            return f"{fn} ({marker}{path.split('/' + marker, 1)[1]})"
    return f"{fn} ({Path(path).name})"


def summarise(path: Path, top: int = 25) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_name(f) for f in stack.split(";") if f]
        total += n
        if frames:
            own[frames[-1]] += n
        for name in set(frames):
            inclusive[name] += n
    if not total:
        return "no samples"
    lines = [f"{total} samples of the server holding the GIL during the storm"]
    lines.append("inclusive (share of samples with the function on the stack):")
    for name, n in inclusive.most_common(top):
        lines.append(f"  {100 * n / total:5.1f}%  {name}")
    lines.append("project functions, inclusive:")
    for name, n in [(k, v) for k, v in inclusive.most_common() if "live/" in k or "rooms/" in k][
        :top
    ]:
        lines.append(f"  {100 * n / total:5.1f}%  {name}")
    lines.append("self (on top of the stack):")
    for name, n in own.most_common(top):
        lines.append(f"  {100 * n / total:5.1f}%  {name}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarise(Path(sys.argv[1])))
