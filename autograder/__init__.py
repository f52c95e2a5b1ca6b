"""The course's grading machinery and its ``course`` CLI (``autograder.cli:main``).

nbgrader is the engine (build, checksums, restoring hidden tests, gradebook);
this package adds what it lacks: parallel / distributed grading, limits,
resume, progress, redacted feedback, a release check and a demo.

Python API (for ``bench/`` and tests)::

    from autograder.course import Course            # Course.find(root=None): the checkout; .units()
    from autograder.instance import Instance        # Instance(root, db_url=None, course=None)
    inst = Instance("instance", db_url=None).init(["01_linear_classifiers"])   # dirs + gradebook + register
    inst.add_student("s001", first_name="Ada", last_name="Lovelace", email=None)
    inst.import_submission("s001", "01_linear_classifiers", "dir_or_notebook", timestamp=None)

    from autograder.commands.autograde import autograde
    from autograder.options import RunOptions       # every setting of a run, each default once
    summary = autograde(inst, "01_linear_classifiers", students=None,
                        options=RunOptions(workers=2, cell_timeout=30))   # or keyword changes: workers=2
    # -> Summary(graded, skipped, failed, seconds, records)
    from autograder.instance import grades_table
    grades_table(inst, unit)                   # [{student, score, max_score, tasks: {task: (score, max)}}]

    from autograder.commands.build import build, check_release      # course build / course build --check
    from autograder.pipeline.worker import grade_submission          # one submission, in a worker process

The layers (commands -> pipeline -> runtime, shared vocabulary at the top) are drawn in
``docs/ARCHITECTURE.md``.
"""
