"""The course's grading machinery and its ``course`` CLI (``autograder.cli:main``).

nbgrader is the engine (build, checksums, restoring hidden tests, gradebook);
this package adds what it lacks: parallel / distributed grading, limits,
resume, progress, redacted feedback, a release check and a demo.

Python API (for ``bench/``, ``collect.py`` and tests)::

    from autograder.course import Course            # Course.find(root=None): the checkout; .units()
    from autograder.instance import Instance        # Instance(root, db_url=None, course=None)
    inst = Instance("instance", db_url=None).init(["01_linear_classifiers"])   # dirs + gradebook + register
    inst.add_student("s001", first_name="Ada", last_name="Lovelace", email=None)
    inst.import_submission("s001", "01_linear_classifiers", "dir_or_notebook", timestamp=None)

    from autograder.commands.autograde import autograde
    from autograder.instance import grades_table
    summary = autograde(inst, "01_linear_classifiers", students=None, workers=2,
                        cluster=None,          # "local": a dask LocalCluster of `workers` processes
                        scheduler=None,        # "tcp://host:port": a running Dask scheduler
                        force=False, progress=True, cell_timeout=30, notebook_timeout=None,
                        warm_kernels=True)     # -> Summary(graded, skipped, failed, seconds, records)
    grades_table(inst, unit)                   # [{student, score, max_score, tasks: {task: (score, max)}}]

    from autograder.feedback import feedback, export
    feedback(inst, unit)  -> [html paths];  export(inst, [unit], to=None) -> csv path

    from autograder.build import build, check_release      # course build / course build --check
    from autograder.pipeline.worker import grade_submission, GradeJob  # the picklable per-submission worker function

Modules: course (root, units), build (release), instance (course instance),
worker (one submission, in a worker process), executors (process pool / Dask),
grading (the parallel, resumable run and its single gradebook writer),
kernels (warm kernel pool), feedback (HTML + CSV), synth (synthetic
submissions), demo, cli.  ``collect.py`` (another engineer's) may define
``register(subparsers, inst_opts)`` to add ``course collect``.
"""
