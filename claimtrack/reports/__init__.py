"""Reports a person reads: research prompts per inquiring line, status reports (Markdown, HTML, JSON)
and the changelog of status changes. All are pure functions of the store (and the ledger's pending
candidates), so the same store always gives the same text."""
