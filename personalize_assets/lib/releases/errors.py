"""The one error type for a release whose archive or tables cannot be used as they are."""


class ReleaseError(ValueError):
    """Bad release content: says which file, where, what was found and what to do.

    Permanent: fetching or reading the same bytes again gives the same answer.
    """
