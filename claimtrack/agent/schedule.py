"""Ready-to-install schedules for the weekly re-check: a crontab line, a systemd service + timer, a GitHub
Actions workflow. Paths are absolute (cron and systemd start in $HOME, not in the workspace); secrets are
referenced from an environment file or GitHub secrets, never written into the output. The environment file is
optional (without a key, runs discover and leave candidates unjudged), and everything a scheduled run prints,
its failures included, lands in its log. `preflight` says what the schedule would lack, before it is installed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from claimtrack.errors import InvalidArgument
from claimtrack.workspace import Workspace

KINDS = ("cron", "systemd", "github")
ENV_FILE = "$HOME/.config/claimtrack/env"  # KEY=value lines: OPENAI_API_KEY, OPENAI_BASE_URL, ...
CRON_WHEN = "17 4 * * 1"  # Mondays 04:17, off the hour so shared endpoints are not hit by everyone at once


def _executable() -> str:
    """The installed `claimtrack` script, else this interpreter running the package."""
    found = shutil.which("claimtrack")
    return shlex.quote(found) if found else f"{shlex.quote(sys.executable)} -m claimtrack"


def cron(ws: Workspace) -> str:
    root = shlex.quote(str(ws.root))
    state = shlex.quote(str(ws.state_dir))
    log = shlex.quote(str(ws.state_dir / "cron.log"))
    env = f'"{ENV_FILE}"'
    return (
        f"# claimtrack: re-check due claims every Monday at 04:17. Secrets are read from {ENV_FILE} when it\n"
        f"# exists (chmod 600; OPENAI_API_KEY=..., OPENAI_BASE_URL=..., CLAIMTRACK_LLM_MODEL=...), never written\n"
        f"# here. Everything the run prints, a failure to start included, goes to {log}.\n"
        f"# Install with: crontab -e, then paste the next line.\n"
        f"{CRON_WHEN} mkdir -p {state} && {{ date -u; cd {root} && if [ -r {env} ]; then set -a && . {env}"
        f" && set +a; fi && {_executable()} --workspace {root} run --due; }} >> {log} 2>&1\n"
    )


def systemd(ws: Workspace) -> str:
    root = str(ws.root)
    return f"""# ~/.config/systemd/user/claimtrack.service
[Unit]
Description=claimtrack: re-check due claims against newer literature
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
WorkingDirectory={root}
# KEY=value lines (OPENAI_API_KEY, OPENAI_BASE_URL, CLAIMTRACK_LLM_MODEL, S2_API_KEY); chmod 600.
# The leading '-' makes it optional. What the run prints goes to the journal: journalctl --user -u claimtrack
EnvironmentFile=-%h/.config/claimtrack/env
ExecStart={_executable()} --workspace {shlex.quote(root)} run --due
# exit 1 means some claims failed and the rest were saved: not a unit failure
SuccessExitStatus=1

# ~/.config/systemd/user/claimtrack.timer
[Unit]
Description=Weekly claimtrack re-check

[Timer]
OnCalendar=Mon *-*-* 04:17:00
RandomizedDelaySec=30min
Persistent=true

[Install]
WantedBy=timers.target

# Enable with: systemctl --user daemon-reload && systemctl --user enable --now claimtrack.timer
"""


def _repo_relative(ws: Workspace) -> str:
    """The workspace's folder inside its git repository ('.' at the top), for the workflow's checkout."""
    try:
        top = subprocess.run(
            ["git", "-C", str(ws.root), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "."
    try:
        rel = ws.root.relative_to(Path(top).resolve())
    except ValueError:
        return "."
    return str(rel) if str(rel) != "." else "."


def github(ws: Workspace, *, push: bool = False) -> str:
    """The workflow; by default it opens (or updates) a pull request with the changed claims and the report,
    so a person sees each status change before it lands. `push` commits straight to the checked-out branch."""
    rel = _repo_relative(ws)
    # Expressions, not $GITHUB_WORKSPACE: `env:` values and the cache action's path are not shell-expanded.
    where = "${{ github.workspace }}" if rel == "." else f"${{{{ github.workspace }}}}/{rel}"
    paths = "claims reports" if rel == "." else f"{rel}/claims {rel}/reports"
    report = "reports/status.md" if rel == "." else f"{rel}/reports/status.md"
    if push:
        permissions = "  contents: write"
        publish = f"""      - name: Commit changed claims and the report straight to the branch
        run: |
          git config user.name "claimtrack"
          git config user.email "claimtrack@users.noreply.github.com"
          git add {paths}
          git diff --cached --quiet || git commit -m "claimtrack: weekly re-check"
          git push
"""
    else:
        permissions = "  contents: write\n  pull-requests: write"
        add_paths = "\n".join(f"            {p}/**" for p in paths.split())
        publish = f"""      # Allow it once: Settings > Actions > General > Workflow permissions > "Allow GitHub Actions
      # to create and approve pull requests". The pull request is opened when claims or the report changed,
      # and updated by later runs until a person merges or closes it.
      - name: Open or update a pull request with the changed claims and the report
        uses: peter-evans/create-pull-request@v7
        with:
          branch: claimtrack/weekly-recheck
          delete-branch: true
          commit-message: "claimtrack: weekly re-check"
          title: "claimtrack: weekly re-check"
          body-path: {report}
          add-paths: |
{add_paths}
"""
    return f"""# .github/workflows/claimtrack.yml
