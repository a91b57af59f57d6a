"""SQLAlchemy 2.0 models of the item bank, one module per domain."""

from .attempt import (
    ATTEMPT_TRANSITIONS,
    Attempt,
    AttemptExtension,
    AttemptState,
    Response,
    SeenItem,
)
from .base import Base, UtcDateTime
from .calibration import CalibrationJob, JobState
from .certificate import AuditLog, Certificate, CertificateRoute
from .exam import Assembly, Assignment, AssignmentCompletion, Exam, ExamKind, exam_slot
from .item import (
    ITEM_TRANSITIONS,
    ImportDraft,
    IrtModel,
    Item,
    ItemEnemy,
    ItemExposure,
    ItemImage,
    ItemParameters,
    ItemStatus,
    PoolVersion,
    entry_status,
    parameters_set_by,
    validate_item_fields,
)
from .people import (
                     SERVICE_SCOPES,
                     Enrolment,
                     LoginAttempt,
                     Participant,
                     ServiceToken,
                     ServiceTokenUse,
                     StaffRole,
                     StaffUser,
                     validate_nip,
)
from .program import ContentTag, Materi, Program, ProgramLogo, ProgramSettings

# Every string and integer column refuses what it cannot hold (registered on import).
from . import limits  # noqa: E402,F401  isort: skip

__all__ = [
    "ATTEMPT_TRANSITIONS", "ITEM_TRANSITIONS", "SERVICE_SCOPES",
    "Assembly", "Assignment", "AssignmentCompletion",
    "Attempt", "AttemptExtension", "AttemptState", "AuditLog", "Base", "CalibrationJob",
    "Certificate", "CertificateRoute", "JobState",
    "ContentTag", "Enrolment", "Exam", "ExamKind", "ImportDraft", "IrtModel", "Item",
    "ItemEnemy", "ItemExposure", "ItemImage", "ItemParameters", "ItemStatus", "LoginAttempt",
    "Materi",
    "Participant", "PoolVersion", "Program", "ProgramLogo", "ProgramSettings", "Response",
    "SeenItem", "ServiceToken", "ServiceTokenUse", "StaffRole", "StaffUser", "UtcDateTime",
    "entry_status",
    "exam_slot", "parameters_set_by", "validate_item_fields", "validate_nip",
]
