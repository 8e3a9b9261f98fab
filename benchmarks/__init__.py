"""relsynth's benchmark scripts (run each as a script; see benchmarks/README.md).

A regular package, not a namespace one: opacus 1.6 installs a top-level ``benchmarks``
package of its own, which would otherwise shadow this folder for ``from benchmarks import ...``.
"""
