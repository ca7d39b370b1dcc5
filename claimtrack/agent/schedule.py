"""Ready-to-install schedules for the weekly re-check: a crontab line, a systemd service + timer, a GitHub
Actions workflow. Paths are absolute (cron and systemd start in $HOME, not in the workspace); secrets are
referenced from an environment file or GitHub secrets, never written into the output.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
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
    log = shlex.quote(str(ws.state_dir / "cron.log"))
    return (
        f"# claimtrack: re-check due claims every Monday at 04:17. Secrets are read from {ENV_FILE}\n"
        f"# (chmod 600; OPENAI_API_KEY=..., OPENAI_BASE_URL=..., CLAIMTRACK_LLM_MODEL=...), never written here.\n"
        f"# Install with: crontab -e, then paste the next line.\n"
        f'{CRON_WHEN} cd {root} && set -a && . "{ENV_FILE}" && set +a && '
        f"{_executable()} --workspace {root} run --due >> {log} 2>&1\n"
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
EnvironmentFile=%h/.config/claimtrack/env
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


def github(ws: Workspace) -> str:
    rel = _repo_relative(ws)
    # Expressions, not $GITHUB_WORKSPACE: `env:` values and the cache action's path are not shell-expanded.
    where = "${{ github.workspace }}" if rel == "." else f"${{{{ github.workspace }}}}/{rel}"
    paths = "claims reports" if rel == "." else f"{rel}/claims {rel}/reports"
    return f"""# .github/workflows/claimtrack.yml
name: claimtrack weekly re-check
on:
  schedule:
    - cron: "{CRON_WHEN}"
  workflow_dispatch: {{}}
permissions:
  contents: write
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
      - name: Commit changed claims and the report
        run: |
          git config user.name "claimtrack"
          git config user.email "claimtrack@users.noreply.github.com"
          git add {paths}
          git diff --cached --quiet || git commit -m "claimtrack: weekly re-check"
          git push
"""


def render(kind: str, ws: Workspace) -> str:
    if kind not in KINDS:
        raise InvalidArgument("KIND", f"'{kind}' is not one of {', '.join(KINDS)}")
    return {"cron": cron, "systemd": systemd, "github": github}[kind](ws)
