"""``docker build``. The parsing modules are pure functions over what the caller passes:

* :mod:`.dockerfile` — parse a Dockerfile into typed instructions (:mod:`.instructions`);
* :mod:`.lex` — docker's ``$VAR`` substitution and word splitting;
* :mod:`.stages` — split instructions into build stages, resolve ``--target`` and the
  dependency graph between stages;
* :mod:`.context` — receive the build context; :mod:`.copy` — COPY/ADD semantics
  (``.dockerignore`` matching lives in :mod:`berth.formats.dockerignore`, shared with
  the CLI);
* :mod:`.mounts` — ``RUN --mount`` flags; :mod:`.runmounts` serves them to the RUN
  container, :mod:`.secretstore` holds ``--secret``s, :mod:`.mountpoints` keeps their
  mount points out of the layer.
"""
