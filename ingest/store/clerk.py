"""The clerk's actions, one import for the CLI and the web console.

Every function takes the loaded :class:`~ingest.core.config.Config`, an *actor*
(who acts: ``命令行`` for the CLI, the user name in the console), does one thing,
writes the audit log in the same transaction, and returns the Chinese sentence
of what was done. Every expected failure is a :class:`ClerkActionError` whose
message is shown as is.

- :func:`assign_attachment` / :func:`undo_assignment` — an attachment belongs to a unit
- :func:`dismiss_attachment` / :func:`undo_dismissal` — an attachment is no form of ours
- :func:`record_paper` — paper copies of several annexes, or ``undo``
- :func:`add_file` — a form that came by QQ or USB stick enters like a mailed one
- :func:`stored_file` / :func:`save_copy` — the stored file under its decoded name
"""

from ingest.store.clerk_base import DEFAULT_ACTOR, ClerkActionError
from ingest.store.decisions import (
    assign_attachment,
    dismiss_attachment,
    undo_assignment,
    undo_dismissal,
)
from ingest.store.files import StoredFile, save_copy, stored_file
from ingest.store.manual import add_file
from ingest.store.paper import record_paper

__all__ = [
    "DEFAULT_ACTOR",
    "ClerkActionError",
    "StoredFile",
    "add_file",
    "assign_attachment",
    "dismiss_attachment",
    "record_paper",
    "save_copy",
    "stored_file",
    "undo_assignment",
    "undo_dismissal",
]
