"""The re-test agent: judge (claim, paper) pairs with an LLM, decide each claim's status, run it all.

Modules: llm (the endpoint and its token accounting), prompts (versioned prompt text), judge (grounded
judgements, cached), planner (extra search queries), decide (the status rules), run (the orchestrated
re-validation), schedule, doctor, bench_judge. Heavy imports stay inside functions.
"""