name: claimtrack weekly re-check
on:
  schedule:
    - cron: "{CRON_WHEN}"
  workflow_dispatch: {{}}
permissions:
{permissions}
concurrency: claimtrack
jobs:
  recheck:
    runs-on: ubuntu-latest
    timeout-minutes: 180
    env:
      CLAIMTRACK_HOME: {where}
      # Set these in Settings > Secrets and variables > Actions; nothing secret is written in this file.
      OPENAI_API_KEY: ${{{{ secrets.OPENAI_API_KEY }}}}
      OPENAI_BASE_URL: ${{{{ vars.OPENAI_BASE_URL }}}}
      CLAIMTRACK_LLM_MODEL: ${{{{ vars.CLAIMTRACK_LLM_MODEL }}}}
      S2_API_KEY: ${{{{ secrets.S2_API_KEY }}}}
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Keep the ledger (papers, judgements, caches) between runs
        uses: actions/cache@v4
        with:
          path: {where}/.claimtrack
          key: claimtrack-state-${{{{ github.run_id }}}}
          restore-keys: claimtrack-state-
      - name: Install
        run: pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu && pip install .
      - name: Re-check due claims (exit 1 = some claims failed, the rest saved)
        run: claimtrack run --due || [ $? -eq 1 ]
      - name: Status report
        run: mkdir -p "{where}/reports" && claimtrack report status --out "{where}/reports/status.md"
{publish}"""


def preflight(kind: str, ws: Workspace, environ: Mapping[str, str] | None = None) -> list[str]:
    """What the schedule of `kind` would lack when it runs, one warning each: the workspace, the Python it
    starts, the environment file, and a key or a local endpoint for the judge. Empty when all is in place."""
    environ = os.environ if environ is None else environ
    if kind == "github":
        return (
            []
            if _repo_relative(ws) != "." or (ws.root / ".git").exists()
            else [f"{ws.root} is not in a git repository: the workflow checks out the repository it is committed to"]
        )
    warnings = []
    if not os.access(ws.root, os.W_OK):
        warnings.append(f"workspace {ws.root} is not writable: the run cannot save claims or its log")
    warnings += _python_warnings(ws)
    env_file = Path(ENV_FILE.replace("$HOME", environ.get("HOME", str(Path.home()))))
    values = _env_values(env_file)
    here = [k for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL") if environ.get(k)]
    shell_only = f"; {' and '.join(here)} is set in this shell only, which the schedule does not see" if here else ""
    if values is None:
        return [
            *warnings,
            f"no {env_file}: the schedule runs without it, so with no LLM key or endpoint (OPENAI_API_KEY=... or"
            f" OPENAI_BASE_URL=... there) its runs leave candidates unjudged{shell_only}",
        ]
    if env_file.stat().st_mode & 0o077:
        warnings.append(f"{env_file} can be read by others: chmod 600 {env_file}")
    endpoint = values.get("OPENAI_BASE_URL")
    if not values.get("OPENAI_API_KEY") and not endpoint:
        warnings.append(
            f"neither OPENAI_API_KEY nor OPENAI_BASE_URL in {env_file}: runs leave candidates unjudged{shell_only}"
        )
    elif endpoint and not values.get("OPENAI_API_KEY") and not _answers(endpoint):
        warnings.append(f"the local endpoint {endpoint} does not answer now: start it before the schedule runs")
    return warnings


def _python_warnings(ws: Workspace) -> list[str]:
    """The command the schedule starts must import claimtrack without this shell's PYTHONPATH."""
    if shutil.which("claimtrack"):
        return []
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = subprocess.run(
        [sys.executable, "-c", "import claimtrack"], cwd=ws.root, env=env, capture_output=True, timeout=60
    )
    if probe.returncode != 0:
        return [
            f"{sys.executable} cannot import claimtrack outside this shell (no PYTHONPATH there):"
            " install it into that environment (pip install -e .) or name a virtual environment that has it"
        ]
    return []


def _env_values(path: Path) -> dict[str, str] | None:
    """KEY=value lines of the environment file (values only tested for being set); None when absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = value.strip().strip("'\"")
    return values


def _answers(url: str) -> bool:
    """Whether something listens at the endpoint's host and port (a local server may simply be stopped)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        with socket.create_connection((parts.hostname or "localhost", port), timeout=2):
            return True
    except (OSError, ValueError):
        return False


def render(kind: str, ws: Workspace, *, push: bool = False) -> str:
    if kind not in KINDS:
        raise InvalidArgument("KIND", f"'{kind}' is not one of {', '.join(KINDS)}")
    if push and kind != "github":
        raise InvalidArgument("--push", "only the github workflow pushes; cron and systemd write in place")
    if kind == "github":
        return github(ws, push=push)
    return {"cron": cron, "systemd": systemd}[kind](ws)
