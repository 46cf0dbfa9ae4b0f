"""Where the host's CPU goes on the intake's hot path, sampled with py-spy.

    .venv/bin/python benchmarks/profile_intake.py [--images 80] [--rate 250]

Runs the cell's real intake handler in this process (as ``requests_per_event.py`` does, the
code the Functions host calls) against a private local stack, one event at a time: per image
the accepted push, then the burst mix's other three deliveries (ACR's untagged twin, a re-push
of the tag, a second tag). py-spy samples this process while the loop runs, CPU only (idle
threads are not sampled); samples are grouped by the library of the innermost frame (self)
and by every library a sample passes through (inclusive). Printed: host CPU per event
(``time.process_time``) and, per group, its share of the samples and the milliseconds per
event that share stands for. This is the profile behind the CPU targets of the hot-path issue
(<= 15 ms per accepted event, <= 10 ms over the burst mix).

Needs py-spy (``pip install py-spy``, in the dev extras) and permission to ptrace this
process (root, or ``kernel.yama.ptrace_scope`` 0); without either it says so and exits 0.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench_stack import REPO
from figures import figure

from shared.local.stack import LocalStack, StackPorts

REGION = "westeurope"
# (group, pattern on a py-spy frame "function (path:line)"), first match wins
GROUPS: tuple[tuple[str, str], ...] = (
    ("stdlib email + http.client (header and multipart parsing)", r"\((email|http)/"),
    ("requests", r"\(requests/"),
    ("urllib3", r"\(urllib3/"),
    ("urllib.parse", r"\(urllib/"),
    ("ssl + socket", r"\((ssl|socket)\.py"),
    ("re (regex compiles)", r"\(re/"),
    ("azure-core pipeline", r"\(core/"),
    ("azure-data-tables", r"\(tables/"),
    ("azure-storage-queue", r"\(queue/"),
    ("azure-containerregistry", r"containerregistry/"),
    ("pydantic", r"pydantic"),
    ("json", r"\(json/"),
    ("lean HTTP transport (shared/adapters/lean_http)", r"\(shared/adapters/lean_http/"),
    ("clearance (shared/)", r"\(shared/"),
)


def group_of(frame: str) -> str:
    for name, pattern in GROUPS:
        if re.search(pattern, frame):
            return name
    return "other (stdlib, typing, uuid, ...)"


def shares(raw: str) -> tuple[int, Counter[str], Counter[str]]:
    """Samples, self and inclusive counts per group, from py-spy's ``raw`` (collapsed) output."""
    total, own, through = 0, Counter[str](), Counter[str]()
    for line in raw.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[group_of(frames[-1])] += n
        for name in {group_of(f) for f in frames}:
            through[name] += n
    return total, own, through


def mix(stack: LocalStack, images: int) -> list[list[dict[str, object]]]:
    from shared.local.events import image_pushed
    from shared.local.images import push_image
    from shared.local.samples import model_labels

    registry = stack.registry_client(REGION)
    rounds = []
    for i in range(images):
        name = f"prof-{i:04d}"
        labels = model_labels(name, "1.0.0", region=REGION, zone="EU")
        digest = push_image(registry, f"models/{name}", labels, tag="1.0.0").digest
        repository = f"models/{name}"
        rounds.append(
            [
                image_pushed(stack, REGION, repository, digest, "1.0.0"),  # accepted
                image_pushed(stack, REGION, repository, digest, None),  # the untagged twin
                image_pushed(stack, REGION, repository, digest, "1.0.0"),  # re-push
                image_pushed(stack, REGION, repository, digest, "stable"),  # second tag
            ]
        )
    return rounds


def top_functions(raw: str, group: str, limit: int = 12) -> list[tuple[str, int]]:
    """The innermost frames of ``group`` by self samples, from py-spy's ``raw`` output."""
    found: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frame = stack.rsplit(";", 1)[-1]
        if group_of(frame) == group:
            found[frame] += int(count)
    return found.most_common(limit)


def run(images: int, rate: int, keep: Path | None = None, detail: str | None = None) -> int:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("py-spy is not installed (pip install py-spy): no profile")
        return 0
    from shared.composition import Container
    from shared.services.intake.handlers import handle_binding, handle_image_pushed
    from shared.settings import build_settings
    from tests.support.request_counts import binding

    with tempfile.TemporaryDirectory(prefix="clearance-prof-") as root:
        stack = LocalStack(Path(root), REPO, ports=StackPorts.free())
        try:
            stack.up(timeout=180, hosts=False)
            deps = Container(build_settings(stack.environment(REGION))).intake()
            warm, *rounds = mix(stack, images + 1)
            for event in warm:  # client construction, create-if-missing of tables and queues
                handle_binding(binding(event), handle_image_pushed, deps)
            out = Path(root) / "profile.txt"
            command = [spy, "record", "-p", str(os.getpid()), "-r", str(rate), "-f", "raw"]
            sampler = subprocess.Popen(
                [*command, "-o", str(out), "--nonblocking"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            time.sleep(1.0)  # py-spy attaches
            if sampler.poll() is not None:
                print(f"py-spy could not sample: {sampler.stderr.read().decode()[:300]}")
                return 0
            cpu = {"accepted": 0.0, "duplicate or re-tag": 0.0}
            for events in rounds:
                for i, event in enumerate(events):
                    start = time.process_time()
                    handle_binding(binding(event), handle_image_pushed, deps)
                    cpu["accepted" if i == 0 else "duplicate or re-tag"] += (
                        time.process_time() - start
                    )
            sampler.send_signal(2)  # SIGINT: py-spy writes what it sampled
            sampler.wait(timeout=60)
            raw = out.read_text()
            total, own, through = shares(raw)
            if keep is not None:
                keep.write_text(raw)
        finally:
            stack.down()
    n = len(rounds)
    per_event = 1000 * (cpu["accepted"] + cpu["duplicate or re-tag"]) / (4 * n)
    accepted = 1000 * cpu["accepted"] / n
    print(f"{n} images, {4 * n} events (the burst mix), one at a time, {total} samples")
    print(figure("host CPU per accepted event (profiled)", accepted, "ms", "<=", 15))
    print(figure("host CPU per event, burst mix (profiled)", per_event, "ms", "<=", 10))
    print(f"\n{'where it goes (burst mix)':58} {'self':>6} {'ms/ev':>6} {'incl.':>6}")
    for name, count in own.most_common():
        share = count / total if total else 0.0
        incl = through[name] / total if total else 0.0
        print(f"{name:58} {100 * share:5.1f}% {share * per_event:6.2f} {100 * incl:5.1f}%")
    if detail:
        group = next((g for g, _ in GROUPS if detail.lower() in g.lower()), detail)
        print(f"\n{group}: innermost frames by self samples")
        for frame, count in top_functions(raw, group):
            print(f"  {100 * count / total:5.1f}%  {frame}")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=80)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--keep", type=Path, help="write py-spy's collapsed stacks here")
    parser.add_argument(
        "--detail", help="list the busiest functions of the group whose name contains this"
    )
    args = parser.parse_args()
    sys.exit(run(args.images, args.rate, args.keep, args.detail))


if __name__ == "__main__":
    main()
