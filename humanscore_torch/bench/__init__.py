"""``humanscore bench``: speed and memory of the metrics against a per-frame numpy reference.

Modules: :mod:`.poses` (a pose mix that stresses self-penetration), :mod:`.clips` (the clips
both pipelines score), :mod:`.reference` (the reference pipeline), :mod:`.worker` (one
measurement in a fresh process), :mod:`.runner` (the whole run), :mod:`.report` (the table).
"""
