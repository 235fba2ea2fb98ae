"""The one exception type whose message is shown to users as a single line."""


class StudyError(Exception):
    """Bad input or an unmeetable request: the message names the problem and the fix."""
