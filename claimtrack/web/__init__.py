"""`claimtrack serve`: the review queue in a browser, over the workspace as it is (claim files and ledger).

Every decision goes through claimtrack.review (`decide_item`, `lift`) and every listing through `review.queue`,
the code the CLI uses, so a page and a command cannot disagree. The web stack (Starlette, Jinja2, uvicorn) is
imported only here, inside `claimtrack serve`, never at the CLI's start-up.
"""
