"""Loaded by schemathesis (the `hooks` of deploy/contract/*.toml; PYTHONPATH names this folder).

CPython 3.11 before 3.11.8 raises SystemError ("AST constructor recursion depth mismatch",
CPython gh-106905) from ast.parse when it is called deep in a recursion. Hypothesis parses a
filter lambda's source only to name it in a strategy's repr, and schemathesis's coverage phase
calls it that deep; Debian 12's Python is 3.11.2. A repr's name is not worth a crashed run: an
unknown one is used in that case, and nothing else changes.
"""
import hypothesis.internal.lambda_sources as lambda_sources

_describe = lambda_sources._lambda_description


def _describe_or_unknown(f, *args, **kwargs):
    try:
        return _describe(f, *args, **kwargs)
    except SystemError:
        return "lambda: <unknown>"


lambda_sources._lambda_description = _describe_or_unknown
