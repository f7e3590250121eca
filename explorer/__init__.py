"""The explorer layer: a local web app (`papertrends explore`) over the Python API.

May import core, transforms, warehouse and the api (the `papertrends` package root); never Prefect.
"""
