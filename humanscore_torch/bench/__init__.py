"""``humanscore bench``: speed and memory of the metrics against a per-frame numpy reference.

Modules: :mod:`.poses` (a pose mix that stresses self-penetration), :mod:`.clips` (the clips
both pipelines score), :mod:`.reference` (the reference pipeline), :mod:`.worker` (one
measurement in a fresh process), :mod:`.runner` (the whole run), :mod:`.report` (the table).
:mod:`.results_scaling` is a command of its own: files/s of ``humanscore evaluate``'s results
machinery at 1,000 and 10,000 files done.
"""
