"""Coverage-guided fuzzing (atheris) of the parsers that read hostile bytes.

One target per parser (:mod:`fuzz.targets`); ``python -m fuzz TARGET --seconds N``
runs one (:mod:`fuzz.__main__`). Each input must end in a result or in the
parser's documented error, within a time and memory bound; anything else is a
crash that atheris reports with the input saved. ``fuzz/README.md`` says how the
seed corpora under ``fuzz/corpus/`` were made.
"""
