"""Names of the raw kinds: what a landing in raw/ is, recorded as `kind` in its sidecar.

Sources write these when they land a response or a file; the pipeline reads them to choose a
normalizer. A kind's name is stored in every sidecar, so it never changes once released.
"""

KIND_HF_DAILY_API = "hf_daily_api"      # a response of /api/daily_papers
KIND_HF_DAILY_FILE = "hf_daily_file"    # a saved daily-papers JSON file
KIND_HF_PAPERS_TEXT = "hf_papers_text"  # a papers page saved as plain text
KIND_HF_HTML = "hf_html_page"           # a papers page as HTML (fetched, or saved from a browser)
KIND_HF_PAPER_API = "hf_paper_api"      # a response of /api/papers/{id}
KIND_HF_SEARCH_API = "hf_search_api"    # a response of /api/papers/search?q=
KIND_ARXIV_API = "arxiv_api"            # a response of arXiv's /api/query
KIND_ARXIV_OAI = "arxiv_oai"            # an OAI-PMH ListRecords page
KIND_ARXIV_SNAPSHOT = "arxiv_snapshot"  # the arXiv metadata snapshot (JSON Lines), landed whole
KIND_UNREADABLE = "unreadable"          # a path given to `ingest files` that could not be read
