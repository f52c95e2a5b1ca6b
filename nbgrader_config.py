# nbgrader configuration for working on the course in this repository
# (`make lab`: assignment list, validate, formgrader; `course build`).
# solutions/ is nbgrader's source directory, notebooks/assignments/ its release
# directory. A course instance (gradebook, submissions, feedback) lives in
# ./instance/, outside the tracked tree.
import os

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)
_here = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = _here
c.CourseDirectory.course_id = "dl-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks/assignments"
c.CourseDirectory.submitted_directory = "instance/submitted"
c.CourseDirectory.autograded_directory = "instance/autograded"
c.CourseDirectory.feedback_directory = "instance/feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_here, "instance", "gradebook.db")
c.Exchange.root = os.path.join(_here, "instance", "exchange")
