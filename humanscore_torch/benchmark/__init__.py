"""The benchmark kit: the prompt suite (:mod:`.prompts`) and manifests joining generated clips
to models and prompts (:mod:`.manifest`)."""
